"""Run the command line as `python -m simple_flask`."""

from .cli import main

if __name__ == "__main__":
    main()
