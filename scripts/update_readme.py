"""Rewrite the configuration reference in README.md from the settings model (run after adding a setting)."""

from __future__ import annotations

import re
from pathlib import Path

from dashboard.settings import reference_markdown

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    block = f"{START}\n{reference_markdown()}\n{END}"
    text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
