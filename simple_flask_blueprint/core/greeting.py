"""The blueprint's greeting text."""

from .names import validate_name


def greet(name: str | None = None) -> str:
    """Return the blueprint's greeting, addressed to `name` when one is given."""
    if name is None:
        return "Hallo!"
    return f"Hallo {validate_name(name)}!"
