"""What any stored text must be: characters a database can hold and a reader can see."""

import re
import unicodedata
from functools import cache

from deliberation.errors import InvalidInput

# Control characters other than tab, newline and carriage return (which real statements,
# reasons and Polis exports hold): C0, DEL and C1. PostgreSQL refuses NUL outright; the rest
# are invisible and only ever there to deceive a reader or break a display.
_CONTROL_RANGES = ((0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F))
# Half of a UTF-16 pair with no other half (JSON's "\ud800"): no encoding can store it.
_SURROGATE_RANGES = ((0xD800, 0xDFFF),)


def _character_class(ranges: tuple[tuple[int, int], ...]) -> str:
    """The inside of a regex character class (``[...]``) for these code point ranges, escaped
    as both Python and the ECMAScript regexes of JSON Schema read them."""

    def escaped(code: int) -> str:
        return f"\\u{code:04X}"

    return "".join(
        escaped(low) if low == high else f"{escaped(low)}-{escaped(high)}" for low, high in ranges
    )


_CONTROL = re.compile(f"[{_character_class(_CONTROL_RANGES)}]")
_SURROGATE = re.compile(f"[{_character_class(_SURROGATE_RANGES)}]")


def text_refuse_unstorable(text: str, *, subject: str, field: str) -> None:
    """Refuse lone surrogates and control characters, naming the first one and where it is.

    ``subject`` begins the message: "A statement", "A reason".
    """
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        raise InvalidInput(
            f"{subject} must be valid text: this one holds a lone surrogate "
            f"(U+{ord(surrogate.group()):04X}).",
            field=field,
        )
    control = _CONTROL.search(text)
    if control is not None:
        raise InvalidInput(
            f"{subject} cannot contain control characters (U+{ord(control.group()):04X} at "
            f"character {control.start() + 1}).",
            field=field,
        )


def text_remove_unstorable(text: str) -> str:
    """``text`` without the characters text_refuse_unstorable refuses: for importers, which
    keep what they can of a record rather than refuse it."""
    return _CONTROL.sub("", _SURROGATE.sub("", text))


def text_is_visible(text: str) -> bool:
    """Whether ``text`` shows anything: some character that is neither spacing nor a format
    character (category Cf: zero-width spaces and joiners, direction marks and overrides,
    the byte order mark), which show nothing by themselves."""
    return any(
        not character.isspace() and unicodedata.category(character) != "Cf" for character in text
    )


@cache
def text_schema_patterns() -> tuple[str, str]:
    """JSON Schema patterns for the rules above, so an API schema can state them: any text
    text_refuse_unstorable accepts, and such a text that text_is_visible also accepts."""
    invisible: list[tuple[int, int]] = []
    # The Basic Multilingual Plane only: a pattern without ECMAScript's u flag cannot name
    # the characters beyond it (nor can generators such as schemathesis read one that does).
    # The few format characters out there (tags, hieroglyph and musical format controls)
    # are still refused by text_is_visible; the schema is silent about them.
    for code in range(0x10000):
        character = chr(code)
        if character.isspace() or unicodedata.category(character) == "Cf":
            if invisible and invisible[-1][1] == code - 1:
                invisible[-1] = (invisible[-1][0], code)
            else:
                invisible.append((code, code))
    # Lone surrogates are left out: no well-formed Unicode string holds one, so a pattern
    # need not exclude them (and schemathesis ignores a pattern that does).
    storable = f"[^{_character_class(_CONTROL_RANGES)}]"
    visible = f"[^{_character_class(_CONTROL_RANGES + tuple(invisible))}]"
    return f"^{storable}*$", f"^{storable}*{visible}{storable}*$"
