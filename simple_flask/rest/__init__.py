"""The HTTP side of the root service: the app factory and its blueprints."""

from .app import create_app

__all__ = ["create_app"]
