"""The status service's codes: the catalogue, the phrases, one code."""

from http import HTTPStatus

import pytest

from simple_flask.core.errors import StatusError
from simple_flask.core.status_codes import CATALOGUE, describe, parse_code
from simple_flask_blueprint.core.http_facts import status_phrase as phrase

REGISTERED = [status for status in HTTPStatus if 200 <= status.value <= 599]


# --- the catalogue ---------------------------------------------------------------------------


def test_catalogue_is_every_registered_code_from_200_to_599_in_order():
    assert CATALOGUE == tuple((status.value, status.phrase) for status in REGISTERED)
    assert [code for code, _ in CATALOGUE] == sorted(code for code, _ in CATALOGUE)


@pytest.mark.parametrize("status", REGISTERED, ids=str)
def test_registered_codes_take_their_phrase_from_httpstatus(status):
    assert phrase(status.value) == status.phrase
    assert describe(status.value) == {"code": status.value, "description": status.phrase}


@pytest.mark.parametrize("code", [209, 299, 306, 399, 419, 499, 599])
def test_unregistered_codes_are_unknown(code):
    assert code not in {status.value for status in HTTPStatus}
    assert phrase(code) == "Unknown Status Code"
    assert parse_code(str(code)) == code


# --- one code --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", range(200, 600))
def test_every_code_from_200_to_599_is_accepted(code):
    assert parse_code(str(code)) == code


@pytest.mark.parametrize(
    "text",
    [
        "2_00",
        " 200",
        "200 ",
        "\t200",
        "200\n",
        "\u0662\u0660\u0660",  # Arabic-Indic 200: str.isdigit() and int() accept it
        "\uff12\uff10\uff10",  # fullwidth 200
        "0",
        "-1",
        "+200",
        "20",
        "1000",
        "0200",
        "",
        "2e2",
        "0x1",
        "abc",
        "20O",
        "200.0",
    ],
)
def test_anything_but_three_ascii_digits_is_refused(text):
    with pytest.raises(StatusError, match="three ASCII digits"):
        parse_code(text)


@pytest.mark.parametrize("text", ["000", "099", "600", "999"])
def test_three_digits_out_of_range_are_refused(text):
    with pytest.raises(StatusError, match="from 200 to 599"):
        parse_code(text)


@pytest.mark.parametrize("code", [100, 101, 102, 103, 150, 199])
def test_1xx_codes_are_refused_with_the_reason(code):
    with pytest.raises(StatusError, match="1xx") as raised:
        parse_code(str(code))
    assert "interim" in str(raised.value)
    assert "WSGI" in str(raised.value)


def test_a_huge_input_makes_a_short_message():
    with pytest.raises(StatusError) as raised:
        parse_code("x" * 100_000)
    assert len(str(raised.value)) < 200
