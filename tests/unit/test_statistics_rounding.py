"""The mean rating is rounded half up to two decimals, as a leader recomputing it in a spreadsheet would."""

from __future__ import annotations

import pytest

from services.assignment.application.statistics import mean_to_two_places


@pytest.mark.parametrize(
    ("ratings", "mean"),
    [([3, 3, 4, 5, 2, 4, 3, 1], 3.13), ([1, 5, 2], 2.67), ([5], 5.0), ([], None)],
    ids=["3.125", "2.666", "one", "none"],
)
def test_the_mean_rating_is_rounded_half_up(ratings: list[int], mean: float | None) -> None:
    assert mean_to_two_places(ratings) == mean
