"""The pytest plugin: a running status service as a fixture, with no conftest.py.

Installing the package registers it (the `pytest11` entry point "simple_flask";
`-p no:simple_flask` turns it off). Nothing is started or imported beyond this
module until a test asks for `status_service`.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .service import StatusService


@pytest.fixture(scope="session")
def status_service_settings() -> dict[str, object]:
    """The settings of the session's status service; override it in a conftest.py.

    Field names of `simple-flask serve`'s settings, such as {"max_sleep_ms": 2000}.
    """
    return {}


@pytest.fixture(scope="session")
def status_service(status_service_settings: dict[str, object]) -> "Iterator[StatusService]":
    """The status service, one per session (so one per pytest-xdist worker), stopped at its end."""
    from .service import running_service

    with running_service(**status_service_settings) as service:
        yield service


@pytest.fixture
def status_sequence_key(request: pytest.FixtureRequest) -> str:
    """A sequence key of the test's own, new on every run: its name and a random tail."""
    from .service import sequence_key

    return sequence_key(request.node.name)
