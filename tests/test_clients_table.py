"""docs/status-service.md, What each client does: the table is what a fresh run gives.

The page shows what `python -m benchmarks.clients` printed. Here its
scenarios run again against a real `simple-flask serve`, with each client
installed here, and the rows the page shows for that client must be the
rows this run gives, so that the page cannot go stale when a client or the
service changes. requests, httpx and curl are always checked (CI has them);
aiohttp is checked where it is installed. The page is read with a parser
of the test's own.
"""

import pytest

from benchmarks.clients.runners import CLIENTS
from benchmarks.clients.scenarios import SCENARIOS
from benchmarks.clients.table import run
from tests.pages import page
from tests.support import LOOPBACK, SERVE, require_programs, running_server

pytestmark = pytest.mark.slow

PAGE = "docs/status-service.md"
BEGIN, END = "<!-- clients:begin -->", "<!-- clients:end -->"
HEADER = ["scenario", "client", "reports", "attempts", "notes"]


def block() -> str:
    """Return the page's text between the table's markers."""
    text = page(PAGE)
    assert text.count(BEGIN) == 1 and text.count(END) == 1, "one pair of markers"
    return text.split(BEGIN, 1)[1].split(END, 1)[0]


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def documented() -> dict[tuple[str, str], tuple[str, str, str]]:
    """Return the page's rows: (scenario, client) -> (reports, attempts, notes)."""
    header, separator, *body = [line for line in block().splitlines() if line.startswith("|")]
    assert cells(header) == HEADER
    assert set(separator) <= set("|-: ")
    rows: dict[tuple[str, str], tuple[str, str, str]] = {}
    for line in body:
        scenario, client, reports, attempts, notes = cells(line)
        assert (scenario, client) not in rows, f"{scenario} / {client} is shown twice"
        rows[(scenario, client)] = (reports, attempts, notes)
    return rows


@pytest.fixture(scope="module")
def base():
    """The service as `python -m benchmarks.clients` runs it, for the module."""
    with running_server(SERVE) as server:
        yield f"http://{LOOPBACK}:{server.port}"


def test_the_page_shows_every_scenario_with_every_client_and_their_versions():
    expected = {(scenario.name, client.name) for scenario in SCENARIOS for client in CLIENTS}
    assert set(documented()) == expected
    versions = block().split("Clients: ", 1)[1]
    for name in ("requests", "urllib3", "httpx", "aiohttp", "curl", "Python"):
        assert f"{name} " in versions, name


@pytest.mark.parametrize("client", CLIENTS, ids=[client.name for client in CLIENTS])
def test_a_fresh_run_gives_the_rows_the_page_shows(base, client):
    if client.program:
        require_programs(client.needs, install=f"apt-get install {client.needs}")
    elif client.needs == "aiohttp" and client.missing():
        pytest.skip("aiohttp is not installed here; its rows are checked where it is")
    fresh = {
        (row.scenario, row.client): (row.reports, str(row.attempts), row.notes)
        for row in run(base, [client.name])
    }
    shown = {key: value for key, value in documented().items() if key[1] == client.name}
    assert fresh == shown
