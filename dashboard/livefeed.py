"""Demo live feed (示例数据): each interval, a few new cases and some advanced open ones in the demo case DB."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from dashboard import demo_data as dd
from dashboard.settings import Settings
from loaders.enums import CATEGORY_NAMES, CHANNEL, KIND, LEVEL_VISITED, OUTCOME, PURPOSE, SATISFACTION
from loaders.errors import SourceError

NEW_CASES = (3, 12)        # new cases per feed, inclusive range
ADVANCED_CASES = (2, 8)    # open cases moved one step on per feed, inclusive range
REPEAT_SHARE = 0.2         # new cases brought by a petitioner already on file (same place and issue)
ADVANCING = ("registered", "accepted", "handling", "replied")
_SQLITE = "sqlite:///"
_STAMP = "%Y-%m-%d %H:%M:%S"
_HOUSE_NO = re.compile(r"\d+号$")


def demo_case_db(settings: Settings) -> Path:
    """The demo case SQLite file the refresh reads; raises SourceError unless it is a demo build."""
    url = settings.resolve_url(settings.sources.case.url or "")
    if not url.startswith(_SQLITE):
        raise SourceError(f"示例数据新增只写入 SQLite 示例库 / the demo live feed only writes to the SQLite demo "
                          f"case DB, but sources.case.url is {settings.sources.case.url!r}. "
                          f"Set demo.live_feed = false.")
    path = Path(url[len(_SQLITE):])
    if not dd.demo_exists(path.parent):
        # Never write synthetic rows into a database that is not a demo build.
        raise SourceError(f"{path} 不是示例数据库 / is not a demo build (no {dd.TRUTH_NAME} beside it). "
                          f"Run `gridwatch demo`, or set demo.live_feed = false.")
    return path


def feed_once(settings: Settings, *, now: datetime | None = None,
              rng: np.random.Generator | None = None) -> dict[str, int]:
    """Add 3–12 cases received `now` and move 2–8 open cases one step (accept, reply, close with an
    evaluation), all with updated_at = `now` (naive local time in `settings.timezone`, like the demo).

    Only with `demo.enabled` and `demo.live_feed`; otherwise nothing happens. Planted patterns and the
    deliberately dirty rows of the demo are left alone. Returns counts: added, updated (and per step).
    """
    counts = {"added": 0, "updated": 0, "accepted": 0, "replied": 0, "closed": 0}
    if not (settings.demo.enabled and settings.demo.live_feed):
        return counts
    rng = rng if rng is not None else np.random.default_rng()
    path = demo_case_db(settings)
    local = _local_naive(now, settings.timezone)
    protected = _protected_case_ids(path.parent / dd.TRUTH_NAME)
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        with conn:  # one transaction: a refresh reading the DB sees all of a feed or none of it
            counts["added"] = _add_cases(conn, rng, local, protected, settings)
            steps = _advance_cases(conn, rng, local, protected)
    counts.update(steps)
    counts["updated"] = sum(steps.values())
    return counts


def _local_naive(now: datetime | None, tz_name: str) -> datetime:
    tz = ZoneInfo(tz_name)
    if now is None:
        now = datetime.now(tz)
    elif now.tzinfo is not None:
        now = now.astimezone(tz)
    return now.replace(tzinfo=None, microsecond=0)


def _protected_case_ids(truth_path: Path) -> set[str]:
    """Case ids of the planted patterns and dirty rows (the detectors and rejection tests rely on them)."""
    try:
        doc = json.loads(truth_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    ids = {str(r.get("case_id")) for r in doc.get("dirty_rows", [])}
    for p in doc.get("patterns", []):
        ids.update(str(c) for c in p.get("case_ids", []))
    return ids


# --------------------------------------------------------------------------------------------
# New cases
# --------------------------------------------------------------------------------------------

def _rows(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _templates(conn: sqlite3.Connection, rng: np.random.Generator, protected: set[str],
               settings: Settings, k: int) -> list[dict[str, Any]]:
    """Clean existing cases with a WGS-84 point and a grid code: where (and from whom) new cases come."""
    top = conn.execute("SELECT max(rowid) FROM cases").fetchone()[0] or 0
    if top == 0:
        return []
    picks = rng.choice(top, size=min(top, max(40 * k, 200)), replace=False) + 1
    marks = ",".join("?" * len(picks))
    labels = ",".join("?" * len(dd._CATEGORY_LABELS))
    rows = _rows(conn, f"""
        SELECT rowid AS rid, * FROM cases
        WHERE rowid IN ({marks}) AND lon IS NOT NULL AND lat IS NOT NULL AND grid_id IS NOT NULL
          AND township_id IS NOT NULL AND coalesce(coord_sys, 'wgs84') = 'wgs84'
          AND category IN ({labels}) AND is_accusation = 0""",
        [int(p) for p in picks] + list(dd._CATEGORY_LABELS))
    lon0, lat0, lon1, lat1 = settings.validation.bounds
    rows = [r for r in rows if r["case_id"] not in protected
            and lon0 <= r["lon"] <= lon1 and lat0 <= r["lat"] <= lat1]
    rows.sort(key=lambda r: r["rid"])  # the IN list comes back in index order; keep it stable
    return rows


def _grid_shapes(settings: Settings, grid_ids: set[str]) -> dict[str, Any]:
    """Grid polygons from the demo grid DB (to place points inside the grid); empty if unreadable."""
    url = settings.resolve_url(settings.sources.grid.url or "")
    if not url.startswith(_SQLITE) or not Path(url[len(_SQLITE):]).is_file():
        return {}
    marks = ",".join("?" * len(grid_ids))
    try:
        with closing(sqlite3.connect(f"file:{url[len(_SQLITE):]}?mode=ro", uri=True, timeout=30)) as conn:
            rows = conn.execute(f"SELECT grid_id, geometry FROM grids WHERE grid_id IN ({marks})",
                                sorted(grid_ids)).fetchall()
    except sqlite3.Error:
        return {}
    out = {}
    for gid, wkb in rows:
        try:
            out[gid] = shapely.from_wkb(wkb)
        except Exception:  # noqa: BLE001 - a bad shape just falls back to the template's point
            continue
    return out


def _point_in(rng: np.random.Generator, geom: Any, fallback: tuple[float, float]) -> tuple[float, float]:
    if geom is None or shapely.is_empty(geom):
        return fallback
    x0, y0, x1, y1 = shapely.bounds(geom)
    for _ in range(40):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if shapely.contains_xy(geom, x, y):
            return float(x), float(y)
    p = shapely.point_on_surface(geom)
    return float(shapely.get_x(p)), float(shapely.get_y(p))


def _add_cases(conn: sqlite3.Connection, rng: np.random.Generator, now: datetime, protected: set[str],
               settings: Settings) -> int:
    k = int(rng.integers(NEW_CASES[0], NEW_CASES[1] + 1))
    templates = _templates(conn, rng, protected, settings, k)
    if not templates:
        return 0
    base = [templates[int(i)] for i in rng.integers(0, len(templates), k)]
    shapes = _grid_shapes(settings, {t["grid_id"] for t in base})
    columns = [r[1] for r in conn.execute("PRAGMA table_info(cases)")]
    stamp = now.strftime(_STAMP)
    due = (now + timedelta(days=60)).strftime(_STAMP)

    kind = dd._sample_from(rng, KIND, dd._KIND_P, k)
    channel = np.array([dd._sample_from(rng, CHANNEL, dd._CHANNEL_P[KIND.codes[c]], 1)[0] for c in kind])
    purpose = np.array([dd._sample_from(rng, PURPOSE, dd._PURPOSE_P[KIND.codes[c]], 1)[0] for c in kind])
    level = np.array([dd._sample_from(rng, LEVEL_VISITED, dd._LEVEL_P[KIND.codes[c]], 1)[0]
                      if KIND.codes[c] in dd._LEVEL_P else -1 for c in kind])
    category = dd._choice(rng, k, dd._category_probs(False, False))
    accusation = purpose == dd._ix(PURPOSE, "accusation")
    acc_codes = np.array([CATEGORY_NAMES.index(c) for c in dd._ACCUSATION_CATEGORY])
    category[accusation] = acc_codes[dd._choice(rng, int(accusation.sum()), list(dd._ACCUSATION_CATEGORY.values()))]
    sub = dd._DETAIL.sub_offset[category] + np.floor(rng.random(k) * dd._DETAIL.n_sub[category]).astype(np.int64)
    tmpl = dd._DETAIL.tmpl_offset[sub] + np.floor(rng.random(k) * dd._DETAIL.n_tmpl[sub]).astype(np.int64)
    people = dd._people_counts(rng, channel)
    names = dd._person_names(rng, k).to_pylist()
    phones = dd._phones(rng, k).to_pylist()
    id_nos = dd._id_numbers(rng, k, settings.demo.district_code).to_pylist()
    repeat = (rng.random(k) < REPEAT_SHARE) & ~accusation
    hotline = kind == dd._ix(KIND, "hotline")
    anonymous = hotline & (rng.random(k) < 0.1)
    no_id = hotline & (rng.random(k) < 0.8)
    house = rng.integers(1, 200, k)

    top = conn.execute("SELECT max(rowid) FROM cases").fetchone()[0] or 0
    key_row = conn.execute("SELECT max(petitioner_key) FROM cases WHERE petitioner_key GLOB 'P[0-9]*'").fetchone()
    next_key = int(key_row[0][1:]) + 1 if key_row and key_row[0] else 1
    width = max(6, len(str(top + k)))
    prefix = {"petition": "XF", "dispute": "TJ", "hotline": "RX"}
    new_rows = []
    for i, t in enumerate(base):
        kind_code = KIND.codes[kind[i]]
        number = top + 1 + i
        case_id = f"{prefix[kind_code]}{now:%Y%m%d}{number:0{width}d}"
        while conn.execute("SELECT 1 FROM cases WHERE case_id = ?", (case_id,)).fetchone():
            number += k + 1  # never reuse an id already on file
            case_id = f"{prefix[kind_code]}{now:%Y%m%d}{number:0{width}d}"
        lon, lat = _point_in(rng, shapes.get(t["grid_id"]), (t["lon"], t["lat"]))
        summary = dd._DETAIL.templates[tmpl[i]]
        row: dict[str, Any] = {
            "case_id": case_id, "received_at": stamp,
            "category": CATEGORY_NAMES[category[i]], "status": "registered",
            "channel": CHANNEL.codes[channel[i]], "kind": kind_code, "purpose": PURPOSE.codes[purpose[i]],
            "subcategory": dd._DETAIL.sub_names[sub[i]],
            "summary": f"检举：{summary}" if accusation[i] else summary,
            "lon": lon, "lat": lat, "coord_sys": "wgs84",
            "address": _HOUSE_NO.sub(f"{house[i]}号", t["address"] or ""),
            "grid_id": t["grid_id"], "township_id": t["township_id"], "people_count": int(people[i]),
            "level_visited": LEVEL_VISITED.codes[level[i]] if level[i] >= 0 else None,
            "petitioner_key": f"P{next_key + i:07d}",
            "petitioner_name": None if anonymous[i] else names[i],
            "petitioner_phone": phones[i], "petitioner_id_no": None if no_id[i] else id_nos[i],
            "is_accusation": int(accusation[i]), "review_stage": "none", "updated_at": stamp,
        }
        if repeat[i]:  # the same person again, about the same issue
            for col in ("petitioner_key", "petitioner_name", "petitioner_phone", "petitioner_id_no",
                        "category", "subcategory", "summary"):
                row[col] = t[col]
        if kind_code != "petition":  # disputes and hotline calls are taken on at once (DOMAIN.md)
            row.update(status="accepted", accepted_at=stamp, due_at=due)
        new_rows.append(row)
    cols = [c for c in columns if any(c in r for r in new_rows)]
    conn.executemany(f"INSERT INTO cases ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     [[r.get(c) for c in cols] for r in new_rows])
    return len(new_rows)


# --------------------------------------------------------------------------------------------
# Advancing open cases
# --------------------------------------------------------------------------------------------

def _advance_cases(conn: sqlite3.Connection, rng: np.random.Generator, now: datetime,
                   protected: set[str]) -> dict[str, int]:
    steps = {"accepted": 0, "replied": 0, "closed": 0}
    stamp = now.strftime(_STAMP)
    marks = ",".join("?" * len(ADVANCING))
    candidates = conn.execute(
        f"SELECT rowid, case_id FROM cases WHERE status IN ({marks}) AND received_at <= ? AND updated_at < ? "
        f"AND received_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'",
        (*ADVANCING, stamp, stamp)).fetchall()
    duplicated = {r[0] for r in conn.execute(
        "SELECT case_id FROM cases GROUP BY case_id HAVING count(*) > 1")}
    pool = [rid for rid, cid in candidates if cid not in protected and cid not in duplicated]
    if not pool:
        return steps
    m = min(len(pool), int(rng.integers(ADVANCED_CASES[0], ADVANCED_CASES[1] + 1)))
    chosen = sorted(int(pool[int(i)]) for i in rng.choice(len(pool), m, replace=False))
    due = (now + timedelta(days=60)).strftime(_STAMP)
    for rid in chosen:
        kind, status, accepted_at = conn.execute(
            "SELECT kind, status, accepted_at FROM cases WHERE rowid = ?", (rid,)).fetchone()
        if status == "registered":
            conn.execute("UPDATE cases SET status = 'accepted', accepted_at = ?, due_at = ?, updated_at = ? "
                         "WHERE rowid = ?", (stamp, due, stamp, rid))
            steps["accepted"] += 1
        elif status in ("accepted", "handling"):
            outcome = OUTCOME.codes[dd._codes(OUTCOME, "support", "explain", "reject")[
                dd._choice(rng, 1, (0.42, 0.43, 0.15))[0]]]
            conn.execute("UPDATE cases SET status = 'replied', replied_at = ?, outcome = ?, "
                         "accepted_at = coalesce(accepted_at, ?), updated_at = ? WHERE rowid = ?",
                         (stamp, outcome, accepted_at or stamp, stamp, rid))
            steps["replied"] += 1
        else:  # replied -> closed, most with the petitioner's evaluation (满意度)
            outcome_row = conn.execute("SELECT outcome FROM cases WHERE rowid = ?", (rid,)).fetchone()
            o = OUTCOME.codes.index(outcome_row[0]) if outcome_row[0] in OUTCOME.codes else 1
            p = (0.85, 0.12, 0.03) if o == 0 else (0.70, 0.22, 0.08) if o == 1 else (0.45, 0.30, 0.25)
            evaluated = rng.random() < 0.72
            satisfaction = (SATISFACTION.codes[dd._codes(SATISFACTION, "satisfied", "basic", "unsatisfied")[
                dd._choice(rng, 1, p)[0]]] if evaluated else None)
            resolved = kind == "dispute" and rng.random() < 0.8
            conn.execute("UPDATE cases SET status = ?, closed_at = ?, satisfaction = ?, evaluated_at = ?, "
                         "updated_at = ? WHERE rowid = ?",
                         ("resolved" if resolved else "closed", stamp, satisfaction,
                          stamp if evaluated else None, stamp, rid))
            steps["closed"] += 1
    return steps
