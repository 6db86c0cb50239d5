"""A refused moment says what it was: a number (a Unix timestamp, digits) or text in another date-time form."""

from __future__ import annotations

import pytest

from shared.contracts.answers import iso_moment


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2026-W48-4T10:00", "not a date-time in another form"),
        ("tomorrow", "not a date-time in another form"),
        ("1767225600", "not a number"),
        (1767225600, "not a number"),
    ],
)
def test_a_refused_moment_says_what_it_was(value: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        iso_moment(value)
