"""Privacy in the data layer (#6): masking of every personal column, addresses cut to the community,
accusation content for discipline only, small-count suppression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard import palette, snapshots, views
from dashboard.filters import Filters
from dashboard.settings import Settings, load_settings, settings_from_dict
from dashboard.suppression import suppress_small_counts, threshold_for
from dashboard.viewer import AccessDenied, grids_of_worker, make_viewer
from view_fixtures import build_view_site

PERSONAL = ("petitioner_name", "petitioner_phone", "petitioner_id_no")
ROLE_VIEWERS = ("leader", "office", "admin", "discipline")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, snapshots.Snapshot]:
    s = load_settings(build_view_site(tmp_path_factory.mktemp("privacy")))
    return s, snapshots.open_current(s.data_path)


def worker_viewer(snap: snapshots.Snapshot, worker_id: str = "W0001"):  # type: ignore[no-untyped-def]
    grids = grids_of_worker(worker_id, views.read_table(snap, "worker_grids"))
    return make_viewer(["grid_worker"], grids=grids, worker_id=worker_id)


def test_snapshot_masks_every_personal_column(data: tuple[Settings, snapshots.Snapshot]) -> None:
    _, snap = data
    cases = pd.read_parquet(snap.file("cases.parquet"), columns=list(PERSONAL))
    names = cases["petitioner_name"].dropna()
    assert len(names) and names.str.fullmatch(r".\*+").all()
    phones = cases["petitioner_phone"].dropna()
    assert len(phones) and phones.str.fullmatch(r"1\d{2}\*{4}\d{4}|\*{6}\d{2}").all()
    ids = cases["petitioner_id_no"].dropna()
    assert len(ids) and (ids == "*" * 18).all()
    workers = pd.read_parquet(snap.file("grid_workers.parquet"))
    assert workers["phone"].dropna().str.contains(r"\*{4}").all()


@pytest.mark.parametrize("role", [*ROLE_VIEWERS, "grid_worker"])
def test_scoped_cases_keep_masking_and_cut_addresses(data: tuple[Settings, snapshots.Snapshot], role: str) -> None:
    _, snap = data
    viewer = worker_viewer(snap) if role == "grid_worker" else make_viewer([role])
    cases = views.scoped_cases(viewer, snap, ["case_id", "address", "community_id", *PERSONAL])
    assert len(cases)
    assert cases["petitioner_name"].dropna().str.fullmatch(r".\*+").all()
    assert (cases["petitioner_id_no"].dropna() == "*" * 18).all()
    addresses = cases["address"].dropna()
    if role == "grid_worker":  # door-to-door work in their own grids: house numbers kept
        assert addresses.str.contains(r"\d+号$").any()
    else:
        names = views.read_table(snap, "grids", ("community_id", "community_name")).drop_duplicates("community_id")
        comm = cases.loc[addresses.index, "community_id"].astype("str").map(
            names.set_index(names["community_id"].astype("str"))["community_name"])
        assert len(addresses) and all(a.endswith(c) for a, c in zip(addresses, comm, strict=True) if isinstance(c, str))
        assert not addresses.str.contains(r"\d+号$").any()


@pytest.mark.parametrize("role", ["leader", "office", "admin", "grid_worker"])
def test_accusation_content_hidden_from_non_discipline(data: tuple[Settings, snapshots.Snapshot], role: str) -> None:
    _, snap = data
    viewer = make_viewer([role]) if role != "grid_worker" else worker_viewer(snap)
    cases = views.scoped_cases(viewer, snap)
    acc = cases[cases["is_accusation"].fillna(False).astype(bool).to_numpy()]
    if role != "grid_worker":
        assert len(acc) > 10  # counted, not removed
    for col in ("summary", "subcategory", "address", *PERSONAL):
        assert acc[col].isna().all(), col
    with pytest.raises(AccessDenied):
        views.restricted_texts(viewer, snap)


def test_discipline_reads_accusation_texts(data: tuple[Settings, snapshots.Snapshot]) -> None:
    _, snap = data
    viewer = make_viewer(["discipline"])
    texts = views.restricted_texts(viewer, snap)
    cases = views.scoped_cases(viewer, snap, ["case_id", "is_accusation", "petitioner_name"])
    acc = cases[cases["is_accusation"].fillna(False).astype(bool).to_numpy()]
    assert set(texts["case_id"]) == set(acc["case_id"]) and texts["summary"].notna().any()
    assert acc["petitioner_name"].notna().any()  # discipline sees the (masked) accuser


def test_suppress_small_counts() -> None:
    frame = pd.DataFrame({"unit": ["a", "b", "c", "d"], "cases": [0, 1, 4, 5], "open": [7, 2, 0, 3]})
    out = suppress_small_counts(frame, ["cases", "open", "missing"], 5)
    assert list(out["cases"]) == [0, "<5", "<5", 5] and list(out["open"]) == [7, "<5", 0, "<5"]
    assert out["cases"].dtype == object and frame["cases"].dtype == np.int64  # input untouched
    assert list(suppress_small_counts(frame, ["cases"], 3)["cases"]) == [0, "<3", 4, 5]


def test_threshold_for_roles() -> None:
    s = settings_from_dict({})
    assert threshold_for(make_viewer(["leader"]), s) == 5
    assert threshold_for(make_viewer(["discipline"]), s) == 5
    for role in ("office", "admin"):
        assert threshold_for(make_viewer([role]), s) is None
    assert threshold_for(make_viewer(["leader"]), settings_from_dict({"privacy": {"small_count_threshold": 3}})) == 3
    assert threshold_for(make_viewer(["leader"]), settings_from_dict({"privacy": {"small_count_threshold": 1}})) is None


def test_map_tooltips_suppress_small_counts_for_leaders(data: tuple[Settings, snapshots.Snapshot]) -> None:
    s, snap = data
    f = Filters()
    leader = views.map_data(make_viewer(["leader"]), snap, s, f, "grid", "cases")
    office = views.map_data(make_viewer(["office"]), snap, s, f, "grid", "cases")
    lead = {p["properties"]["name"] + p["properties"]["community_name"]: p["properties"]
            for p in leader.areas["features"]}
    offi = {p["properties"]["name"] + p["properties"]["community_name"]: p["properties"]
            for p in office.areas["features"]}
    small = [k for k, p in offi.items() if 0 < (p["value"] or 0) < 5]
    assert small, "the fixture should have grids with 1-4 cases in the period"
    for k in small:
        assert lead[k]["shown"] == "<5" and not lead[k]["value"] == lead[k]["value"]  # NaN; Streamlit escapes it
    big = [k for k, p in offi.items() if (p["value"] or 0) >= 5]
    assert all(lead[k]["shown"] == offi[k]["shown"] for k in big)
    assert (leader.columns["value"] >= 5).all()
    # their colour is one grey of its own ("<5" in the legend), not their class; the classes come from the rest
    suppressed = [*palette.SUPPRESSED]
    assert all(lead[k]["fill"][:3] == suppressed for k in small)
    assert not any(p["fill"][:3] == suppressed for p in offi.values())
    assert (palette.hex_of(palette.SUPPRESSED), "<5") in leader.legend and leader.legend != office.legend
    assert all(lead[k]["fill"][:3] != suppressed for k in big)
