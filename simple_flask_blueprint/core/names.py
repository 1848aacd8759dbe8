"""The rule every greeted name must follow, kept free of any web framework."""

import unicodedata

from .problems import Problem

MIN_NAME_LENGTH = 1
MAX_NAME_LENGTH = 100


class InvalidName(Problem, ValueError):
    """A name broke one of the rules; the message says which (answered 400)."""


def validate_name(name: str) -> str:
    """Return `name` unchanged when it is 1 to 100 printable characters, else raise InvalidName."""
    if not MIN_NAME_LENGTH <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidName(
            f"name must be {MIN_NAME_LENGTH} to {MAX_NAME_LENGTH} characters long, got {len(name)}"
        )
    # Most names are printable throughout: one call checks every character.
    if name.isprintable():
        return name
    for position, char in enumerate(name):
        # str.isprintable() also refuses spaces other than U+0020 (category Zs);
        # those are spaces a person can type, so they are allowed.
        if not (char.isprintable() or unicodedata.category(char) == "Zs"):
            raise InvalidName(
                "name must hold printable characters only, "
                f"got U+{ord(char):04X} at position {position}"
            )
    return name
