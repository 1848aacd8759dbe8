"""The root service's greeting text."""

from simple_flask_blueprint.core import validate_name


def greet(name: str | None = None) -> str:
    """Return the root greeting, addressed to `name` when one is given."""
    if name is None:
        return "Hallo from CORE!"
    return f"Hallo {validate_name(name)} from CORE!"
