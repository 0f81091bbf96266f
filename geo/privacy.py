"""Masking of personal data (个人信息保护法): names 张*, phones 138****1234, ID numbers fully masked."""

from __future__ import annotations

import pandas as pd


def mask_names(names: pd.Series) -> pd.Series:
    """Keep the first character (the surname), mask the rest: 张三 -> 张*, 欧阳娜娜 -> 欧***."""
    s = names.astype("str")
    first = s.str.slice(0, 1)
    stars = s.str.len().sub(1).clip(lower=1).map(lambda n: "*" * int(n), na_action="ignore")
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
