"""The release of simple_flask: the one place the version is written (setup.py reads it here)."""

__version__ = "0.3.0"
