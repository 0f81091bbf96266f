"""Numbers for Chinese readers: thousands separators, 万/亿 for large counts, rates as 98.2%, deltas."""

from __future__ import annotations

import math

from dashboard.texts import t
from geo.metrics import METRICS, mean_label, rate_label

LARGE = 100_000  # from here counts are shown as 12.3万 (zh) / 1.2M (en ≥ 1,000,000)


def _missing(value: float | int | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_count(value: float | int | str | None, lang: str = "zh") -> str:
    """1,032; 12.3万 / 1.2亿 (zh) or 1.2M (en) for large numbers; — when missing. A text (a suppressed
    count, "<5", see dashboard/suppression.py) is returned as it is."""
    if isinstance(value, str):
        return value
    if _missing(value):
        return "—"
    n = float(value)  # type: ignore[arg-type]
    if lang == "zh" and abs(n) >= 1e8:
        return f"{n / 1e8:.1f}".rstrip("0").rstrip(".") + "亿"
    if lang == "zh" and abs(n) >= LARGE:
        return f"{n / 1e4:.1f}".rstrip("0").rstrip(".") + "万"
    if lang != "zh" and abs(n) >= 1e6:
        return f"{n / 1e6:.1f}".rstrip("0").rstrip(".") + "M"
    return f"{n:,.0f}" if n.is_integer() else f"{n:,.1f}"


def fmt_rate(num: float | int | str | None, den: float | int | str | None, *, digits: int = 1,
             lang: str = "zh") -> str:
    """98.2% (num ÷ den); — when the denominator is 0 or missing. A numerator or denominator that is a
    suppressed count's text ("<5") gives "样本<5" / "n<5": the rate would tell the count."""
    for part in (num, den):
        if isinstance(part, str):
            return t("suppressed_rate", lang).format(n=part.lstrip("<"))
    if _missing(num) or _missing(den) or not den:
        return "—"
    return f"{100.0 * float(num) / float(den):.{digits}f}%"  # type: ignore[arg-type]


def fmt_ratio(value: float | None, *, digits: int = 1) -> str:
    """A 0..1 ratio as 98.2%."""
    return "—" if _missing(value) else f"{100.0 * float(value):.{digits}f}%"  # type: ignore[arg-type]


def fmt_days(value: float | None, lang: str = "zh") -> str:
    if _missing(value):
        return "—"
    return f"{float(value):.1f}" + ("天" if lang == "zh" else " d")  # type: ignore[arg-type]


def fmt_delta_pct(current: float, previous: float) -> str | None:
    """"+12%" / "-8%" change of current against previous; "+5" (absolute) when previous is 0; None if equal 0."""
    if previous:
        return f"{100.0 * (current - previous) / previous:+.0f}%"
    return f"{current - previous:+.0f}" if current else None


def rate_help(name: str, num: float, den: float, *, lang: str = "zh", period: str = "",
              shown: str | None = None) -> str:
    """Hover text of a rate KPI: value with numerator/denominator, and what each counts (SPEC §7).

    `shown` replaces the value and its numerator/denominator (a suppressed rate: "样本<5")."""
    metric = METRICS[name]
    if shown is not None:
        value = shown
    elif metric.kind == "mean":
        value = mean_label(num, den, unit=metric.unit)
    else:
        value = rate_label(num, den)
    if lang == "zh":
        lines = [f"{metric.label}：{value}", f"分子：{metric.numerator}", f"分母：{metric.denominator}"]
        if period:
            lines.append(f"统计期：{period}")
    else:
        lines = [value if shown is not None else f"{value} (numerator/denominator)"]
        if period:
            lines.append(f"Period: {period}")
    return "  \n".join(lines)
