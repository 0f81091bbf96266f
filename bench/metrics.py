"""Seconds for geo.deadlines and geo.metrics on a synthetic canonical case frame (default 1M cases).

Run: .venv/bin/python bench/metrics.py [--cases N] [--grids N] [--leaders N] [--repeat N]
The frame is made with numpy only (no demo geography): one year of cases spread over the grids,
statuses and timestamps roughly as in the demo, about 5 % of cases owned by leaders.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.deadlines import compute_deadlines  # noqa: E402
from geo.metrics import compute_metrics  # noqa: E402
from loaders.enums import CATEGORY_NAMES, LEVEL_VISITED  # noqa: E402

TZ = "Asia/Shanghai"
NOW = pd.Timestamp("2026-11-21 14:00", tz=TZ)
T = TypeVar("T")


def _stamps(secs: np.ndarray) -> pd.Series:
    """Epoch seconds (NaN = missing) as canonical tz-aware timestamps."""
    us = np.where(np.isnan(secs), np.iinfo(np.int64).min, (np.nan_to_num(secs) * 1e6).astype("int64"))
    naive = pd.Series(us.view("datetime64[us]"))
    return naive.dt.tz_localize("UTC").dt.tz_convert(TZ)


def synthetic_cases(n: int, *, grids: int, leaders: int, seed: int = 0
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A canonical `cases` frame (with grid/community/township assigned) and its `leader_cases`."""
    rng = np.random.default_rng(seed)
    day = 86_400.0
    end = NOW.timestamp()
    received = end - rng.uniform(0, 365, n) * day
    age = (end - received) / day
    accept_delay = rng.exponential(3.0, n)
    accepted = received + accept_delay * day
    handling = rng.gamma(2.0, 8.0, n)
    replied = accepted + handling * day
    closed = replied + rng.uniform(0, 3, n) * day
    evaluated = closed + rng.uniform(0, 10, n) * day
    not_taken = rng.random(n) < 0.05
    accepted[(accept_delay > age) | not_taken] = np.nan
    replied[(replied > end) | np.isnan(accepted)] = np.nan
    closed[(closed > end) | np.isnan(replied)] = np.nan
    evaluated[(evaluated > end) | np.isnan(closed) | (rng.random(n) < 0.3)] = np.nan
    due = accepted + 60 * day
    extended = np.where(rng.random(n) < 0.05, due + 30 * day, np.nan)
    review = ~np.isnan(closed) & (rng.random(n) < 0.02)
    requested = np.where(review, closed + rng.uniform(1, 30, n) * day, np.nan)
    requested[requested > end] = np.nan
    status = np.select(
        [not_taken, np.isnan(accepted), ~np.isnan(requested), ~np.isnan(closed), ~np.isnan(replied)],
        ["not_accepted", "registered", "review", "closed", "replied"], "handling").astype(object)
    satisfaction = rng.choice(np.array(["satisfied", "basic", "unsatisfied"], dtype=object), n,
                              p=[0.7, 0.2, 0.1])
    satisfaction[np.isnan(evaluated)] = None
    grid = rng.integers(0, grids, n)
    community = grid // 10
    township = community // 12
    levels = np.array(LEVEL_VISITED.codes, dtype=object)
    cases = pd.DataFrame({
        "case_id": pd.array(np.char.add("C", np.arange(n).astype(str)), dtype="str"),
        "received_at": _stamps(received), "accepted_at": _stamps(accepted),
        "due_at": _stamps(due), "extended_due_at": _stamps(extended),
        "replied_at": _stamps(replied), "closed_at": _stamps(closed),
        "evaluated_at": _stamps(evaluated), "review_requested_at": _stamps(requested),
        "updated_at": _stamps(np.fmax(received, np.fmax(closed, evaluated))),
        "status": pd.array(status, dtype="str"),
        "category": pd.array(rng.choice(np.array(CATEGORY_NAMES, dtype=object), n), dtype="str"),
        "satisfaction": pd.array(satisfaction, dtype="str"),
        "level_visited": pd.array(rng.choice(levels, n, p=[0.3, 0.6, 0.08, 0.015, 0.005]), dtype="str"),
        "petitioner_key": pd.array(np.char.add("P", rng.integers(0, n // 2, n).astype(str)), dtype="str"),
        "people_count": pd.array(np.where(rng.random(n) < 0.03, rng.integers(5, 60, n), 1), dtype="Int64"),
        "grid_id": pd.array(np.char.add("G", grid.astype(str)), dtype="str"),
        "community_id": pd.array(np.char.add("M", community.astype(str)), dtype="str"),
        "township_id": pd.array(np.char.add("T", township.astype(str)), dtype="str"),
    })
    owned = rng.choice(n, size=n // 20, replace=False)
    assigned = received[owned] + rng.uniform(0, 20, len(owned)) * day
    resolved = np.where(rng.random(len(owned)) < 0.6, assigned + 20 * day, np.nan)
    resolved[resolved > end] = np.nan
    leader_cases = pd.DataFrame({
        "case_id": cases["case_id"].to_numpy()[owned],
        "leader_id": pd.array(np.char.add("L", rng.integers(0, leaders, len(owned)).astype(str)),
                              dtype="str"),
        "assigned_at": _stamps(np.fmin(assigned, end)),
        "stage": pd.array(np.where(np.isnan(resolved), "mediating", "resolved"), dtype="str"),
        "resolved_at": _stamps(resolved),
    })
    return cases, leader_cases


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Best wall time of `repeat` runs (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--leaders", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    t0 = time.perf_counter()
    cases, leader_cases = synthetic_cases(args.cases, grids=args.grids, leaders=args.leaders)
    print(f"synthetic frame: {len(cases):,} cases, {len(leader_cases):,} leader cases "
          f"({time.perf_counter() - t0:.1f} s to build)")
    secs, deadlines = timed(lambda: compute_deadlines(cases, now=NOW), args.repeat)
    print(f"compute_deadlines  {secs:6.2f} s   lights {deadlines['light'].value_counts().to_dict()}")
    secs, metrics = timed(lambda: compute_metrics(cases, deadlines, leader_cases, now=NOW), args.repeat)
    mb = metrics.memory_usage(deep=True).sum() / 1e6
    print(f"compute_metrics    {secs:6.2f} s   {len(metrics):,} rows × {metrics.shape[1]} columns, "
          f"{mb:.0f} MB in memory")
    print(metrics.groupby(["unit_type", "period"], sort=False).size().to_string())


if __name__ == "__main__":
    main()
