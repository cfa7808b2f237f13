"""The stores' one time text (consentlib.store.clock.time_text): comparing two texts
compares the moments, since the stores' cut-offs and indexes compare text."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentlib.store.clock import time_text

UTC = timezone.utc
PLUS_TWO = timezone(timedelta(hours=2))


def test_the_text_is_the_format_existing_rows_hold():
    # Rows written before the helper existed hold exactly this: 27 characters, UTC, "Z".
    assert time_text(datetime(2026, 11, 5, 9, 47, 0, 1, tzinfo=UTC)) == "2026-11-05T09:47:00.000001Z"
    assert time_text(datetime(2026, 11, 5, 9, 47, tzinfo=UTC)) == "2026-11-05T09:47:00.000000Z"
    assert time_text(datetime(2026, 11, 5, 11, 47, tzinfo=PLUS_TWO)) == "2026-11-05T09:47:00.000000Z"
    assert time_text(datetime(2026, 11, 5, 9, 47)) == "2026-11-05T09:47:00.000000Z"  # naive: taken as UTC


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        pytest.param(datetime(2026, 11, 5, 9, 47, 0, 0, tzinfo=UTC), datetime(2026, 11, 5, 9, 47, 0, 1, tzinfo=UTC),
                     id="a-microsecond-apart"),
        pytest.param(datetime(2026, 11, 5, 9, 47, 59, 999_999, tzinfo=UTC), datetime(2026, 11, 5, 9, 48, tzinfo=UTC),
                     id="a-microsecond-apart-across-a-minute"),
        pytest.param(datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC),
                     id="a-microsecond-apart-across-a-year"),
        pytest.param(datetime(2025, 6, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), id="across-a-year"),
        pytest.param(datetime(2026, 1, 1, 1, 0, tzinfo=PLUS_TWO), datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
                     id="later-on-the-wall-clock-earlier-in-utc"),
    ],
)
def test_the_text_sorts_as_time_does(earlier, later):
    assert earlier < later
    assert time_text(earlier) < time_text(later)
    assert sorted([time_text(later), time_text(earlier)]) == [time_text(earlier), time_text(later)]


def test_now_is_the_present_in_utc():
    before = time_text(datetime.now(UTC))
    now = time_text()
    assert before <= now <= time_text(datetime.now(UTC))
    assert now.endswith("Z") and len(now) == 27


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(first=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
       second=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_text_order_is_time_order_for_any_two_moments(first, second):
    a, b = time_text(first), time_text(second)
    assert len(a) == len(b) == 27
    assert (a < b) == (first < second) and (a == b) == (first == second)
