"""Run the command line as `python -m simple_flask`."""

from .server.cli import main

if __name__ == "__main__":
    main()
