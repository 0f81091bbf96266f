"""AppTest of the English switch: every page each demo role can open, in English, with no Chinese UI label left.

Case data (place names, alert titles and evidence, rejected-row reasons) stays as the sources wrote it.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import snapshots
from dashboard.settings import load_settings
from dashboard.texts import TEXTS
from dashboard.viewer import ROLES
from view_fixtures import app_test, build_view_site

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")


def registered_pages() -> list[Any]:
    """app.py's PAGES, read without running app.py (which draws the app): its PageSpec class, the imports
    it needs and the PAGES assignment, executed on their own."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    keep = [node for node in tree.body
            if (isinstance(node, ast.ImportFrom) and node.module in ("__future__", "dataclasses", "dashboard.viewer"))
            or (isinstance(node, ast.ClassDef) and node.name == "PageSpec")
            or (isinstance(node, (ast.Assign, ast.AnnAssign)) and "PAGES" in ast.unparse(node).split("=")[0])]
    namespace: dict[str, Any] = {"__name__": __name__}  # dataclass() looks its module up in sys.modules
    exec(compile(ast.Module(body=keep, type_ignores=[]), "app.py", "exec"), namespace)  # noqa: S102
    return list(namespace["PAGES"])


PAGES = registered_pages()


def en(key: str) -> str:
    return TEXTS[key]["en"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_view_site(tmp_path_factory.mktemp("english"))


@pytest.fixture(scope="module")
def data_names(site: Path) -> list[str]:
    """Names from the data that may stay Chinese in English: the jurisdiction, units and workers, longest first."""
    settings = load_settings(site)
    snap = snapshots.open_current(settings.data_path)
    grids = pd.read_parquet(snap.file("grids.parquet"), columns=["township_name", "community_name", "grid_name"])
    workers = pd.read_parquet(snap.file("grid_workers.parquet"), columns=["name"])
    names = {"新城区", *grids.stack().astype("str"), *workers["name"].astype("str")}
    return sorted(names, key=len, reverse=True)


@pytest.fixture
def app(site: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return app_test(site, monkeypatch)


def in_english(app: AppTest) -> AppTest:
    at = app.run()
    at.segmented_control(key="gw_lang").set_value("en").run()
    assert not at.exception, at.exception
    return at


def ui_labels(at: AppTest) -> list[str]:
    """The page's own labels: titles, headings, metric and widget labels, tab labels, table headers, and the
    command screen's title bar and panel headings (its HTML). Not case data, not the breadcrumbs' place names."""
    labels = [e.value for kind in ("title", "header", "subheader") for e in at.get(kind)]
    labels += [m.label for m in at.metric]
    for kind in ("selectbox", "multiselect", "segmented_control", "radio", "toggle", "checkbox", "text_input",
                 "text_area", "date_input", "number_input", "slider", "select_slider", "button", "tab"):
        labels += [w.label for w in at.get(kind)
                   if w.label != TEXTS["lang_label"]["en"] and "-crumbs-up-" not in str(getattr(w, "key", ""))]
    labels += [str(c) for d in at.dataframe for c in d.value.columns]
    for block in (h.value for h in at.html):
        labels += re.findall(r'<h1>(.*?)</h1>|<span class="gw-sub">(.*?)</span>|<div class="gw-h">([^<]*)', block)
    flat = [part for item in labels for part in (item if isinstance(item, tuple) else (item,)) if part]
    return [html.unescape(str(x)) for x in flat]


def chinese_left(labels: list[str], names: list[str]) -> list[str]:
    out = []
    for label in labels:
        rest = label
        for name in names:
            rest = rest.replace(name, "")
        if CJK.search(rest):
            out.append(label)
    return out


def test_role_change_after_switching_to_english(app: AppTest) -> None:
    """format_func has the language bound: AppTest (like Streamlit) calls it outside a script run."""
    at = in_english(app)
    roles = at.selectbox(key="gw_role")
    assert list(roles.options) == [en(f"role_{r}") for r in ROLES]
    roles.set_value("grid_worker").run()  # raised ValueError: '网格员' is not in list
    assert not at.exception, at.exception
    assert at.selectbox(key="gw_role").value == "grid_worker"
    at.switch_page("pages/workbench.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == en("page_workbench")
    assert at.selectbox(key="gw_worker").label == en("viewer_worker")

    at.selectbox(key="gw_role").set_value("office").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="gw_role").value == "office"
    at.selectbox(key="gw_period").set_value("7d").run()
    town = at.selectbox(key="gw_township")
    town.set_value(town.options[1]).run()  # by its label, as the browser sends it
    assert not at.exception, at.exception
    assert at.query_params["period"] == "7d" and at.query_params["unit"].startswith("township:")
    assert at.query_params["lang"] == "en"
    assert at.selectbox(key="gw_period").options[1] == en("period_7d")
    assert at.selectbox(key="gw_township").options[0] == en("filter_all")


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_the_role_is_in_english(role: str, app: AppTest, data_names: list[str]) -> None:
    at = in_english(app)
    at.selectbox(key="gw_role").set_value("grid_worker").run()  # through a role change in English, then back
    at.selectbox(key="gw_role").set_value(role).run()
    assert not at.exception, at.exception
    pages = [spec for spec in PAGES if role in spec.roles]
    assert pages
    # AppTest runs a page whose url_path equals its file stem without app.py (pages/README.md): no sidebar,
    # and the session's widget state is gone afterwards. Such pages go last.
    for spec in sorted(pages, key=lambda s: Path(s.path).stem == s.url_path):
        at.switch_page(spec.path).run()
        assert not at.exception, (spec.path, at.exception)
        labels = ui_labels(at)
        assert en(spec.title) in labels, (spec.path, labels[:8])
        assert chinese_left(labels, data_names) == [], spec.path
        assert TEXTS[spec.title]["zh"] not in labels, spec.path
        if Path(spec.path).stem != spec.url_path:
            assert at.selectbox(key="gw_role").value == role and at.query_params["lang"] == "en", spec.path
