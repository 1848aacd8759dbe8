"""Turn a run's results into medians and ratios, and write them as a table, JSON and a plot."""

import json
import os
import platform
import statistics
import subprocess
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, distributions, version
from pathlib import Path

from .process import server_options
from .suite import Plan, Results
from .targets import BASELINE, EXPECTED_STATUS, FLASK, GREETING, SEQUENCE, SERVICE, STATUS

MIB = 1024 * 1024


def _median(values):
    return statistics.median(values) if values else None


def _paired_ratio(values, baseline):
    """Median of the round-by-round ratios: each pair was measured side by side."""
    pairs = [a / b for a, b in zip(values, baseline, strict=False) if b]
    return round(_median(pairs), 3) if pairs else None


def versions(venv_path: list[str] | None = None) -> dict[str, str | None]:
    """Return the versions of Python and the served distributions (httpbin's from `venv_path`)."""
    found: dict[str, str | None] = {}
    for name in ("Flask", "Werkzeug", "waitress", "flask-cors", "simple-flask"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    if venv_path:
        for dist in distributions(path=venv_path):
            if dist.metadata["Name"].lower() == "httpbin":
                found["httpbin"] = dist.version
    found["python"] = platform.python_version()
    return found


def commit() -> str | None:
    """Return the checkout's short commit, with "+modified" if the served code differs from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
    )
    # The servers run from the work tree: say so when it differs from the commit.
    modified = subprocess.run(
        [
            "git",
            "diff",
            "--quiet",
            "HEAD",
            "--",
            "simple_flask",
            "simple_flask_blueprint",
            "start.py",
        ],
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    return (head.stdout.strip() + ("+modified" if modified.returncode == 1 else "")) or None


def machine() -> dict[str, object]:
    """Return the CPU model, the number of cores and the operating system."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
    }


def waitress() -> dict[str, object]:
    """Return the waitress options every server runs with, the service's production ones."""
    return {key: value for key, value in server_options(0).items() if key not in ("host", "port")}


def metadata(plan: Plan, results: Results, venv_path: list[str] | None) -> dict[str, object]:
    """Return when, on what and with which versions the run was taken."""
    found = versions(venv_path)
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    found["wrk"] = (wrk.stdout or wrk.stderr).split()[1] if (wrk.stdout or wrk.stderr) else None
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            **machine(),
            "server_cpu": results.cpus[0],
            "wrk_cpu": results.cpus[1],
        },
        "versions": found,
        "commit": commit(),
        "plan": {
            "servers": [t.name for t in plan.targets],
            "rounds": plan.rounds,
            "duration_s": plan.duration,
            "connections": list(plan.connections),
            "warmup_s": plan.warmup,
            "starts": plan.starts,
            "memory_requests": plan.memory_requests,
            "memory_connections": plan.memory_connections,
        },
        # Every server ran with these, the service's production options.
        "waitress": waitress(),
        "seconds": results.seconds,
    }


def summarize(plan: Plan, results: Results, meta: dict[str, object]) -> dict[str, object]:
    """Return the run as one JSON-ready dict: medians, ratios, the targets and every sample."""
    loads = []
    for (server, route, connections), runs in results.loads.items():
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
            entry["rps_ratio"] = _paired_ratio([r.rps for r in runs], [b.rps for b in base])
            entry["p50_ratio"] = _paired_ratio([r.p50_ms for r in runs], [b.p50_ms for b in base])
            entry["p99_ratio"] = _paired_ratio([r.p99_ms for r in runs], [b.p99_ms for b in base])
        loads.append(entry)

    servers = {}
    flask_starts = results.cold_starts.get(FLASK.name, [])
    flask_size = results.sizes.get(FLASK.name, {}).get("bytes")
    for target in plan.targets:
        name = target.name
        starts = results.cold_starts.get(name, [])
        server: dict[str, object] = {"label": target.label, "failed": results.failures.get(name)}
        if starts:
            server["cold_start_ms"] = round(_median(starts) * 1000, 1)
            server["cold_start_samples_ms"] = [round(s * 1000, 1) for s in starts]
            if name != FLASK.name:
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
            if flask_size and name != FLASK.name:
                server["installed_ratio"] = round(size["bytes"] / flask_size, 3)
        servers[name] = server

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
    checks = []

    def check(what, value, goal, met):
        checks.append(
            {"target": what, "measured": value, "goal": goal, "met": None if value is None else met}
        )

    for connections in (8, 64):
        entry = _find(loads, SERVICE.name, GREETING, connections)
        value = entry and entry.get("rps_ratio")
        check(
            f"GET {GREETING} rps at {connections} connections, x minimal Flask",
            value,
            ">= 0.9",
            value is not None and value >= 0.9,
        )
    for connections in (8, 64):
        entry = _find(loads, SERVICE.name, STATUS, connections)
        value = entry and entry.get("rps_ratio")
        ok = entry is not None and entry["answered"] == 418
        check(
            f"GET {STATUS} rps at {connections} connections, x httpbin",
            value,
            ">= 1.2",
            ok and value is not None and value >= 1.2,
        )
    entry = _find(loads, SERVICE.name, GREETING, 64)
    value = entry and entry.get("p99_ratio")
    check(
        f"GET {GREETING} p99 latency at 64 connections, x minimal Flask",
        value,
        "<= 1.25",
        value is not None and value <= 1.25,
    )
    value = servers.get(SERVICE.name, {}).get("cold_start_ratio")
    check(
        "cold start to first answer, x minimal Flask",
        value,
        "<= 1.2",
        value is not None and value <= 1.2,
    )
    value = servers.get(SERVICE.name, {}).get("rss_growth_mib")
    check(
        "RSS growth from 1/3 to 3/3 of the requests, MiB",
        value,
        "< 2",
        value is not None and value < 2,
    )
    return checks


