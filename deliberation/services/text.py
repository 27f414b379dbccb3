"""What any stored text must be: characters a database can hold and a reader can see."""

import re

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
