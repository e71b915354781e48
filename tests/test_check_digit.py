"""Case numbers: Damm's check digit catches every single typo and adjacent swap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.core.check_digit import damm_digit, is_valid, new_number

bodies = st.text(alphabet="0123456789", min_size=6, max_size=8).filter(lambda s: s[0] != "0")


@pytest.mark.parametrize(("body", "check"), [("572", "4"), ("5724", "0")])
def test_known_damm_digits(body: str, check: str) -> None:
    """Published examples: 572 gets 4, and a number with its check digit reduces to 0."""
    assert damm_digit(body) == check


@given(bodies)
def test_a_number_with_its_check_digit_is_valid(body: str) -> None:
    """Appending the check digit makes a valid number."""
    number = body + damm_digit(body)
    assert is_valid(number, len(number))


@given(bodies, st.data())
def test_every_single_digit_typo_is_caught(body: str, data: st.DataObject) -> None:
    """Changing any one digit to any other makes the number invalid."""
    number = body + damm_digit(body)
    position = data.draw(st.integers(0, len(number) - 1))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    typo = number[:position] + wrong + number[position + 1:]
    assert not is_valid(typo, len(number))


@given(bodies, st.data())
def test_every_adjacent_swap_is_caught(body: str, data: st.DataObject) -> None:
    """Swapping two neighbouring different digits makes the number invalid."""
    number = body + damm_digit(body)
    position = data.draw(st.integers(0, len(number) - 2))
    a, b = number[position], number[position + 1]
    swapped = number[:position] + b + a + number[position + 2:]
    if a != b:
        assert not is_valid(swapped, len(number))


@pytest.mark.parametrize("length", [7, 8, 9])
def test_new_numbers_have_the_length_no_leading_zero_and_check(length: int) -> None:
    """New numbers: digits only, the asked length, never starting with 0, valid."""
    for _ in range(500):
        number = new_number(length)
        assert len(number) == length and number.isdigit() and number[0] != "0"
        assert is_valid(number, length)


@pytest.mark.parametrize("text", ["", "1234567", "123456789", "0" + "1234560", "１２３４５６７８",
                                  "1234 567", "abcdefgh"])
def test_is_valid_refuses_malformed(text: str) -> None:
    """Wrong length, a leading zero, non-ASCII digits or letters: invalid."""
    assert not is_valid(text, 8)


def test_new_number_refuses_silly_lengths() -> None:
    """A length with no room for a body is an error, not a silent short number."""
    with pytest.raises(ValueError, match="digits"):
        new_number(1)
