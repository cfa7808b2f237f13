"""bench/e2e.py's rows: how many rounds met the budget, beside the median that decides."""
from __future__ import annotations

from bench.e2e import format_rows, rounds_within


def test_rounds_within_counts_the_rounds_whose_ratio_meets_the_budget():
    bare = [100.0, 100.0, 100.0, 100.0]
    wrapped = [104.0, 106.0, 105.0, 120.0]  # ratios 0.962, 0.943, 0.952 (meets 0.95), 0.833
    assert rounds_within(bare, wrapped, 0.95) == 2
    assert rounds_within(bare, wrapped, 0.80) == 4
    assert rounds_within(bare, wrapped, 0.97) == 0


def test_a_row_shows_the_verdict_and_the_rounds_within_budget():
    row = {"server": "gunicorn", "stream": "many visitors", "budget": 0.95, "ratio": 0.949,
           "bare/floor": 0.98, "bare/deciding": 0.97, "bare/keeping": 0.953, "bare": 320.0, "wrapped": 337.2,
           "floor": 326.5, "deciding": 329.9, "keeping": 335.8, "rounds": 60, "wrapped within": 27,
           "keeping within": 35}
    line = format_rows([row]).splitlines()[1]
    assert line.startswith("gunicorn, many visitors")
    assert "OVER BUDGET" in line
    assert "within budget: 27 and 35" in line
    assert " ok (60 rounds" in format_rows([{**row, "ratio": 0.951}]).splitlines()[1]
