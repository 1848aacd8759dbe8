"""Serve a WSGI app with waitress, with the options the benchmark passes in the environment."""

import json
import os

# The benchmark computes these from simple_flask's production Settings, so that
# every server runs with exactly the options the service runs with.
OPTIONS_VARIABLE = "BENCH_WAITRESS_OPTIONS"


def serve(app) -> None:
    """Serve `app` with waitress until the process is stopped."""
    import waitress

    waitress.serve(app, **json.loads(os.environ[OPTIONS_VARIABLE]))
