"""The blueprint's greeting text."""

import pytest

from simple_flask_blueprint.core import InvalidName, greet


def test_greets_without_a_name():
    assert greet() == "Hallo!"


def test_greets_a_name():
    assert greet("Kalimaha") == "Hallo Kalimaha!"


def test_refuses_an_invalid_name():
    with pytest.raises(InvalidName):
        greet("x" * 101)
