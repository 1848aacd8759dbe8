"""A wrk run's summary as Markdown: the loads, each server's figures, then the targets."""

from .goals import MET
from .summary import MIB
from .targets import EXPECTED_STATUS, GREETING, SEQUENCE


def _count(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}"


def _ratio(value) -> str:
    return f" ({value:.2f}x)" if value is not None else ""


def _expected(route: str, server: str) -> int:
    # The bare callable answers 200 to everything by design.
    return 200 if server == "bare" else EXPECTED_STATUS[route]


def loads_table(summary: dict[str, object]) -> list[str]:
    """Return the rows of rps and latency, a row per route and server, a column per width."""
    plan = summary["meta"]["plan"]
    widths = plan["connections"]
    wide = 64 if 64 in widths else widths[-1]
    lines = [
        "| route | server | "
        + " | ".join(f"rps @{c}" for c in widths)
        + f" | p50 @{wide} | p99 @{wide} |",
        "|---|---|" + "---:|" * (len(widths) + 2),
    ]
    order = {name: i for i, name in enumerate(plan["servers"])}
    rows = {}
    for entry in summary["loads"]:
        rows.setdefault((entry["route"], entry["server"]), {})[entry["connections"]] = entry
    for route, server in sorted(rows, key=lambda key: (key[0] != GREETING, order[key[1]])):
        by_width = rows[(route, server)]
        label = summary["servers"][server]["label"]
        answered = next(iter(by_width.values()))["answered"]
        if answered is not None and answered != _expected(route, server):
            label += f" (answered {answered}!)"
        cells = [
            f"{by_width[c]['rps']:,.0f}{_ratio(by_width[c].get('rps_ratio'))}"
            if c in by_width
            else ""
            for c in widths
        ]
        at = by_width.get(wide)
        cells.append(f"{at['p50_ms']:.2f} ms{_ratio(at.get('p50_ratio'))}" if at else "")
        cells.append(f"{at['p99_ms']:.2f} ms{_ratio(at.get('p99_ratio'))}" if at else "")
        lines.append(f"| `{route}` | {label} | " + " | ".join(cells) + " |")
    lines.append("")
    against = "Ratios: GET /Kalimaha/ against the minimal Flask app, /status/418 against httpbin"
    if any(route == SEQUENCE for route, _ in rows):
        against += ", a sequence with the Redis store against the memory store"
    lines.append(against + "; medians of the ratios of each round.")
    return lines


def servers_table(summary: dict[str, object]) -> list[str]:
    """Return the rows of cold start, memory and installed size, a row per server."""
    plan = summary["meta"]["plan"]
    legs = plan["memory_requests"] // 3
    lines = [
        f"| server | cold start | RSS after {_count(2 * legs)} requests"
        f" | RSS growth {_count(legs)} -> {_count(3 * legs)} | installed size |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in plan["servers"]:
        server = summary["servers"][name]
        if server.get("failed"):
            lines.append(f"| {server['label']} | failed: {server['failed']} | | | |")
            continue
        cells = [
            f"{server['cold_start_ms']:.0f} ms{_ratio(server.get('cold_start_ratio'))}"
            if "cold_start_ms" in server
            else "",
            f"{server['rss_mib']:.1f} MiB" if "rss_mib" in server else "",
            f"{server['rss_growth_mib']:+.2f} MiB" if "rss_growth_mib" in server else "",
            f"{server['installed_bytes'] / MIB:.1f} MiB{_ratio(server.get('installed_ratio'))}"
            if "installed_bytes" in server
            else "",
        ]
        lines.append(f"| {server['label']} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Ratios against the minimal Flask app.")
    return lines


def table(summary: dict[str, object]) -> str:
    """Return the run as Markdown tables: loads, then per-server figures, then targets."""
    lines = [*loads_table(summary), "", *servers_table(summary), ""]
    lines.append("| target | measured | goal | met |")
    lines.append("|---|---:|---:|:---:|")
    for check in summary["targets"]:
        value = "" if check["measured"] is None else f"{check['measured']:g}"
        lines.append(f"| {check['target']} | {value} | {check['goal']} | {MET[check['met']]} |")
    return "\n".join(lines) + "\n"
