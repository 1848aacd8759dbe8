"""Serving the app: waitress and its internals, the health probe, the command line."""
