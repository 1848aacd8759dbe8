"""The servers the suite compares, and the routes each one is loaded on."""

from dataclasses import dataclass

GREETING = "/Kalimaha/"
STATUS = "/status/418"
# What a correct answer on each route carries.
EXPECTED_STATUS = {GREETING: 200, STATUS: 418}


@dataclass(frozen=True)
class Target:
    """One benchmarked server: how to run it, which routes to load, what it installs."""

    name: str
    label: str
    # Module run as `python -m MODULE`; None runs the service's own start.py.
    module: str | None
    routes: tuple[str, ...]
    # The distributions whose installed closure the server needs at run time.
    distributions: tuple[str, ...]
    # Runs from a virtual environment of its own (see benchmarks/venvs.py).
    own_venv: bool = False


BARE = Target("bare", "bare WSGI (limit)", "benchmarks.servers.bare", (GREETING,), ("waitress",))
FLASK = Target(
    "flask",
    "minimal Flask",
    "benchmarks.servers.minimal_flask",
    (GREETING,),
    ("Flask", "waitress"),
)
HTTPBIN = Target(
    "httpbin",
    "httpbin",
    "benchmarks.servers.httpbin_app",
    (STATUS,),
    ("httpbin", "waitress"),
    own_venv=True,
)
SERVICE = Target("service", "simple_flask", None, (GREETING, STATUS), ("simple-flask",))

TARGETS: tuple[Target, ...] = (BARE, FLASK, HTTPBIN, SERVICE)
BY_NAME = {target.name: target for target in TARGETS}
# What each route's ratios are taken against.
BASELINE = {GREETING: FLASK.name, STATUS: HTTPBIN.name}
