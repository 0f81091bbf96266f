"""Masking of personal data before it enters a snapshot."""

from __future__ import annotations

import pandas as pd

from geo.privacy import mask_id_numbers, mask_names, mask_phones


def test_names_keep_surname_only() -> None:
    got = mask_names(pd.Series(["张三", "欧阳娜娜", "王", None, ""], dtype="str"))
    assert got.tolist()[:3] == ["张*", "欧***", "王*"] and got[3:].isna().all()


def test_phones_keep_prefix_and_last_four() -> None:
    got = mask_phones(pd.Series(["13812341234", "138 1234 1234", "0471-6543210", None], dtype="str"))
    assert got.tolist()[:3] == ["138****1234", "138****1234", "******10"] and pd.isna(got[3])


def test_id_numbers_fully_masked() -> None:
    got = mask_id_numbers(pd.Series(["15010219900101123X", None], dtype="str"))
    assert got[0] == "*" * 18 and "1990" not in got[0] and pd.isna(got[1])
