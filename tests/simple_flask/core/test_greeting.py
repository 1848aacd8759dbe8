"""The root service's greeting text."""

import pytest

from simple_flask.core import InvalidName, greet


def test_greets_without_a_name():
    assert greet() == "Hallo from CORE!"


def test_greets_a_name():
    assert greet("Kalimaha") == "Hallo Kalimaha from CORE!"


def test_refuses_an_invalid_name():
    with pytest.raises(InvalidName, match="U\\+0000"):
        greet("nul\x00")
