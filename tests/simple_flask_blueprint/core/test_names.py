"""The name rule: 1 to 100 printable characters."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simple_flask_blueprint.core import InvalidName, validate_name


@pytest.mark.parametrize(
    "name",
    [
        "A",
        "Kalimaha",
        "a" * 100,
        "Zoë Åström",
        "李小龙",
        "O'Brien-Smith",
        "<img src=x>",
        "😀",
        "a\u00a0b",
        "1 + 1 = 2",
    ],
)
def test_accepts_printable_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("", "1 to 100 characters long, got 0"),
        ("a" * 101, "1 to 100 characters long, got 101"),
        ("bell\x07", "printable characters only, got U+0007 at position 4"),
        ("tab\there", "U+0009 at position 3"),
        ("new\nline", "U+000A"),
        ("del\x7f", "U+007F"),
        ("\u202eevil", "U+202E at position 0"),
        ("line\u2028sep", "U+2028"),
    ],
)
def test_refuses_with_the_rule_broken(name, detail):
    with pytest.raises(InvalidName, match=detail.replace("+", r"\+")):
        validate_name(name)


# The rule stated by Unicode category: control, format, surrogate, private-use,
# unassigned, and line or paragraph separators are refused.
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@given(st.text(max_size=120))
def test_accepts_exactly_what_the_rule_allows(name):
    allowed = 1 <= len(name) <= 100 and not any(
        unicodedata.category(char) in REFUSED_CATEGORIES for char in name
    )
    try:
        validate_name(name)
    except InvalidName:
        assert not allowed
    else:
        assert allowed
