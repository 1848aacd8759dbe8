"""The instruction-count mode of the benchmarks runs end to end and writes well-formed figures.

These tests check that the counts are counts and rank as they must, never how
large they are.
"""

import json

import pytest

from benchmarks.instructions.callgrind import total_ir
from benchmarks.instructions.cases import CASES
from benchmarks.instructions.measure import Measured
from benchmarks.instructions.report import summarize
from tests.support import ROOT, goal_met, require_programs, run_module


def test_the_total_is_read_from_callgrinds_output(tmp_path):
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("version: 1\nevents: Ir\n\nfn=(1) main\n3 5\n\ntotals: 1234\n")
    assert total_ir(dump) == 1234
    dump.write_text("events: Ir\nsummary: 99\n")
    assert total_ir(dump) == 99
    dump.write_text("events: Ir\n")
    with pytest.raises(RuntimeError, match="no totals"):
        total_ir(dump)


def test_ratios_put_the_alternative_over_the_service():
    measured = Measured(
        per_request={
            "flask": [700.0, 710.0],
            "service": [1000.0, 1000.0],
            "httpbin": [900.0],
            "service-status": [500.0],
        },
        failures={"bare": "RuntimeError: did not answer"},
    )
    summary = summarize(CASES, measured, {})
    cases = {entry["name"]: entry for entry in summary["cases"]}
    assert cases["flask"]["ir_per_request"] == 705
    assert cases["flask"]["spread"] == pytest.approx(10 / 705, abs=1e-5)
    assert cases["bare"]["failed"] and cases["bare"]["ir_per_request"] is None
    ratios = {ratio["denominator"]: ratio for ratio in summary["ratios"]}
    # Higher is better: the service costing fewer instructions gives a larger ratio.
    assert ratios["service"]["measured"] == 0.705
    assert ratios["service"]["met"] is False
    assert ratios["service-status"]["measured"] == 1.8
    assert ratios["service-status"]["met"] is True


@pytest.mark.slow
def test_the_smoke_run_counts_every_case(tmp_path):
    require_programs("valgrind", "callgrind_control", install="apt-get install valgrind")
    out = ["--out", str(tmp_path)]
    result = run_module("benchmarks", "--instructions", "--smoke", *out, timeout=280)

    summary = json.loads((tmp_path / "instructions.json").read_text())
    counts = {entry["name"]: entry["ir_per_request"] for entry in summary["cases"]}
    assert set(counts) == {case.name for case in CASES}
    for entry in summary["cases"]:
        assert entry["failed"] is None, entry
        assert entry["ir_per_request"] > 0, entry
    # The bare callable is the limit: any app on the same server does more per request.
    assert counts["bare"] == min(counts.values())
    for ratio in summary["ratios"]:
        # The alternative's count over the service's, met as the goal's text says.
        quotient = round(counts[ratio["numerator"]] / counts[ratio["denominator"]], 3)
        assert quotient > 0
        assert ratio["measured"] == quotient, ratio
        assert ratio["met"] is goal_met(quotient, ratio["goal"]), ratio
    assert summary["meta"]["versions"]["httpbin"]
    assert summary["meta"]["versions"]["valgrind"]

    # Each case's count went to stdout, and the whole table to a file.
    for case in CASES:
        assert f"| {case.label} | {counts[case.name]:,} |" in result.stdout
    assert "| ratio | measured | goal | met |" in result.stdout
    assert (tmp_path / "instructions.md").read_text().startswith("| route | server |")


def test_the_committed_counts_cover_every_case():
    summary = json.loads((ROOT / "docs" / "benchmarks" / "instructions.json").read_text())
    assert {entry["name"] for entry in summary["cases"]} == {case.name for case in CASES}
    assert all(entry["ir_per_request"] > 0 for entry in summary["cases"])
    table = (ROOT / "docs" / "benchmarks" / "instructions.md").read_text()
    assert table.startswith("| route | server |")