def _count(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}"


def _ratio(value) -> str:
    return f" ({value:.2f}x)" if value is not None else ""


def table(summary: dict[str, object]) -> str:
    """Return the run as Markdown tables: loads, then per-server figures, then targets."""
    plan = summary["meta"]["plan"]
    lines = []
    widths = plan["connections"]
    wide = 64 if 64 in widths else widths[-1]
    lines.append(
        "| route | server | "
        + " | ".join(f"rps @{c}" for c in widths)
        + f" | p50 @{wide} | p99 @{wide} |"
    )
    lines.append("|---|---|" + "---:|" * (len(widths) + 2))
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
    lines.append("")

    legs = plan["memory_requests"] // 3
    lines.append(
        f"| server | cold start | RSS after {_count(2 * legs)} requests"
        f" | RSS growth {_count(legs)} -> {_count(3 * legs)} | installed size |"
    )
    lines.append("|---|---:|---:|---:|---:|")
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
    lines.append("")

    lines.append("| target | measured | goal | met |")
    lines.append("|---|---:|---:|:---:|")
    for check in summary["targets"]:
        value = "" if check["measured"] is None else f"{check['measured']:g}"
        met = {True: "yes", False: "**no**", None: "n/a"}[check["met"]]
        lines.append(f"| {check['target']} | {value} | {check['goal']} | {met} |")
    return "\n".join(lines) + "\n"


def _expected(route: str, server: str) -> int:
    # The bare callable answers 200 to everything by design.
    return 200 if server == "bare" else EXPECTED_STATUS[route]


def stamp(meta: dict[str, object]) -> str:
    """Return one line saying when, where and with what a run was taken."""
    versions = meta["versions"]
    machine = meta["machine"]
    names = ("python", "Flask", "Werkzeug", "waitress", "flask-cors", "httpbin", "wrk")
    parts = ", ".join(f"{name} {versions[name]}" for name in names if versions.get(name))
    pinned = (
        f"server on CPU {machine['server_cpu']}, wrk on CPU {machine['wrk_cpu']}"
        if machine["server_cpu"] is not None
        else "not pinned"
    )
    commit = f" @ {meta['commit']}" if meta.get("commit") else ""
    return (
        f"{meta['date']} · {machine['cpu']}, {machine['cores']} cores, {machine['system']},"
        f" {pinned} · {parts} · simple_flask {versions.get('simple-flask')}{commit}"
    )


def plot(summary: dict[str, object], path: Path) -> None:
    """Draw throughput and p99 latency against connections, one line per server and route."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (left, right) = pyplot.subplots(1, 2, figsize=(12, 5.2))
    series: dict[tuple[str, str], list[dict]] = {}
    for entry in summary["loads"]:
        series.setdefault((entry["server"], entry["route"]), []).append(entry)
    # One colour per server; the status route dashed, the sequence route dotted.
    colours = {name: f"C{i}" for i, name in enumerate(summary["meta"]["plan"]["servers"])}
    for (server, route), entries in series.items():
        entries.sort(key=lambda e: e["connections"])
        label = f"{summary['servers'][server]['label']} {route}"
        line = {STATUS: "--", SEQUENCE: ":"}.get(route, "-")
        style = {"linestyle": line, "color": colours[server]}
        widths = [e["connections"] for e in entries]
        left.plot(widths, [e["rps"] for e in entries], marker="o", label=label, **style)
        right.plot(widths, [e["p99_ms"] for e in entries], marker="o", label=label, **style)
    widths = summary["meta"]["plan"]["connections"]
    for axes, title, unit in (
        (left, "Throughput", "requests per second"),
        (right, "p99 latency", "milliseconds"),
    ):
        axes.set_title(title)
        axes.set_xlabel("concurrent connections")
        axes.set_ylabel(unit)
        axes.set_xscale("log", base=2)
        axes.set_xticks(widths, [str(w) for w in widths])
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    figure.suptitle("simple_flask against the alternatives, all on waitress with the same options")
    figure.text(0.5, 0.01, stamp(summary["meta"]), ha="center", fontsize=7, wrap=True)
    figure.tight_layout(rect=(0, 0.05, 1, 0.95))
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def write(summary: dict[str, object], out: Path) -> dict[str, Path]:
    """Write the JSON, the Markdown table and the plot into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "benchmarks.json",
        "table": out / "benchmarks.md",
        "plot": out / "benchmarks.png",
    }
    paths["json"].write_text(json.dumps(summary, indent=2) + "\n")
    paths["table"].write_text(table(summary) + "\n" + stamp(summary["meta"]) + "\n")
    plot(summary, paths["plot"])
    return paths
