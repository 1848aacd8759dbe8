"""The Flask side of the blueprint: the factory and its response helpers."""

from .blueprint import make_blueprint
from .responses import negotiated, nosniff, problem, status_phrase, with_phrase

__all__ = ["make_blueprint", "negotiated", "nosniff", "problem", "status_phrase", "with_phrase"]
