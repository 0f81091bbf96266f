"""Spatial statistics for early warning: contiguity weights, Getis-Ord Gi*, FDR, Mann-Kendall, emerging hot spots.

Everything is vectorised over many time windows at once: a statistic takes an (n_units × n_windows)
matrix and returns matrices of the same shape, so 52 weekly Gi* maps cost one sparse matrix product.
Known answers: `gi_star` equals `esda.G_Local(star=True, transform="B")` (and "R"), `fdr_cutoff` equals
`esda.fdr`, `mann_kendall` equals scipy's Kendall tau-b and pymannkendall's original test
(tests/test_hotspots.py). Inference is analytical (normal approximation, as ArcGIS does), so there is
no randomness and no `seed`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree
from scipy.special import ndtr

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

# Hot/cold spot bins as in ArcGIS Hot Spot Analysis: |bin| 3, 2, 1 at 99, 95, 90 % confidence.
CONFIDENCE_BINS: tuple[tuple[int, float], ...] = ((1, 0.10), (2, 0.05), (3, 0.01))
BIN_LABELS: dict[int, str] = {3: "99%置信热点", 2: "95%置信热点", 1: "90%置信热点", 0: "不显著",
                              -1: "90%置信冷点", -2: "95%置信冷点", -3: "99%置信冷点"}
METRES_PER_DEGREE = 111_320.0


# --- weights --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Weights:
    """Binary spatial weights over `n` units in a fixed order.

    Attributes:
        ids: unit ids, in row order.
        neighbours: scipy.sparse CSR (n × n), 1.0 where unit j is a neighbour of unit i, zero diagonal,
            symmetric.
        knn_filled: per unit, True when its neighbours came from the k-nearest fallback (it touches
            no other unit: an island, or a grid with a digitising gap all round).
        k: how many nearest centroids an island got.
    """

    ids: NDArray[np.object_]
    neighbours: sp.csr_array
    knn_filled: B
    k: int = 0

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def cardinalities(self) -> I64:
        """Number of neighbours per unit (self not counted)."""
        out: I64 = np.diff(np.asarray(self.neighbours.indptr)).astype(np.int64)
        return out

    def star(self, *, transform: Literal["B", "R"] = "B") -> sp.csr_array:
        """The Gi* weight matrix: neighbours plus a self-weight of 1; "R" divides each row by its sum.

        "B" (binary) gives the classic Getis-Ord Gi* z-score (ArcGIS; invariant to row scaling).
        "R" reproduces esda's default `G_Local(star=True)` (row-standardised), whose variance term
        assumes unit row sums: a different, smaller z-score. Gridwatch uses "B".
        """
        if transform not in ("B", "R"):
            raise ValueError(f'`transform` was "{transform}" but is expected to be "B" or "R"')
        w = (self.neighbours + sp.eye_array(self.n, format="csr")).tocsr()
        if transform == "R":
            rows = np.asarray(w.sum(axis=1)).ravel()
            w = (sp.diags_array(1.0 / rows) @ w).tocsr()
        return sp.csr_array(w)


def weights_from_pairs(ids: Sequence[Any] | NDArray[Any], left: ArrayLike, right: ArrayLike,
                       *, knn_filled: B | None = None, k: int = 0) -> Weights:
    """Weights from neighbour index pairs (i, j); self pairs are dropped, the result is symmetric."""
    n = len(ids)
    i = np.asarray(left, dtype=np.int64)
    j = np.asarray(right, dtype=np.int64)
    keep = i != j
    i, j = i[keep], j[keep]
    m = sp.coo_array((np.ones(2 * len(i)), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n)).tocsr()
    m.data[:] = 1.0  # duplicates summed: back to binary
    m.sort_indices()
    filled = np.zeros(n, dtype=bool) if knn_filled is None else knn_filled
    return Weights(ids=np.asarray(ids, dtype=object), neighbours=sp.csr_array(m), knn_filled=filled, k=k)


def contiguity_weights(geometries: Sequence[Any] | NDArray[Any], *, ids: Sequence[Any] | NDArray[Any] | None = None,
                       tolerance_m: float = 1.0, k: int = 4, geographic: bool = True) -> Weights:
    """Queen contiguity between polygons: i and j are neighbours when they share any boundary point.

    Pairs come from one vectorised STRtree query (`intersects`, or `dwithin` `tolerance_m` metres so
    that digitising gaps do not cut neighbours apart). Units touching no other unit (islands) get
    their `k` nearest units by centroid instead, made mutual. `geographic=True` means lon/lat degrees
    (WGS-84): the tolerance is converted at 111,320 m per degree and centroid distances are measured
    on a local equirectangular projection. Missing or empty geometries get no neighbours at all.
    """
    if tolerance_m < 0:
        raise ValueError(f"`tolerance_m` was {tolerance_m} but must be 0 or more (metres)")
    if k < 1:
        raise ValueError(f"`k` was {k} but must be 1 or more")
    geoms = np.asarray(geometries, dtype=object)
    n = len(geoms)
    unit_ids = np.arange(n) if ids is None else np.asarray(ids, dtype=object)
    if len(unit_ids) != n:
        raise ValueError(f"`ids` has {len(unit_ids)} values but there are {n} geometries")
    missing = np.array([g is None for g in geoms], dtype=bool)
    if (~missing).any():
        missing[~missing] = shapely.is_empty(geoms[~missing].astype(object))
    present = np.flatnonzero(~missing)
    tree = shapely.STRtree(geoms[present])
    tol = tolerance_m / METRES_PER_DEGREE if geographic else tolerance_m
    if tol > 0:
        a, b = tree.query(geoms[present], predicate="dwithin", distance=tol)
    else:
        a, b = tree.query(geoms[present], predicate="intersects")
    left, right = present[a], present[b]
    keep = left != right
    left, right = left[keep], right[keep]
    has = np.zeros(n, dtype=bool)
    has[left] = True
    islands = np.flatnonzero(~has & ~missing)
    filled = np.zeros(n, dtype=bool)
    if len(islands) and len(present) > 1:
        xy = _centroid_xy(geoms[present], geographic=geographic)
        kk = min(k, len(present) - 1)
        tree_xy = cKDTree(xy)
        pos = np.searchsorted(present, islands)
        _, nn = tree_xy.query(xy[pos], k=kk + 1)
        nn = np.asarray(nn).reshape(len(islands), kk + 1)
        # drop the island itself (normally column 0; robust to coincident centroids)
        others = [row[present[row] != isl][:kk] for row, isl in zip(nn, islands, strict=True)]
        kl = np.concatenate([np.full(len(o), isl) for o, isl in zip(others, islands, strict=True)])
        kr = present[np.concatenate(others)]
        left, right = np.concatenate([left, kl]), np.concatenate([right, kr])
        filled[islands] = True
    return weights_from_pairs(unit_ids, left, right, knn_filled=filled, k=k)


def _centroid_xy(geoms: NDArray[np.object_], *, geographic: bool) -> F64:
    c = shapely.centroid(geoms)
    x, y = shapely.get_x(c), shapely.get_y(c)
    if geographic:
        x = x * math.cos(math.radians(float(np.nanmean(y))))
    return np.column_stack([x, y])


# --- Getis-Ord Gi* ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class GiStar:
    """Getis-Ord Gi* of one or many windows (columns), analytical normal inference.

    Attributes (all of the input's shape, (n,) or (n, T)):
        g: the statistic, Σ_j w_ij x_j / Σ_j x_j (self included).
        expected: E[g] = W_i / n, with W_i the row sum of the weights.
        variance: Var[g] = W_i (n − W_i) / (n − 1) / n² · s² / x̄² (s² the population variance).
        z: (g − expected) / sqrt(variance); 0 for a window whose values are all equal (or all 0).
        p: two-sided p-value of z (ArcGIS convention); `p_one` = one-sided, esda's `p_norm`.
    `z, p = gi_star(...)` unpacks the two most used attributes.
    """

    g: F64
    expected: F64
    variance: F64
    z: F64
    p: F64

    @property
    def p_one(self) -> F64:
        out: F64 = self.p / 2.0
        return out

    def __iter__(self) -> Iterator[F64]:
        yield self.z
        yield self.p


def gi_star(values: ArrayLike, weights: Weights | sp.csr_array | sp.csr_matrix, *,
            transform: Literal["B", "R"] = "B") -> GiStar:
    """Gi* z-scores and p-values of `values` (n,) or (n × T, one column per window) at once.

    `weights` is a `Weights` (its `star(transform=...)` matrix is used) or an n × n sparse matrix
    that already holds the self-weights on its diagonal (to reuse one matrix across calls).
    """
    x = np.asarray(values, dtype=np.float64)
    one = x.ndim == 1
    if one:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"`values` has shape {x.shape} but is expected to be (n,) or (n, windows)")
    w = weights.star(transform=transform) if isinstance(weights, Weights) else sp.csr_array(weights)
    n = x.shape[0]
    if w.shape != (n, n):
        raise ValueError(f"`weights` is {w.shape} but `values` has {n} rows; build the weights from the same units")
    if not np.isfinite(x).all():
        raise ValueError("`values` holds NaN or infinite values; fill them (e.g. 0 cases) first")
    wx = np.asarray(w @ x)
    card = np.asarray(w.sum(axis=1)).ravel()[:, None]
    total = x.sum(axis=0)
    mean = total / n
    var = (x * x).sum(axis=0) / n - mean**2
    ok = (total != 0) & (var > 1e-12 * np.maximum(mean**2, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = wx / total
        expected = np.broadcast_to(card / n, g.shape).copy()
        variance = card * (n - card) / (n - 1) / n**2 * (var / mean**2)
        z = (g - expected) / np.sqrt(variance)
    z = np.where(ok, z, 0.0)
    z[~np.isfinite(z)] = 0.0
    p = 2.0 * ndtr(-np.abs(z))
    if one:
        return GiStar(g[:, 0], expected[:, 0], variance[:, 0], z[:, 0], p[:, 0])
    return GiStar(g, expected, variance, z, p)


# --- false discovery rate and bins --------------------------------------------------------------------

def fdr_cutoff(p: ArrayLike, alpha: float = 0.05) -> Any:
    """Benjamini–Hochberg p-value cut-off, exactly as `esda.fdr`: reject where p < cut-off.

    For a vector returns a float; for an (n × T) matrix one cut-off per column (each window is its
    own family of n tests). When nothing is significant the cut-off is the Bonferroni bound alpha / n.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"`alpha` was {alpha} but must be between 0 and 1")
    arr = np.asarray(p, dtype=np.float64)
    one = arr.ndim == 1
    if one:
        arr = arr[:, None]
    n = arr.shape[0]
    p_sort = np.sort(arr, axis=0)[::-1]
    index = np.arange(n, 0, -1)
    p_fdr = index * alpha / n
    search = p_sort < p_fdr[:, None]
    first = np.argmax(search, axis=0)
    cut = np.where(search.any(axis=0), p_fdr[first], alpha / n)
    return float(cut[0]) if one else cut


