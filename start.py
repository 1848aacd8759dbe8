"""Container entry point: build the app with create_app() and serve it with waitress.

HOST (default 0.0.0.0), PORT (default 8080) and the SIMPLE_FLASK_* variables
configure it; a bad value stops it with exit status 2 and one line on stderr.
SIGTERM or SIGINT stops it gracefully: new connections are refused, requests
in flight get SIMPLE_FLASK_SHUTDOWN_GRACE seconds to finish, and it exits 0.
It handles both signals itself, so it works as PID 1 of a container.
"""

from simple_flask.server.serving import exit_process, load_settings_or_exit, serve

if __name__ == "__main__":
    exit_process(serve(load_settings_or_exit()))
