"""Known answers for geo.hotspots: Gi* and FDR against esda, Mann-Kendall against scipy and pymannkendall,
contiguity against libpysal, and one hand-built series per Emerging Hot Spot class."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapely
from scipy.special import ndtr
from scipy.stats import kendalltau

from geo.hotspots import (
    TREND_CLASS_BY_CODE, TREND_CLASSES, contiguity_weights, emerging_hotspots, fdr_cutoff, gi_star, hotspot_bins,
    mann_kendall, weights_from_pairs,
)

esda = pytest.importorskip("esda")
libpysal = pytest.importorskip("libpysal")
pymannkendall = pytest.importorskip("pymannkendall")

ROWS, COLS = 6, 7


def lattice(rows: int = ROWS, cols: int = COLS) -> list[shapely.Polygon]:
    return [shapely.box(c, r, c + 1, r + 1) for r in range(rows) for c in range(cols)]


@pytest.fixture(scope="module")
def w():
    return contiguity_weights(lattice(), tolerance_m=0, geographic=False)


def esda_w(transform: str = "B"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return libpysal.weights.lat2W(ROWS, COLS, rook=False)


def values(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(3.0, shape).astype(float) + rng.random(shape) * (shape[0] > 0)


def test_queen_contiguity_equals_libpysal(w) -> None:
    expected = esda_w().sparse.toarray()
    assert np.array_equal(w.neighbours.toarray(), expected)
    assert not w.knn_filled.any()
    assert w.cardinalities.tolist()[:3] == [3, 5, 5]


def test_tolerance_bridges_gaps_and_islands_get_nearest_neighbours() -> None:
    gap = 0.5 / 111_320  # half a metre in degrees
    polys = [shapely.box(0, 0, 0.01, 0.01), shapely.box(0.01 + gap, 0, 0.02, 0.01),
             shapely.box(0.5, 0.5, 0.51, 0.51), None]
    exact = contiguity_weights(polys, tolerance_m=0, k=1)
    assert exact.cardinalities.tolist() == [1, 2, 1, 0]  # gap → islands → nearest; 1 also nearest of 2
    assert exact.knn_filled.tolist() == [True, True, True, False]
    bridged = contiguity_weights(polys, tolerance_m=1.0, k=1)
    assert bridged.neighbours[[0], :].toarray().ravel().tolist() == [0, 1, 0, 0]
    assert bridged.knn_filled.tolist() == [False, False, True, False]
    assert (bridged.neighbours != bridged.neighbours.T).nnz == 0  # mutual


@pytest.mark.parametrize("transform", ["B", "R"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gi_star_equals_esda(w, transform: str, seed: int) -> None:
    y = values(seed, (ROWS * COLS,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.G_Local(y, esda_w(), transform=transform, star=True, permutations=0)
    got = gi_star(y, w, transform=transform)
    np.testing.assert_allclose(got.z, ref.Zs, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got.g, ref.Gs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.expected, ref.EGs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.variance, ref.VGs, rtol=1e-10, atol=0)
    np.testing.assert_allclose(got.p_one, ref.p_norm, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.p, 2 * ref.p_norm, rtol=0, atol=1e-10)


def test_gi_star_many_windows_at_once_equals_one_by_one(w) -> None:
    y = values(5, (ROWS * COLS, 9))
    z, p = gi_star(y, w)
    for j in range(y.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = esda.G_Local(y[:, j], esda_w(), transform="B", star=True, permutations=0)
        np.testing.assert_allclose(z[:, j], ref.Zs, rtol=0, atol=1e-8)
    z2, _ = gi_star(y, w.star())  # a prebuilt Gi* matrix gives the same
    np.testing.assert_array_equal(z, z2)


def test_gi_star_degenerate_windows_are_not_significant(w) -> None:
    y = np.zeros((ROWS * COLS, 2))
    y[:, 1] = 4.0
    z, p = gi_star(y, w)
    assert (z == 0).all() and (p == 1).all()
    with pytest.raises(ValueError, match="NaN"):
        gi_star(np.full(ROWS * COLS, np.nan), w)
    with pytest.raises(ValueError, match="rows"):
        gi_star(np.ones(5), w)


def test_gi_star_does_not_mutate_its_input(w) -> None:
    y = values(3, (ROWS * COLS, 2))
    before = y.copy()
    gi_star(y, w)
    np.testing.assert_array_equal(y, before)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.10])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fdr_cutoff_equals_esda(alpha: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.random(180), rng.random(20) * 1e-3 * seed])
    assert fdr_cutoff(p, alpha) == esda.fdr(p, alpha)
    m = np.column_stack([p, rng.random(200), np.sort(p)])
    np.testing.assert_array_equal(fdr_cutoff(m, alpha), [esda.fdr(m[:, j], alpha) for j in range(3)])


def test_fdr_with_nothing_significant_is_bonferroni() -> None:
    assert fdr_cutoff(np.full(50, 0.9), 0.05) == pytest.approx(0.05 / 50)


def test_hotspot_bins() -> None:
    z = np.array([4.0, 2.2, 1.8, 0.5, -2.2, -4.0])
    p = 2 * ndtr(-np.abs(z))
    assert hotspot_bins(z, p, fdr=False).tolist() == [3, 2, 1, 0, -2, -3]
    # with FDR over these 6 tests the 95 % and 90 % cut-offs tighten
    cut90 = fdr_cutoff(p, 0.10)
    expect = [3 if q < fdr_cutoff(p, 0.01) else 2 if q < fdr_cutoff(p, 0.05) else 1 if q < cut90 else 0 for q in p]
    assert hotspot_bins(z, p).tolist() == (np.array(expect) * np.sign(z)).tolist()


def test_mann_kendall_against_scipy_and_pymannkendall() -> None:
    rng = np.random.default_rng(11)
    x = rng.poisson(2.0, (12, 16)).astype(float)  # many ties
    x[3] = np.arange(16)  # strong trend, no ties
    x[4] = 5.0            # constant
    mk = mann_kendall(x)
    mk_nc = mann_kendall(x, continuity=False)
    for r in range(len(x)):
        ref = pymannkendall.original_test(x[r])
        assert mk.s[r] == ref.s and mk.var_s[r] == pytest.approx(ref.var_s, abs=1e-9)
        assert mk.p[r] == pytest.approx(ref.p, abs=1e-12) and mk.z[r] == pytest.approx(ref.z, abs=1e-12)
        if r == 4:
            assert mk.tau[r] == 0 and mk.p[r] == 1
            continue
        kt = kendalltau(np.arange(16), x[r], method="asymptotic")
        assert mk.tau[r] == pytest.approx(kt.statistic, abs=1e-12)
        assert mk_nc.p[r] == pytest.approx(kt.pvalue, abs=1e-12)
    one = mann_kendall(x[3])
    assert float(one.tau) == pytest.approx(1.0) and float(one.p) < 1e-5
    assert mk.trend(0.05)[3] == 1


# --- Emerging Hot Spot classes from hand-built series --------------------------------------------------

WEEKS = 12
UP = np.linspace(4.0, 9.0, WEEKS)  # every week significant even after FDR
FLAT = np.tile([4.5, 4.0], WEEKS // 2)
SERIES: dict[str, str | np.ndarray] = {
    "new_hot": "...........H",
    "consecutive_hot": "........HHHH",
    "intensifying_hot": UP,
    "persistent_hot": FLAT,
    "diminishing_hot": UP[::-1].copy(),
    "sporadic_hot": "..H...H....H",
    "oscillating_hot": "..C...H....H",
    "historical_hot": "HHHHHHHHHHH.",
    "new_cold": "...........C",
    "consecutive_cold": ".........CCC",
    "intensifying_cold": -UP,
    "persistent_cold": -FLAT,
    "diminishing_cold": -UP[::-1],
    "sporadic_cold": ".C...C.....C",
    "oscillating_cold": "..H...C....C",
    "historical_cold": "CCCCCCCCCCC.",
    "none": "............",
}
EDGE_CASES = {
    "C..........H": "new_hot",          # first hot week after a cold one: new (documented precedence)
    "H.........HH": "sporadic_hot",     # hot before the final run: not consecutive
    ".HHHHHHHHHHH": "persistent_hot",   # 11 of 12 = 91.7 % ≥ 90 %, flat z
    "..HHHHHHHHHH": "consecutive_hot",  # 10 of 12 < 90 %
    "HHHHHHHHHHC.": "none",             # neither side's rules: latest week neutral, 10 of 12 hot
    "H.........CC": "consecutive_cold",  # a run never cold before it; an earlier hot week does not matter
}


def z_series(spec: str | np.ndarray) -> np.ndarray:
    if isinstance(spec, np.ndarray):
        return spec
    return np.array([{"H": 5.0, "C": -5.0, ".": 0.0}[ch] for ch in spec])


def classify(specs: list[str | np.ndarray], fillers: int = 40) -> np.ndarray:
    z = np.vstack([z_series(s) for s in specs] + [np.zeros(WEEKS)] * fillers)
    return emerging_hotspots(z, 2 * ndtr(-np.abs(z))).classes[: len(specs)]


def test_every_class_has_a_series() -> None:
    assert set(SERIES) == {c.code for c in TREND_CLASSES}


@pytest.mark.parametrize("code", list(SERIES))
def test_emerging_class_from_hand_built_series(code: str) -> None:
    got = classify([SERIES[code]])[0]
    assert got == code, f"{code}: got {got} ({TREND_CLASS_BY_CODE[got].label})"


@pytest.mark.parametrize(("spec", "code"), list(EDGE_CASES.items()))
def test_emerging_class_edge_cases(spec: str, code: str) -> None:
    assert classify([spec])[0] == code


def test_emerging_all_classes_in_one_call() -> None:
    codes = list(SERIES)
    got = classify([SERIES[c] for c in codes])
    assert got.tolist() == codes
    em = emerging_hotspots(np.vstack([z_series(SERIES["consecutive_hot"])] * 3 + [np.zeros(WEEKS)] * 20),
                           2 * ndtr(-np.abs(np.vstack([z_series(SERIES["consecutive_hot"])] * 3
                                                      + [np.zeros(WEEKS)] * 20))))
    assert em.run[:3].tolist() == [4, 4, 4] and em.hot[0].sum() == 4


def test_weights_from_pairs_is_symmetric_binary() -> None:
    w = weights_from_pairs(["a", "b", "c"], [0, 0, 1, 1], [1, 1, 2, 1])
    assert w.neighbours.toarray().tolist() == [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    assert w.star(transform="R").sum(axis=1).tolist() == pytest.approx([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match='"X"'):
        w.star(transform="X")  # type: ignore[arg-type]
