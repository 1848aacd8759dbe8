"""What the instruction counts measure: each case (a server, a route, a setting) and the ratios."""

from dataclasses import dataclass, field

from ..targets import BARE, FLASK, GREETING, HTTPBIN, SEQUENCE, SERVICE, STATUS, Target


@dataclass(frozen=True)
class Case:
    """One measured server, route and configuration."""

    name: str
    label: str
    target: Target
    route: str
    # Environment variables on top of the production defaults.
    settings: dict[str, str] = field(default_factory=dict)


CASES = (
    Case("bare", BARE.label, BARE, GREETING),
    Case("flask", FLASK.label, FLASK, GREETING),
    Case("service", SERVICE.label, SERVICE, GREETING),
    Case(
        "service-no-log",
        f"{SERVICE.label}, access log off",
        SERVICE,
        GREETING,
        {"SIMPLE_FLASK_ACCESS_LOG": "0"},
    ),
    Case("httpbin", HTTPBIN.label, HTTPBIN, STATUS),
    Case("service-status", SERVICE.label, SERVICE, STATUS),
    Case("service-sequence", f"{SERVICE.label}, memory store", SERVICE, SEQUENCE),
)
BY_NAME = {case.name: case for case in CASES}
# (what, numerator, denominator, goal): the numerator is the alternative, so
# that higher is better, as with the suite's throughput ratios.
RATIOS = (
    (f"GET {GREETING}, minimal Flask / simple_flask", "flask", "service", ">= 0.9"),
    (f"GET {STATUS}, httpbin / simple_flask", "httpbin", "service-status", ">= 1.7"),
    # A sequence request costs no more than a greeting.
    (f"GET {SEQUENCE} / GET {GREETING}, simple_flask", "service", "service-sequence", ">= 1.0"),
)
