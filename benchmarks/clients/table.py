"""The run: every scenario with every client, what the attempt log saw, the notes, the table.

Every field of a row is meant to come out the same on every run: outcomes
and attempt counts, not timings. The one note read from a time says
whether the client waited out a Retry-After before its retry; a client
that honours it always waits at least that long, so that note is a lower
bound met or not, never a measure.
"""

import http.client
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .runners import BY_NAME, Client
from .scenarios import SCENARIOS, Outcome, Scenario

COLUMNS = ("scenario", "client", "reports", "attempts", "notes")
# What the warm-up request asks for: an answer, on a connection kept alive.
WARM_PATH = "/status/200"


@dataclass(frozen=True)
class Row:
    """One row of the table: a scenario, a client, what it reported, what the server saw."""

    scenario: str
    client: str
    reports: str
    attempts: int
    notes: str

    def cells(self) -> tuple[str, ...]:
        """The row's cells as the table shows them."""
        return (self.scenario, self.client, self.reports, str(self.attempts), self.notes)


def attempt_log(base: str, key: str) -> dict:
    """Return the report of sequence `key` (GET /status/sequences/<key>); no attempts if unknown.

    Read with the standard library on a connection of its own: no client
    under test takes part in the measure.
    """
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", f"/status/sequences/{key}")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status == 404:
        return {"attempts_total": 0, "attempts": []}
    if response.status != 200:
        raise RuntimeError(f"the attempt log of {key} answered {response.status}: {body!r}")
    return json.loads(body)


def _resends(count: int, method: str) -> str:
    noun = "silent resend" if count == 1 else f"{count} silent resends"
    return noun + (f" of a {method}" if method not in ("GET", "HEAD") else "")


def notes(scenario: Scenario, outcome: Outcome, log: dict) -> str:
    """Return what stands out in a row, from the client's outcome and the attempt log."""
    attempts = log["attempts"]
    found = []
    # Every attempt past the first that the client did not count as a retry
    # of its own was resent beneath it, with nothing said.
    resent = log["attempts_total"] - 1 - outcome.retries
    if resent > 0:
        found.append(_resends(resent, scenario.method))
    if scenario.retry_after is not None and outcome.retries and len(attempts) > 1:
        waited = attempts[1]["since_previous_ms"] >= scenario.retry_after * 1000
        found.append("waited the Retry-After" if waited else "did not wait the Retry-After")
    if outcome.status is not None and attempts:
        # What the last attempt really sent, without its options: a code or a fault word.
        sent = attempts[-1]["sent"]
        if sent.split(";")[0] != outcome.reported:
            found.append(f"took `{sent}` for a {outcome.reported}")
    return "; ".join(found)


def run_one(base: str, scenario: Scenario, client: Client) -> Row:
    """Send `scenario` with `client` under a fresh key; return its row."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in client.name)[:24]
    key = f"{slug}-{secrets.token_hex(6)}"
    warm = base + WARM_PATH if scenario.reused else None
    outcome = client.run(scenario, base + scenario.path(key), warm)
    log = attempt_log(base, key)
    return Row(
        scenario.name,
        client.name,
        outcome.reported,
        log["attempts_total"],
        notes(scenario, outcome, log),
    )


def run(base: str, clients: Iterable[str], scenarios: Iterable[Scenario] = SCENARIOS) -> list[Row]:
    """Send every scenario with every client named in `clients` to the server at `base`.

    Rows come scenario by scenario, the clients in the order given.
    """
    chosen = [BY_NAME[name] for name in clients]
    return [run_one(base, scenario, client) for scenario in scenarios for client in chosen]


def markdown(rows: Iterable[Row]) -> str:
    """Return `rows` as a Markdown table."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "| --- | --- | --- | ---: | --- |",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)
