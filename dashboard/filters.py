"""Global filters (period and unit drill path) as URL query parameters: parse, validate, fall back, write.

URL form (shareable links): `?period=7d`, `?period=custom&from=2026-11-01&to=2026-11-15`,
`?unit=township:150102003` (or `community:…`, `grid:…`; absent = the whole jurisdiction),
`?lang=en`. Anything invalid falls back to its default; nothing here raises on user input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

PERIODS: tuple[str, ...] = ("today", "7d", "30d", "month", "custom")
DEFAULT_PERIOD = "30d"
UNIT_TYPES: tuple[str, ...] = ("county", "township", "community", "grid")
COUNTY_ID = "county"  # unit_id of the whole jurisdiction (as in geo.metrics)
PARAMS: tuple[str, ...] = ("period", "from", "to", "unit", "lang")  # the query keys these filters own


@dataclass(frozen=True)
class Period:
    """A reporting period: a preset relative to the snapshot's date, or custom dates (inclusive)."""

    code: str = DEFAULT_PERIOD
    start: dt.date | None = None
    end: dt.date | None = None

    def dates(self, today: dt.date) -> tuple[dt.date, dt.date]:
        """First and last local date (inclusive) of the period, given the snapshot's date."""
        if self.code == "today":
            return today, today
        if self.code == "7d":
            return today - dt.timedelta(days=6), today
        if self.code == "month":
            return today.replace(day=1), today
        if self.code == "custom" and self.start is not None and self.end is not None:
            return self.start, self.end
        return today - dt.timedelta(days=29), today

    def key(self) -> tuple[str, str, str]:
        return (self.code, self.start.isoformat() if self.start else "", self.end.isoformat() if self.end else "")


@dataclass(frozen=True)
class Unit:
    """A unit of the drill path county → township → community → grid."""

    type: str = "county"
    id: str = COUNTY_ID

    @property
    def is_county(self) -> bool:
        return self.type == "county"

    def param(self) -> str | None:
        return None if self.is_county else f"{self.type}:{self.id}"

    def key(self) -> tuple[str, str]:
        return (self.type, self.id)


@dataclass(frozen=True)
class Filters:
    """The global filters of every page (hashable; `key()` is what cached views are keyed by)."""

    period: Period = field(default_factory=Period)
    unit: Unit = field(default_factory=Unit)
    lang: str = "zh"

    def to_params(self) -> dict[str, str]:
        """Query parameters of the non-default values (default filters give a clean URL)."""
        out: dict[str, str] = {}
        if self.period.code != DEFAULT_PERIOD:
            out["period"] = self.period.code
        if self.period.code == "custom" and self.period.start and self.period.end:
            out["from"], out["to"] = self.period.start.isoformat(), self.period.end.isoformat()
        if (unit := self.unit.param()) is not None:
            out["unit"] = unit
        if self.lang != "zh":
            out["lang"] = self.lang
        return out

    def key(self) -> tuple[str, ...]:
        return (*self.period.key(), *self.unit.key(), self.lang)


def _one(params: Mapping[str, object], name: str) -> str | None:
    """A query value as one string (the last one when repeated), None when absent or blank."""
    value = params.get(name)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def parse_period(params: Mapping[str, object], *, today: dt.date, earliest: dt.date) -> Period:
    """The period of the query; unknown codes and impossible custom dates give the default period.

    Custom dates must satisfy earliest <= from <= to <= today (dates after today are clipped to it).
    """
    code = _one(params, "period")
    if code not in PERIODS:
        return Period()
    if code != "custom":
        return Period(code)
    start, end = _date(_one(params, "from")), _date(_one(params, "to"))
    if start is None or end is None:
        return Period()
    end = min(end, today)
    if start > end or start < earliest:
        return Period()
    return Period("custom", start, end)


def parse_unit(params: Mapping[str, object], *, known: Callable[[str, str], bool]) -> Unit:
    """The unit of the query ("type:id"); unknown types or ids (per `known(type, id)`) give the county."""
    text = _one(params, "unit")
    if text is None or ":" not in text:
        return Unit()
    kind, _, unit_id = text.partition(":")
    if kind not in UNIT_TYPES or kind == "county" or not unit_id or not known(kind, unit_id):
        return Unit()
    return Unit(kind, unit_id)


def parse_lang(params: Mapping[str, object]) -> str:
    return "en" if _one(params, "lang") == "en" else "zh"


def parse(params: Mapping[str, object], *, today: dt.date, earliest: dt.date,
          known: Callable[[str, str], bool]) -> Filters:
    """All filters of a query mapping (e.g. `st.query_params.to_dict()`), invalid parts defaulted."""
    return Filters(period=parse_period(params, today=today, earliest=earliest),
                   unit=parse_unit(params, known=known), lang=parse_lang(params))
