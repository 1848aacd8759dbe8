"""Fixtures of the package's unit tests."""

import pytest

from simple_flask.core import proofs


@pytest.fixture
def fresh_proofs():
    """Every proof runs again within the test, and again after it, on what the test changed."""
    proofs.forget()
    yield proofs
    proofs.forget()
