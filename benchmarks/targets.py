"""The servers the suite compares, and the routes each one is loaded on."""

from dataclasses import dataclass

GREETING = "/Kalimaha/"
STATUS = "/status/418"
# A failure sequence of one entry under one key: every request takes the
# key's next attempt number from the store, the cost a sequence adds.
SEQUENCE = "/status/418?sequence=bench"
# What a correct answer on each route carries.
EXPECTED_STATUS = {GREETING: 200, STATUS: 418, SEQUENCE: 418}


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
    # Keeps its sequences in a redis-server the suite starts (simple_flask.testing.redis_server).
    redis: bool = False


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
SERVICE = Target("service", "simple_flask", None, (GREETING, STATUS, SEQUENCE), ("simple-flask",))
# The same service with SIMPLE_FLASK_STATE_URL pointing at a local Redis.
SERVICE_REDIS = Target(
    "service-redis", "simple_flask, Redis store", None, (SEQUENCE,), ("simple-flask",), redis=True
)

TARGETS: tuple[Target, ...] = (BARE, FLASK, HTTPBIN, SERVICE, SERVICE_REDIS)
BY_NAME = {target.name: target for target in TARGETS}
# What each route's ratios are taken against.
BASELINE = {GREETING: FLASK.name, STATUS: HTTPBIN.name, SEQUENCE: SERVICE.name}
