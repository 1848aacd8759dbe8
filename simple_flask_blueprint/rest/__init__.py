"""The Flask side of the blueprint: the factory, and the response helpers in .responses."""

from .blueprint import make_blueprint

__all__ = ["make_blueprint"]
