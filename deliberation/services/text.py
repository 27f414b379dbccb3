"""What any stored text must be: characters a database can hold and a reader can see."""

import re
import unicodedata

from deliberation.errors import InvalidInput

# Control characters other than tab, newline and carriage return (which real statements,
# reasons and Polis exports hold): C0, DEL and C1. PostgreSQL refuses NUL outright; the rest
# are invisible and only ever there to deceive a reader or break a display.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Half of a UTF-16 pair with no other half (JSON's "\ud800"): no encoding can store it.
_SURROGATE = re.compile("[\ud800-\udfff]")


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
