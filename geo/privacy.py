"""Masking of personal data (个人信息保护法): names 张*, phones 138****1234, ID numbers fully masked."""

from __future__ import annotations

import numpy as np
import pandas as pd


def mask_names(names: pd.Series) -> pd.Series:
    """Keep the first character (the surname), mask the rest: 张三 -> 张*, 欧阳娜娜 -> 欧***."""
    s = names.astype("str")
    first = s.str.slice(0, 1)
    lengths = s.str.len().fillna(0).astype("int64").to_numpy()
    runs = np.array(["*" * n for n in range(int(lengths.max(initial=0)) + 1)], dtype=object)
    stars = pd.Series(runs[np.clip(lengths - 1, 1, None)], index=s.index, dtype="str")
    return (first + stars).where(s.notna() & (s.str.len() > 0))


def mask_phones(phones: pd.Series) -> pd.Series:
    """Keep the first 3 and last 4 digits of an 11-digit mobile; other numbers keep the last 2."""
    s = phones.astype("str").str.replace(r"[\s-]", "", regex=True)
    mobile = s.str.fullmatch(r"1\d{10}").fillna(False).astype(bool)
    out = s.str.slice(0, 3) + "****" + s.str.slice(-4)
    other = "*" * 6 + s.str.slice(-2)
    return out.where(mobile, other).where(s.notna() & (s.str.len() > 0))


def mask_id_numbers(ids: pd.Series) -> pd.Series:
    """ID numbers are masked completely (only whether one exists stays visible)."""
    s = ids.astype("str")
    return pd.Series("*" * 18, index=ids.index, dtype="str").where(s.notna() & (s.str.len() > 0))
