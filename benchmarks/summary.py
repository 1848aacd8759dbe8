"""A wrk run's results as medians and ratios, and the service's targets checked against them."""

import statistics

from .goals import meets
from .suite import Plan, Results
from .targets import BASELINE, FLASK, GREETING, SERVICE, STATUS

MIB = 1024 * 1024


def _median(values):
    return statistics.median(values) if values else None


def _paired_ratio(values, baseline):
    """Median of the round-by-round ratios: each pair was measured side by side."""
    pairs = [a / b for a, b in zip(values, baseline, strict=False) if b]
    return round(_median(pairs), 3) if pairs else None


def _load_entry(results: Results, key: tuple[str, str, int]) -> dict[str, object]:
    """Return the figures of one server, route and width: medians, ratios, every round."""
    server, route, connections = key
    runs = results.loads[key]
    entry = {
        "server": server,
        "route": route,
        "connections": connections,
        "baseline": BASELINE[route] if server != BASELINE[route] else None,
        "answered": results.answered.get((server, route)),
        "rps": round(_median([r.rps for r in runs]), 1),
        "p50_ms": round(_median([r.p50_ms for r in runs]), 3),
        "p99_ms": round(_median([r.p99_ms for r in runs]), 3),
        "non_2xx": sum(r.non_2xx for r in runs),
        "socket_errors": sum(r.socket_errors for r in runs),
        "rounds": [r.as_dict() for r in runs],
    }
    base = results.loads.get((BASELINE[route], route, connections))
    if base and entry["baseline"]:
        for figure in ("rps", "p50_ms", "p99_ms"):
            ratio = _paired_ratio(
                [getattr(r, figure) for r in runs], [getattr(b, figure) for b in base]
            )
            entry[f"{figure.removesuffix('_ms')}_ratio"] = ratio
    return entry


def _server_entry(results: Results, name: str, label: str) -> dict[str, object]:
    """Return one server's cold start, memory and installed size, each against Flask's."""
    server: dict[str, object] = {"label": label, "failed": results.failures.get(name)}
    starts = results.cold_starts.get(name, [])
    if starts:
        server["cold_start_ms"] = round(_median(starts) * 1000, 1)
        server["cold_start_samples_ms"] = [round(s * 1000, 1) for s in starts]
        if name != FLASK.name:
            flask_starts = results.cold_starts.get(FLASK.name, [])
            server["cold_start_ratio"] = _paired_ratio(starts, flask_starts)
    samples = results.memory.get(name)
    if samples and len(samples) == 4:
        server["memory_samples"] = [{"requests": n, "rss_kib": kib} for n, kib in samples]
        server["rss_mib"] = round(samples[2][1] * 1024 / MIB, 2)
        server["rss_growth_mib"] = round((samples[3][1] - samples[1][1]) * 1024 / MIB, 2)
    size = results.sizes.get(name)
    if size:
        server["installed_bytes"] = size["bytes"]
        server["installed_distributions"] = size["distributions"]
        flask_size = results.sizes.get(FLASK.name, {}).get("bytes")
        if flask_size and name != FLASK.name:
            server["installed_ratio"] = round(size["bytes"] / flask_size, 3)
    return server


def summarize(plan: Plan, results: Results, meta: dict[str, object]) -> dict[str, object]:
    """Return the run as one JSON-ready dict: medians, ratios, the targets and every sample."""
    loads = [_load_entry(results, key) for key in results.loads]
    servers = {
        target.name: _server_entry(results, target.name, target.label) for target in plan.targets
    }
    return {
        "meta": meta,
        "loads": loads,
        "servers": servers,
        "targets": targets(loads, servers),
    }


def _find(loads, server, route, connections):
    for entry in loads:
        if (entry["server"], entry["route"], entry["connections"]) == (server, route, connections):
            return entry
    return None


def targets(loads, servers) -> list[dict[str, object]]:
    """Return the service's targets with what this run measured against each."""
    service = servers.get(SERVICE.name, {})
    # (what, figure measured or None, goal, whether the figure measures what it should)
    measured = []
    for route, goal, baseline in (
        (GREETING, ">= 0.9", "minimal Flask"),
        (STATUS, ">= 1.2", "httpbin"),
    ):
        for connections in (8, 64):
            entry = _find(loads, SERVICE.name, route, connections) or {}
            what = f"GET {route} rps at {connections} connections, x {baseline}"
            # A status route answered with anything but 418 measured something else.
            valid = route != STATUS or entry.get("answered") == 418
            measured.append((what, entry.get("rps_ratio"), goal, valid))
    p99 = (_find(loads, SERVICE.name, GREETING, 64) or {}).get("p99_ratio")
    cold_start = service.get("cold_start_ratio")
    growth = service.get("rss_growth_mib")
    measured += [
        (f"GET {GREETING} p99 latency at 64 connections, x minimal Flask", p99, "<= 1.25", True),
        ("cold start to first answer, x minimal Flask", cold_start, "<= 1.2", True),
        ("RSS growth from 1/3 to 3/3 of the requests, MiB", growth, "< 2", True),
    ]
    return [
        {
            "target": what,
            "measured": value,
            "goal": goal,
            "met": None if value is None else valid and meets(value, goal),
        }
        for what, value, goal, valid in measured
    ]
