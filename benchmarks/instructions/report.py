"""The instruction counts' report: every run, the medians and ratios, as JSON and Markdown."""

import json
import statistics
from pathlib import Path

from .. import provenance, venvs
from ..goals import MET, meets
from .cases import RATIOS, Case
from .measure import Measured


def _entry(case: Case, measured: Measured) -> dict[str, object]:
    """Return one case's runs, their median and how far apart they are."""
    runs = measured.per_request.get(case.name, [])
    entry: dict[str, object] = {
        "name": case.name,
        "label": case.label,
        "route": case.route,
        "settings": case.settings,
        "failed": measured.failures.get(case.name),
        "runs": [round(value) for value in runs],
        "ir_per_request": round(statistics.median(runs)) if runs else None,
    }
    if len(runs) > 1:
        # (largest - smallest) / median: how far apart the runs are.
        entry["spread"] = round((max(runs) - min(runs)) / statistics.median(runs), 5)
    return entry


def summarize(
    cases: tuple[Case, ...], measured: Measured, meta: dict[str, object]
) -> dict[str, object]:
    """Return the measurement as one JSON-ready dict: every run, the medians and the ratios."""
    entries = [_entry(case, measured) for case in cases]
    found = {entry["name"]: entry for entry in entries}
    ratios = []
    for what, numerator, denominator, goal in RATIOS:
        top = found.get(numerator, {}).get("ir_per_request")
        bottom = found.get(denominator, {}).get("ir_per_request")
        value = round(top / bottom, 3) if top and bottom else None
        ratios.append(
            {
                "ratio": what,
                "numerator": numerator,
                "denominator": denominator,
                "measured": value,
                "goal": goal,
                "met": meets(value, goal),
            }
        )
    return {"meta": meta, "cases": entries, "ratios": ratios}


def metadata(requests: int, warmup: int, runs: int, httpbin_python: Path | None) -> dict:
    """Return when, on what and with which versions and counts the measurement was taken."""
    venv_path = [str(venvs.purelib(httpbin_python))] if httpbin_python else None
    found = provenance.versions(venv_path)
    found["valgrind"] = provenance.tool_version(["valgrind", "--version"], prefix="valgrind-")
    return {
        "date": provenance.now(),
        "machine": provenance.machine(),
        "versions": found,
        "commit": provenance.commit(),
        "requests": requests,
        "warmup": warmup,
        "runs": runs,
        # Every server ran with these, the service's production options.
        "waitress": provenance.waitress(),
    }


def table(summary: dict[str, object]) -> str:
    """Return the measurement as Markdown: a count per case, then the ratios."""
    meta = summary["meta"]
    lines = [
        "| route | server | instructions per request | runs | spread |",
        "|---|---|---:|---:|---:|",
    ]
    for entry in summary["cases"]:
        if entry["failed"]:
            failed = f"failed: {entry['failed']}"
            lines.append(f"| `{entry['route']}` | {entry['label']} | {failed} | | |")
            continue
        runs = " / ".join(f"{value:,}" for value in entry["runs"])
        spread = f"{100 * entry['spread']:.2f}%" if "spread" in entry else ""
        lines.append(
            f"| `{entry['route']}` | {entry['label']} | {entry['ir_per_request']:,}"
            f" | {runs} | {spread} |"
        )
    lines += [
        "",
        f"Instructions (callgrind Ir) of the whole server process per GET, over"
        f" {meta['requests']:,} keep-alive requests after {meta['warmup']} uncounted ones;"
        f" the median of {meta['runs']} run(s), each in a fresh process.",
        "",
        "| ratio | measured | goal | met |",
        "|---|---:|---:|:---:|",
    ]
    for ratio in summary["ratios"]:
        value = "" if ratio["measured"] is None else f"{ratio['measured']:.3f}"
        lines.append(f"| {ratio['ratio']} | {value} | {ratio['goal']} | {MET[ratio['met']]} |")
    return "\n".join(lines) + "\n"


def stamp(meta: dict[str, object]) -> str:
    """Return one line saying when, where and with what the counts were taken."""
    machine = meta["machine"]
    return provenance.stamp(meta, f"{machine['cpu']}, {machine['system']}", ("valgrind",))


def write(summary: dict[str, object], out: Path) -> list[Path]:
    """Write instructions.json and instructions.md into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    data, text = out / "instructions.json", out / "instructions.md"
    data.write_text(json.dumps(summary, indent=2) + "\n")
    text.write_text(table(summary) + "\n" + stamp(summary["meta"]) + "\n")
    return [data, text]
