"""Small-count suppression (SPEC §9): aggregates below a threshold shown as "<5" to roles without point access."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd


def suppress_small_counts(frame: pd.DataFrame, columns: Sequence[str], threshold: int) -> pd.DataFrame:
    """A copy of `frame` where each listed count column becomes object dtype and every value with
    0 < value < `threshold` is replaced by the text f"<{threshold}" (zeros and larger counts stay numbers).

    Columns not in `frame` are ignored; the input is never mutated.
    """
    out = frame.copy()
    label = f"<{int(threshold)}"
    for col in columns:
        if col not in out.columns:
            continue
        values = pd.to_numeric(out[col], errors="coerce")
        small = ((values > 0) & (values < threshold)).fillna(False).to_numpy(dtype=bool)
        column = out[col].astype("object")
        column[small] = label
        out[col] = column
    return out


def threshold_for(viewer: Any, settings: Any) -> int | None:
    """The suppression threshold for `viewer` (settings.privacy.small_count_threshold), or None when the
    viewer's counts are not suppressed: roles with point access see the cases themselves anyway, and a
    threshold of 1 or less suppresses nothing."""
    if getattr(viewer, "can_see_points", False):
        return None
    privacy = getattr(settings, "privacy", None)
    threshold = int(getattr(privacy, "small_count_threshold", 5)) if privacy is not None else 5
    return threshold if threshold > 1 else None
