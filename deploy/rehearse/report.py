"""The rehearsal's report: what the load met in each phase, the restarts, the walks, the checks.

summarize() makes it one JSON-ready dict; format_report() a few lines of text.
"""

import math
from collections import Counter

from .load import KILL, PHASES, ROLLING, SEQUENCE_ENTRIES, SEQUENCE_WALK, Load


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summarize(
    load: Load,
    restarts: list[dict],
    logged: dict[int, Counter],
    passed_over: dict[str, int],
    limited: dict[str, int],
    topology: dict,
    duration: float,
) -> dict:
    """The report: what the load met in each phase, the restarts, the walks and the checks."""
    outcomes = load.outcomes
    by_phase: dict[str, dict[str, dict[str, int]]] = {}
    for phase in PHASES:
        by_phase[phase] = {}
        for method in ("GET", "POST"):
            sent = [o for o in outcomes if o.phase == phase and o.method == method]
            by_phase[phase][method] = {
                "requests": len(sent),
                "failures": sum(not o.ok for o in sent),
            }
    latencies = [o.latency * 1000 for o in outcomes] or [0.0]
    clients = sum(logged.values(), Counter())
    failed = [o for o in outcomes if not o.ok]
    report = {
        "topology": topology,
        "duration_s": round(duration, 1),
        "requests": len(outcomes),
        "failures": len(failed),
        "by_phase": by_phase,
        "failed_requests": [
            {"at_s": round(o.at, 2), "phase": o.phase, "method": o.method, "what": o.what}
            for o in failed[:20]
        ],
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
        },
        "restarts": restarts,
        "nginx_passed_over": passed_over,
        "nginx_limited": limited,
        "access_log": {
            "clients": dict(clients),
            "lines": sum(clients.values()),
            "by_replica": {str(number): dict(found) for number, found in logged.items()},
        },
    }
    walks = load.walks
    report["sequence"] = {
        "entries": list(SEQUENCE_ENTRIES),
        "requests_per_walk": SEQUENCE_WALK,
        "walks": len(walks),
        "in_order": sum(walk.in_order for walk in walks),
        "by_phase": {
            phase: {
                "walks": sum(phase in walk.phases for walk in walks),
                "in_order": sum(phase in walk.phases and walk.in_order for walk in walks),
            }
            for phase in PHASES
        },
        "across_replicas": sum(len(walk.replicas) >= 2 for walk in walks),
        "out_of_order": [
            {"key": walk.key, "phases": sorted(walk.phases), "answers": walk.answers}
            for walk in walks
            if not walk.in_order
        ][:10],
    }
    outside_kill = [walk for walk in walks if KILL not in walk.phases]
    addresses = set(topology["client_addresses"])
    report["checks"] = {
        "no GET failed during the rolling restart": by_phase[ROLLING]["GET"]["requests"] > 0
        and by_phase[ROLLING]["GET"]["failures"] == 0,
        # Each replica logged requests of the rehearsal, all from the clients'
        # addresses (none from nginx's), and every client was logged.
        "the replicas logged the clients' addresses": bool(logged)
        and all(found and set(found) <= addresses for found in logged.values())
        and set(clients) == addresses,
        # The load stays under the limits per client address: none refused.
        "nginx refused none of the load for its per-client limits": not any(limited.values()),
        # A walk in the kill window may skip an attempt: see docs/deploy.md.
        "every sequence walk outside the kill -9 window in order": bool(outside_kill)
        and all(walk.in_order for walk in outside_kill),
        "sequence walks crossed replicas": report["sequence"]["across_replicas"] > 0,
    }
    return report


def format_report(report: dict) -> str:
    """The report as a few lines of text."""
    topology = report["topology"]
    addresses = topology["client_addresses"]
    lines = [
        f"Rehearsal: nginx {topology['nginx']}, redis-server {topology['redis-server']}, "
        f"{topology['replicas']} replicas; {topology['client_threads']} client threads "
        f"(keep-alive, GET and POST in turn, {topology['work_ms']} ms of work each) and a "
        f"sequence walker, from {addresses[0]}-{addresses[-1]}, one address each; "
        f"{report['duration_s']} s",
        "",
        f"{'phase':<17}{'GET':>8}{'failed':>8}{'POST':>8}{'failed':>8}",
    ]
    for phase, methods in report["by_phase"].items():
        get_, post = methods["GET"], methods["POST"]
        lines.append(
            f"{phase:<17}{get_['requests']:>8}{get_['failures']:>8}"
            f"{post['requests']:>8}{post['failures']:>8}"
        )
    latency = report["latency_ms"]
    lines += [
        f"{'all':<17}{report['requests']:>8} requests, {report['failures']} failed",
        "",
        f"latency through nginx: p50 {latency['p50']} ms, p99 {latency['p99']} ms, "
        f"max {latency['max']} ms",
    ]
    for failure in report["failed_requests"]:
        lines.append(
            f"failed: {failure['method']} at {failure['at_s']} s ({failure['phase']}): "
            f"{failure['what']}"
        )
    for done in report["restarts"]:
        back = done["back_in_rotation_s"]
        lines.append(
            f"restart: replica {done['replica']} {done['signal']}, exit {done['exit_status']} "
            f"after {done['stopped_s']} s, ready {done['ready_s']} s after start, "
            + (f"back in rotation {back} s later" if back is not None else "not back in rotation")
        )
    if report["nginx_passed_over"]:
        counted = ", ".join(f"{kind} {n}" for kind, n in report["nginx_passed_over"].items())
        lines.append(f"nginx met at the replicas: {counted}")
    if any(report["nginx_limited"].values()):
        counted = ", ".join(f"{kind} {n}" for kind, n in report["nginx_limited"].items())
        lines.append(f"nginx refused for the per-client limits: {counted}")
    sequence = report["sequence"]
    lines.append(
        f"sequence walks ({','.join(map(str, sequence['entries']))}, "
        f"{sequence['requests_per_walk']} requests each): {sequence['walks']}, "
        f"{sequence['in_order']} in order, {sequence['across_replicas']} across 2+ replicas"
    )
    for walk in sequence["out_of_order"]:
        lines.append(f"out of order ({', '.join(walk['phases'])}): {walk['answers']}")
    logged = "; ".join(
        f"replica {number}: "
        + (", ".join(f"{address} {n}" for address, n in found.items()) or "none")
        for number, found in report["access_log"]["by_replica"].items()
    )
    lines.append(f"access logs, the rehearsal's lines by client address: {logged}")
    lines.append("")
    for check, held in report["checks"].items():
        lines.append(f"{'ok    ' if held else 'FAILED'} {check}")
    return "\n".join(lines)
