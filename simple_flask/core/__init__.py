"""Pure logic of the root service: no web framework is imported here."""

from simple_flask_blueprint.core import InvalidName

from .greeting import greet

__all__ = ["InvalidName", "greet"]
