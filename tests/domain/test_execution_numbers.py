"""Execution numbers: a keyed permutation of log positions per workspace."""

from __future__ import annotations

import uuid
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.execution_numbers import LARGEST_NUMBER, ExecutionNumbers, UnknownNumber

NUMBERS = ExecutionNumbers(b"k" * 32)
WORKSPACE = uuid.UUID(int=7)
positions = st.integers(min_value=0, max_value=LARGEST_NUMBER - 1)


@given(positions)
def test_a_number_turns_back_into_its_position(position: int) -> None:
    number = NUMBERS.number(WORKSPACE, position)
    assert 1 <= number <= LARGEST_NUMBER
    assert NUMBERS.position(WORKSPACE, number) == position


@given(st.integers(min_value=1, max_value=LARGEST_NUMBER))
def test_every_number_in_the_range_is_some_positions(number: int) -> None:
    assert NUMBERS.number(WORKSPACE, NUMBERS.position(WORKSPACE, number)) == number


def test_numbers_neither_count_nor_order_the_log() -> None:
    numbers = [NUMBERS.number(WORKSPACE, position) for position in range(1, 2001)]
    assert len(set(numbers)) == len(numbers)
    rises = sum(1 for a, b in pairwise(numbers) if b > a)
    assert 900 < rises < 1100  # about half: consecutive positions give unrelated numbers
    assert max(numbers) > 2**50  # spread over the range, not near the positions


def test_two_workspaces_and_two_logs_number_the_same_position_differently() -> None:
    other_workspace = NUMBERS.number(uuid.UUID(int=8), 42)
    other_log = ExecutionNumbers(b"j" * 32).number(WORKSPACE, 42)
    assert len({NUMBERS.number(WORKSPACE, 42), other_workspace, other_log}) == 3


@pytest.mark.parametrize("number", [0, -1, LARGEST_NUMBER + 1, 2**64])
def test_an_integer_outside_the_range_is_no_number(number: int) -> None:
    with pytest.raises(UnknownNumber):
        NUMBERS.position(WORKSPACE, number)
