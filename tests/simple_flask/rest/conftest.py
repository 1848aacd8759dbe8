"""Fixtures of the Flask layer's tests."""

import pytest

from simple_flask.core.sleep_slots import SleepSlots
from simple_flask.rest import status as status_module
from tests.simple_flask.core.test_sleep_slots import GatedSleep


@pytest.fixture
def gated_sleep(monkeypatch):
    """Make each status Blueprint built from now on sleep (and stall) until the gate opens."""
    gated = GatedSleep()
    monkeypatch.setattr(status_module, "SleepSlots", lambda slots: SleepSlots(slots, sleep=gated))
    yield gated
    gated.gate.set()
