"""Small-count suppression (SPEC §9): aggregates below a threshold shown as "<5" to roles without point access.

The views (`dashboard/views.py`) suppress what they return for such viewers: each count 0 < n < threshold
becomes the text "<5", each rate computed from such a count becomes "样本<5" / "n<5" (2/3 = 66.7% tells
both counts), zeros and larger counts stay numbers. Viewers with point access get numbers only.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dashboard.formatting import fmt_count
from dashboard.texts import t
from dashboard.viewer import LANGS


def suppressed_text(threshold: int) -> str:
    """What a suppressed count shows: "<5" for a threshold of 5."""
    return f"<{int(threshold)}"


def suppressed_rate_text(threshold: int, lang: str = "zh") -> str:
    """What a rate computed from a suppressed count shows: "样本<5" / "n<5" (a bare "<5" would read as a
    percentage)."""
    return t("suppressed_rate", lang).format(n=int(threshold))


def is_suppressed(value: Any) -> bool:
    """Whether a cell is a suppressed count's or rate's text ("<5", "样本<5"): views put text in count and
    rate columns for nothing else."""
    return isinstance(value, str) and re.fullmatch(r"\D{0,4}<\d+", value) is not None


def small_mask(values: Any, threshold: int | None) -> np.ndarray:
    """Boolean mask of the values that are suppressed: numbers with 0 < value < `threshold` (none when None)."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    if threshold is None:
        return np.zeros(len(series), dtype=bool)
    numbers = pd.to_numeric(series, errors="coerce")
    return ((numbers > 0) & (numbers < threshold)).fillna(False).to_numpy(dtype=bool)


def is_small(*values: Any, threshold: int | None) -> bool:
    """Whether any of the numbers is suppressed (0 < value < `threshold`); False when `threshold` is None."""
    return bool(small_mask(list(values), threshold).any())


def shown_count(value: Any, threshold: int | None) -> Any:
    """`value`, or "<threshold" when it is a suppressed count."""
    return suppressed_text(threshold) if threshold is not None and is_small(value, threshold=threshold) else value


def count_text(value: Any, threshold: int | None, lang: str = "zh") -> str:
    """A count for display: "<5" when suppressed, else `fmt_count` (1,032; 12.3万)."""
    return fmt_count(shown_count(value, threshold), lang)


def suppress_small_counts(frame: pd.DataFrame, columns: Sequence[str], threshold: int) -> pd.DataFrame:
    """A copy of `frame` where each listed count column becomes object dtype and every value with
    0 < value < `threshold` is replaced by the text f"<{threshold}" (zeros and larger counts stay numbers).

    Columns not in `frame` are ignored; the input is never mutated.
    """
    out = frame.copy()
    label = suppressed_text(threshold)
    for col in columns:
        if col not in out.columns:
            continue
        small = small_mask(out[col], threshold)
        column = out[col].astype("object")
        column[small] = label
        out[col] = column
    return out


def suppress_frame(frame: pd.DataFrame, threshold: int | None, *, counts: Sequence[str],
                   rates: Mapping[str, Sequence[str]] | None = None, lang: str = "zh") -> pd.DataFrame:
    """`frame` as a viewer with `threshold` may see it: the `counts` columns suppressed (`suppress_small_counts`)
    and every cell of a `rates` column (rate column -> the count columns it is computed from, e.g.
    {"red_share": ("red", "open")}) replaced by `suppressed_rate_text` ("样本<5") where one of those counts
    is suppressed.

    `threshold` None returns `frame` itself (numbers unchanged); otherwise a copy, the input is never mutated.
    """
    if threshold is None:
        return frame
    out = frame.copy()
    label = suppressed_rate_text(threshold, lang)
    for col, parts in (rates or {}).items():
        if col not in out.columns:
            continue
        hidden = np.zeros(len(out), dtype=bool)
        for part in parts:
            hidden |= small_mask(frame[part], threshold)
        column = out[col].astype("object")
        column[hidden] = label
        out[col] = column
    return suppress_small_counts(out, counts, threshold)


def order_key(values: Any, threshold: int | None) -> pd.Series:
    """Numbers to sort rows by without ordering the suppressed ones among themselves: every suppressed count
    (a number 0 < n < threshold, or its text "<5") becomes threshold / 2, between the zeros and the shown counts."""
    values = values if isinstance(values, pd.Series) else pd.Series(values)
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    if threshold is None:
        return numbers
    hidden = small_mask(numbers, threshold) | values.map(is_suppressed).to_numpy(dtype=bool)
    return numbers.where(~hidden, threshold / 2)


def as_numbers(values: pd.Series) -> pd.Series:
    """A count or rate column for a chart: suppressed texts become NaN (a bar is not drawn, a line breaks);
    a numeric column is returned as it is."""
    if pd.api.types.is_numeric_dtype(values):
        return values
    return pd.to_numeric(values, errors="coerce").astype("float64")


def holds_suppressed(value: Any, threshold: int) -> bool:
    """Whether a view's result (a frame, series, dataclass, list, dict or text, nested) shows a suppressed count
    or a rate suppressed with it."""
    labels = [suppressed_text(threshold), *(suppressed_rate_text(threshold, lang) for lang in LANGS)]
    if isinstance(value, str):
        return value in labels
    if isinstance(value, pd.DataFrame):
        return any(holds_suppressed(value[c], threshold) for c in value.columns)
    if isinstance(value, pd.Series):
        if pd.api.types.is_numeric_dtype(value) or pd.api.types.is_datetime64_any_dtype(value):
            return False
        return bool(value.astype("object").isin(labels).any())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(holds_suppressed(getattr(value, f.name), threshold) for f in dataclasses.fields(value))
    if isinstance(value, Mapping):
        return any(holds_suppressed(v, threshold) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_suppressed(v, threshold) for v in value)
    return False


def threshold_for(viewer: Any, settings: Any) -> int | None:
    """The suppression threshold for `viewer` (settings.privacy.small_count_threshold), or None when the
    viewer's counts are not suppressed: roles with point access see the cases themselves anyway, and a
    threshold of 1 or less suppresses nothing."""
    if getattr(viewer, "can_see_points", False):
        return None
    privacy = getattr(settings, "privacy", None)
    threshold = int(getattr(privacy, "small_count_threshold", 5)) if privacy is not None else 5
    return threshold if threshold > 1 else None