def hotspot_bins(z: ArrayLike, p: ArrayLike, *, fdr: bool = True) -> NDArray[np.int8]:
    """Hot (+) / cold (−) spot bins: ±3, ±2, ±1 at 99, 95, 90 % confidence, 0 not significant.

    With `fdr`, each confidence level's alpha is replaced by its Benjamini–Hochberg cut-off computed
    per column (window), as ArcGIS's "Apply False Discovery Rate Correction" does.
    """
    zz = np.asarray(z, dtype=np.float64)
    pp = np.asarray(p, dtype=np.float64)
    out = np.zeros(pp.shape, dtype=np.int8)
    for level, alpha in CONFIDENCE_BINS:
        cut = fdr_cutoff(pp, alpha) if fdr else alpha
        out[pp < cut] = level
    return (out * np.sign(zz)).astype(np.int8)


# --- Mann-Kendall ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall trend test of each row of a (n × T) matrix (time along the last axis).

    Attributes (shape (n,), or scalars for one series):
        s: Σ_{i<j} sign(x_j − x_i).
        var_s: variance of s under no trend, corrected for ties.
        z: normal score of s (with continuity correction unless asked otherwise).
        p: two-sided p-value.
        tau: Kendall's tau-b between the series and time (scipy.stats.kendalltau's statistic).
    """

    s: F64
    var_s: F64
    z: F64
    p: F64
    tau: F64

    def trend(self, alpha: float = 0.05) -> NDArray[np.int8]:
        """+1 significant upward, −1 significant downward, 0 otherwise."""
        return (np.sign(self.s) * (self.p < alpha)).astype(np.int8)


def mann_kendall(series: ArrayLike, *, continuity: bool = True) -> MannKendall:
    """Vectorised Mann-Kendall test; values must be finite. T = series length (≥ 3 for a verdict)."""
    x = np.asarray(series, dtype=np.float64)
    one = x.ndim == 1
    if one:
        x = x[None, :]
    if not np.isfinite(x).all():
        raise ValueError("`series` holds NaN or infinite values")
    n_rows, t = x.shape
    s = np.zeros(n_rows)
    for lag in range(1, t):
        s += np.sign(x[:, lag:] - x[:, :-lag]).sum(axis=1)
    tie_var, tie_pairs = _tie_terms(x)
    var_s = (t * (t - 1) * (2 * t + 5) - tie_var) / 18.0
    n0 = t * (t - 1) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        num = s - np.sign(s) if continuity else s
        z = np.where(var_s > 0, num / np.sqrt(var_s), 0.0)
        tau = np.where(n0 - tie_pairs > 0, s / np.sqrt(n0 * (n0 - tie_pairs)), 0.0)
    p = 2.0 * ndtr(-np.abs(z))
    if one:  # 0-d arrays: behave as numbers
        return MannKendall(s.reshape(()), var_s.reshape(()), z.reshape(()), p.reshape(()), tau.reshape(()))
    return MannKendall(s, var_s, z, p, tau)


def _tie_terms(x: F64) -> tuple[F64, F64]:
    """Per row: Σ t(t−1)(2t+5) and Σ t(t−1)/2 over groups of tied values."""
    n_rows, t = x.shape
    srt = np.sort(x, axis=1)
    start = np.ones((n_rows, t), dtype=bool)
    start[:, 1:] = srt[:, 1:] != srt[:, :-1]
    flat = start.ravel()
    run = np.cumsum(flat) - 1
    lengths = np.bincount(run).astype(np.float64)
    row_of_run = np.repeat(np.arange(n_rows), t)[flat]
    var_term = np.bincount(row_of_run, weights=lengths * (lengths - 1) * (2 * lengths + 5),
                           minlength=n_rows).astype(np.float64)
    pairs = np.bincount(row_of_run, weights=lengths * (lengths - 1) / 2.0, minlength=n_rows).astype(np.float64)
    return var_term, pairs


# --- emerging hot spots -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrendClass:
    """One Emerging Hot Spot category: code, Chinese label, hot/cold side, and its ArcGIS name."""

    code: str
    label: str
    side: Literal["hot", "cold", "none"]
    arcgis: str


TREND_CLASSES: tuple[TrendClass, ...] = (
    TrendClass("new_hot", "新热点", "hot", "New Hot Spot"),
    TrendClass("consecutive_hot", "连续热点", "hot", "Consecutive Hot Spot"),
    TrendClass("intensifying_hot", "加剧热点", "hot", "Intensifying Hot Spot"),
    TrendClass("persistent_hot", "持续热点", "hot", "Persistent Hot Spot"),
    TrendClass("diminishing_hot", "减弱热点", "hot", "Diminishing Hot Spot"),
    TrendClass("sporadic_hot", "零散热点", "hot", "Sporadic Hot Spot"),
    TrendClass("oscillating_hot", "振荡热点", "hot", "Oscillating Hot Spot"),
    TrendClass("historical_hot", "历史热点", "hot", "Historical Hot Spot"),
    TrendClass("new_cold", "新冷点", "cold", "New Cold Spot"),
    TrendClass("consecutive_cold", "连续冷点", "cold", "Consecutive Cold Spot"),
    TrendClass("intensifying_cold", "加剧冷点", "cold", "Intensifying Cold Spot"),
    TrendClass("persistent_cold", "持续冷点", "cold", "Persistent Cold Spot"),
    TrendClass("diminishing_cold", "减弱冷点", "cold", "Diminishing Cold Spot"),
    TrendClass("sporadic_cold", "零散冷点", "cold", "Sporadic Cold Spot"),
    TrendClass("oscillating_cold", "振荡冷点", "cold", "Oscillating Cold Spot"),
    TrendClass("historical_cold", "历史冷点", "cold", "Historical Cold Spot"),
    TrendClass("none", "无明显模式", "none", "No Pattern Detected"),
)
TREND_CLASS_BY_CODE: dict[str, TrendClass] = {c.code: c for c in TREND_CLASSES}
NO_PATTERN = "none"


@dataclass(frozen=True)
class EmergingHotspots:
    """Emerging Hot Spot classes of n units from their Gi* series (n × T, oldest week first).

    Attributes:
        classes: per unit, a code of TREND_CLASSES.
        bins: hot/cold bins per unit and week (−3..3, FDR per week when asked).
        hot, cold: significant hot / cold per unit and week (|bin| ≥ 1 on that side).
        trend: Mann-Kendall test of each unit's z-score series.
        run: length of the final unbroken run of hot (for hot classes) or cold weeks.
    """

    classes: NDArray[np.object_]
    bins: NDArray[np.int8]
    hot: B
    cold: B
    trend: MannKendall
    run: I64


def emerging_hotspots(z: ArrayLike, p: ArrayLike, *, fdr: bool = True, min_bin: int = 1,
                      trend_alpha: float = 0.05, share: float = 0.9) -> EmergingHotspots:
    """Classify each unit's weekly Gi* series as in ArcGIS Emerging Hot Spot Analysis.

    A week is a significant hot (cold) spot when its bin is ≥ `min_bin` (≤ −`min_bin`); "most
    weeks" means at least `share` (90 %) of them. With L = the latest week, for hot spots:
      - intensifying / persistent / diminishing: hot in ≥ 90 % of weeks including L, with a
        significant upward / no / downward Mann-Kendall trend (alpha `trend_alpha`) of the z-scores;
      - new: L is the only hot week;
      - consecutive: an unbroken run of ≥ 2 hot weeks ending in L, never hot before the run, < 90 %;
      - oscillating: L hot, < 90 % hot, some earlier week significantly cold;
      - sporadic: L hot, < 90 % hot, on and off, never cold;
      - historical: L not hot, ≥ 90 % of weeks hot.
    Rules are applied in that order (so a unit that was once cold and is now hot for the first
    time is "new"). Cold classes mirror them with hot and cold swapped and the trend reversed; the
    latest week decides the side (a cold latest week overrides "historical hot").
    """
    zz = np.asarray(z, dtype=np.float64)
    pp = np.asarray(p, dtype=np.float64)
    if zz.ndim != 2 or zz.shape != pp.shape:
        raise ValueError(f"`z` and `p` must be (units × weeks) of one shape; got {zz.shape} and {pp.shape}")
    if not 1 <= min_bin <= 3:
        raise ValueError(f"`min_bin` was {min_bin} but must be 1, 2 or 3")
    bins = hotspot_bins(zz, pp, fdr=fdr)
    hot, cold = bins >= min_bin, bins <= -min_bin
    zero = np.zeros(zz.shape[0])
    trend = mann_kendall(zz) if zz.shape[1] >= 3 else MannKendall(zero, zero, zero, np.ones(zz.shape[0]), zero)
    up = (trend.p < trend_alpha) & (trend.s > 0)
    down = (trend.p < trend_alpha) & (trend.s < 0)
    hot_cls, hot_run = _side_classes(hot, cold, up, down, share, "hot")
    cold_cls, cold_run = _side_classes(cold, hot, down, up, share, "cold")
    last_hot, last_cold = hot[:, -1], cold[:, -1]
    classes = np.where(last_cold, cold_cls, np.where(last_hot, hot_cls, np.where(
        hot_cls != NO_PATTERN, hot_cls, cold_cls))).astype(object)
    run = np.where(last_cold, cold_run, hot_run)
    return EmergingHotspots(classes=classes, bins=bins, hot=hot, cold=cold, trend=trend, run=run)


def _side_classes(this: B, other: B, rising: B, falling: B, share: float,
                  side: str) -> tuple[NDArray[np.str_], I64]:
    n, t = this.shape
    last = this[:, -1]
    count = this.sum(axis=1)
    most = count >= math.ceil(share * t - 1e-9)
    rev = this[:, ::-1]
    run = np.where(rev.all(axis=1), t, np.argmin(rev, axis=1)).astype(np.int64)
    other_before = other[:, :-1].any(axis=1)
    conditions = [
        last & most & rising,
        last & most & falling,
        last & most,
        last & (count == 1),
        last & (run >= 2) & (count == run),
        last & other_before,
        last,
        ~last & most,
    ]
    names = ["intensifying", "diminishing", "persistent", "new", "consecutive", "oscillating",
             "sporadic", "historical"]
    out = np.select(conditions, [f"{c}_{side}" for c in names], NO_PATTERN)
    return out, run
