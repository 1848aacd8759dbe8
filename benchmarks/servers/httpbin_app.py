"""httpbin as installed from PyPI, whose /status/<code> route the status service competes with."""

from httpbin import app

if __name__ == "__main__":
    from .waitress_runner import serve

    serve(app)
