"""Pure greeting logic of the blueprint: no web framework is imported here."""

from .greeting import greet
from .names import MAX_NAME_LENGTH, MIN_NAME_LENGTH, InvalidName, validate_name

__all__ = ["MAX_NAME_LENGTH", "MIN_NAME_LENGTH", "InvalidName", "greet", "validate_name"]
