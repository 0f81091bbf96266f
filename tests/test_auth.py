"""Sign-in (#6): auth modes, claims → roles and grids, the login gate, and every page as an OIDC grid worker
in AppTest (`at.user` claims): nothing of other grids in any element, deck JSON included."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import appdb, auth, snapshots, views
from dashboard.settings import Settings, load_settings, settings_from_dict
from view_fixtures import app_test, build_view_site, open_site

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE_FILES = ("pages/command_screen.py", "pages/workbench.py", "pages/hotspots.py", "pages/leaders.py",
              "pages/supervision.py", "pages/data_quality.py", "pages/audit.py", "pages/reports.py")
OIDC = '[auth]\nmode = "oidc"\nworker_claim = "preferred_username"\nworker_column = "login"\n' \
       '[auth.role_map]\n"xf-gw" = ["grid_worker"]\n"xf-ld" = ["leader"]\n"xf-office" = ["office"]\n' \
       '"xf-admin" = ["admin"]\n"xf-jj" = ["discipline"]\n'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo site with sign-in by OIDC (demo data, so 示例数据 still shows; no role picker)."""
    cfg = build_view_site(tmp_path_factory.mktemp("auth"))
    cfg.write_text(cfg.read_text(encoding="utf-8") + OIDC, encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def data(site: Path) -> tuple[Settings, snapshots.Snapshot]:
    return open_site(site)


@pytest.fixture
def app(site: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return app_test(site, monkeypatch)


def worker(data: tuple[Settings, snapshots.Snapshot], worker_id: str = "W0001") -> tuple[str, frozenset[str]]:
    """(login, grid ids) of a grid worker of the site."""
    _, snap = data
    workers = views.read_table(snap, "grid_workers")
    login = str(workers.loc[workers["worker_id"] == worker_id, "login"].iloc[0])
    links = views.read_table(snap, "worker_grids")
    return login, frozenset(links.loc[links["worker_id"] == worker_id, "grid_id"].astype("str"))


def claims(login: str, *groups: str, name: str = "测试用户") -> dict[str, Any]:
    return {"is_logged_in": True, "sub": f"sub-{login}", "preferred_username": login, "name": name,
            "groups": list(groups)}


def walk(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from walk(child)


def page_text(at: AppTest) -> str:
    """Everything the run sent: element protos (deck JSON and Markdown included) and dataframe contents."""
    parts = []
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None:
            continue
        parts.append(str(proto))
        if type(node).__name__ == "Dataframe":
            parts.append(node.value.to_csv())
        if type(node).__name__ == "UnknownElement" and getattr(node, "type", "") == "deck_gl_json_chart":
            parts.append(proto.json)
    return "\n".join(parts)


def foreign_ids(data: tuple[Settings, snapshots.Snapshot], grids: frozenset[str]) -> tuple[set[str], set[str]]:
    """(case ids, grid ids) outside `grids`."""
    _, snap = data
    cases = views.read_table(snap, "cases", ("case_id", "grid_id"))
    other = cases[~cases["grid_id"].astype("str").isin(sorted(grids)).to_numpy()]
    all_grids = set(views.read_table(snap, "grids", ("grid_id",))["grid_id"].astype("str"))
    return set(other["case_id"].astype("str")), all_grids - set(grids)


# --- settings and pure claim logic --------------------------------------------------------------------------

def test_mode_defaults_follow_demo_and_secrets() -> None:
    assert auth.resolve_mode(settings_from_dict({"demo": {"enabled": True}}), secrets_configured=True) == "demo"
    assert auth.resolve_mode(settings_from_dict({}), secrets_configured=True) == "oidc"
    assert auth.resolve_mode(settings_from_dict({}), secrets_configured=False) == "none"
    assert auth.resolve_mode(settings_from_dict({"demo": {"enabled": True}, "auth": {"mode": "oidc"}}),
                             secrets_configured=False) == "oidc"


@pytest.mark.parametrize("key, value", [("roles_claim", "groups; DROP TABLE x"), ("worker_claim", "sub'--"),
                                        ("provider", "a b"), ("name_claims", ["name", "x)"])])
def test_claim_identifiers_are_validated(key: str, value: Any) -> None:
    from loaders.errors import ConfigError

    with pytest.raises(ConfigError, match=f"auth.{key}"):
        settings_from_dict({"auth": {key: value}})


def test_unknown_role_in_role_map_is_rejected() -> None:
    from loaders.errors import ConfigError

    with pytest.raises(ConfigError, match="role_map"):
        settings_from_dict({"auth": {"role_map": {"g": ["superuser"]}}})


def test_claims_map_to_roles_and_worker_grids(data: tuple[Settings, snapshots.Snapshot]) -> None:
    s, snap = data
    login, grids = worker(data)
    workers = views.read_table(snap, "grid_workers")
    links = views.read_table(snap, "worker_grids")
    ident = auth.identity_from_claims(claims(login, "xf-gw", "unrelated"), s, workers=workers, worker_grids=links)
    assert ident.ok and ident.viewer.roles == {"grid_worker"} and ident.viewer.grids == grids
    assert ident.viewer.worker_id == "W0001" and ident.viewer.can_see_points
    leader = auth.identity_from_claims(claims("x", "xf-ld"), s, workers=workers, worker_grids=links).viewer
    assert leader.roles == {"leader"} and leader.sees_all and not leader.can_see_points
    assert auth.identity_from_claims({"sub": "x", "groups": "xf-office xf-jj"}, s, workers=workers,
                                     worker_grids=links).viewer.roles == {"office", "discipline"}
    assert auth.identity_from_claims(claims("x", "nobody-group"), s, workers=workers,
                                     worker_grids=links).reason == "no_role"
    assert auth.identity_from_claims(claims("no-such-login", "xf-gw"), s, workers=workers,
                                     worker_grids=links).reason == "no_worker"
    # a claim that looks like a pattern or SQL matches nothing
    assert auth.identity_from_claims(claims("gw0001' OR '1'='1", "xf-gw"), s, workers=workers,
                                     worker_grids=links).reason == "no_worker"


# --- the gate ------------------------------------------------------------------------------------------------

def assert_login_only(at: AppTest, text: str) -> None:
    assert not at.exception, at.exception
    assert not at.metric and not at.dataframe and not at.get("deck_gl_json_chart")
    assert not at.sidebar.selectbox  # no filters, no role picker
    shown = page_text(at)
    assert text in shown


def test_unauthenticated_sees_only_the_login_prompt(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "secrets_auth_configured", lambda: True)
    app.user = {"is_logged_in": False}
    at = app.run()
    assert_login_only(at, "统一身份认证登录")
    assert [b.label for b in at.button] == ["统一身份认证登录"]
    for query in ({"unit": "township:150102001"}, {"screen": "1"}):
        at2 = AppTest.from_file(APP, default_timeout=90)
        at2.user = {"is_logged_in": False}
        for k, v in query.items():
            at2.query_params[k] = v
        assert_login_only(at2.run(), "统一身份认证登录")


def test_oidc_without_secrets_says_so(app: AppTest) -> None:
    app.user = {"is_logged_in": False}
    assert_login_only(app.run(), "登录未配置")


def test_user_without_role_sees_no_access(app: AppTest) -> None:
    app.user = claims("someone", "other-group", name="王五")
    at = app.run()
    assert_login_only(at, "无访问权限")
    assert any("王五" in e.value for e in at.error)


PAGE_TITLES = {"pages/workbench.py": "网格工作台", "pages/hotspots.py": "热点追踪", "pages/leaders.py": "领导包案",
               "pages/supervision.py": "督办督查", "pages/data_quality.py": "数据质量", "pages/audit.py": "审计日志"}


@pytest.mark.parametrize("groups, pages", [
    (("xf-gw",), {"pages/workbench.py"}),
    (("xf-ld",), {"pages/hotspots.py", "pages/leaders.py", "pages/supervision.py"}),
    (("xf-office",), {"pages/hotspots.py", "pages/leaders.py", "pages/supervision.py", "pages/data_quality.py"}),
    (("xf-admin",), set(PAGE_TITLES) - {"pages/workbench.py"}),
])
def test_roles_get_their_pages(app: AppTest, data: tuple[Settings, snapshots.Snapshot], groups: tuple[str, ...],
                               pages: set[str]) -> None:
    app.user = claims(worker(data)[0], *groups)
    at = app.run()
    assert not at.exception, at.exception
    for page, title in PAGE_TITLES.items():
        if page not in pages:  # not registered for this session: no URL or switch reaches it
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(page)
            continue
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert title in [h.value for h in at.title], (groups, page)


# --- every page as a grid worker -----------------------------------------------------------------------------

def test_grid_worker_sees_nothing_of_other_grids_on_any_page(app: AppTest,
                                                            data: tuple[Settings, snapshots.Snapshot]) -> None:
    login, grids = worker(data)
    other_cases, other_grids = foreign_ids(data, grids)
    app.user = claims(login, "xf-gw")
    at = app.run()
    assert not at.exception, at.exception
    seen_pages = 0
    for page in PAGE_FILES:
        try:
            at.switch_page(page)
        except ValueError:  # not in a grid worker's navigation at all
            assert page not in ("pages/command_screen.py", "pages/workbench.py")
            continue
        at.run()
        assert not at.exception, (page, at.exception)
        text = page_text(at)
        leaked_cases = [c for c in other_cases if c in text]
        leaked_grids = [g for g in other_grids if g in text]
        assert not leaked_cases and not leaked_grids, (page, leaked_cases[:5], leaked_grids[:5])
        for chart in at.get("deck_gl_json_chart"):
            doc = json.loads(chart.proto.json)
            for layer in doc.get("layers", []):
                rows = layer.get("data")
                features = rows.get("features", []) if isinstance(rows, dict) else (rows or [])
                for row in features:
                    props = row.get("properties", row) if isinstance(row, dict) else {}
                    assert str(props.get("case_id", "")) not in other_cases
            seen_pages += 1
    assert seen_pages >= 1  # the workbench map at least was checked
    # the workbench shows this worker's own cases (the check above is not vacuous)
    at.switch_page("pages/workbench.py").run()
    own = views.read_table(data[1], "cases", ("case_id", "grid_id", "status"))
    own = own[own["grid_id"].astype("str").isin(sorted(grids)).to_numpy()]
    assert any(c in page_text(at) for c in own["case_id"].astype("str"))


def test_url_unit_of_another_township_falls_back(app: AppTest, data: tuple[Settings, snapshots.Snapshot]) -> None:
    login, grids = worker(data)
    _, snap = data
    units = views.read_table(snap, "grids", ("grid_id", "township_id"))
    mine = set(units.loc[units["grid_id"].astype("str").isin(sorted(grids)), "township_id"].astype("str"))
    other = sorted(set(units["township_id"].astype("str")) - mine)[0]
    other_cases, other_grids = foreign_ids(data, grids)
    app.user = claims(login, "xf-gw")
    app.query_params["unit"] = f"township:{other}"
    at = app.run()
    assert not at.exception, at.exception
    assert at.query_params.get("unit") in (None, "", [])  # fell back to the worker's whole scope
    at.switch_page("pages/workbench.py").run()
    text = page_text(at)
    assert not [c for c in other_cases if c in text] and not [g for g in other_grids if g in text]


def test_sign_in_and_personal_page_views_are_audited(app: AppTest, data: tuple[Settings, snapshots.Snapshot]) -> None:
    s, _ = data
    login, _ = worker(data, "W0002")
    app.user = claims(login, "xf-gw", name="审计测试")
    at = app.run()
    at.switch_page("pages/workbench.py").run()
    assert not at.exception, at.exception
    db = appdb.open_app_db(s)
    rows = appdb.audit_entries(db, who_contains="审计测试")
    assert {"login", "view_personal_data"} <= set(rows["action"])
    view = rows[rows["action"] == "view_personal_data"].iloc[0]
    assert view["object_id"] == "grid-workbench" and view["details"]["roles"] == ["grid_worker"]
    assert view["details"]["grids"] == len(worker(data, "W0002")[1])
    assert (rows["action"] == "login").sum() == 1
    at.run()  # a rerun of the same page is not a new view
    assert len(appdb.audit_entries(db, who_contains="审计测试")) == len(rows)


def test_config_reload_is_audited(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "site"
    shutil.copytree(site.parent, cfg)
    path = cfg / "gridwatch.toml"
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(path))
    at = AppTest.from_file(APP, default_timeout=90)
    at.user = claims("adm", "xf-admin", name="管理员甲")
    at.run()
    path.write_text(path.read_text(encoding="utf-8").replace("[refresh]\n", "[refresh]\ninterval_minutes = 7\n"),
                    encoding="utf-8")
    at.run()
    assert not at.exception, at.exception
    rows = appdb.audit_entries(appdb.open_app_db(load_settings(path)), action="config_reload")
    assert len(rows) == 1 and rows.iloc[0]["details"]["seen_by"].startswith("管理员甲")


def test_audit_page_lists_and_filters(app: AppTest, data: tuple[Settings, snapshots.Snapshot]) -> None:
    s, _ = data
    db = appdb.open_app_db(s)
    appdb.audit(db, user="筛选甲", action="export", object_type="export", object_id="weekly.xlsx")
    appdb.audit(db, user="筛选乙", action="login", object_type="session", object_id="x")
    app.user = claims("adm", "xf-admin", name="管理员")
    at = app.run()
    at.switch_page("pages/audit.py").run()
    assert not at.exception, at.exception
    at.text_input(key="au_who").input("筛选甲").run()
    table = at.dataframe[0].value
    assert set(table.iloc[:, 1]) == {"筛选甲"} and "weekly.xlsx" in set(table.iloc[:, 4])
    for attack in ("' OR '1'='1", "%", "_", "筛选甲'; DELETE FROM audit_log; --"):
        at.text_input(key="au_who").input(attack).run()
        assert not at.exception, (attack, at.exception)
        assert not at.dataframe or len(at.dataframe[0].value) == 0, attack
    assert len(appdb.audit_entries(db, who_contains="筛选")) == 2  # nothing was deleted


def test_audit_page_is_admin_only(app: AppTest) -> None:
    app.user = claims("u", "xf-office")
    at = app.run()
    assert not at.exception, at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/audit.py")
    # run on its own (legacy path), the page itself refuses a non-admin
    import sys

    monkey = AppTest.from_file(str(Path(APP).parent / "pages" / "audit.py"), default_timeout=60)
    monkey.user = claims("u", "xf-office")
    sys.path.insert(0, str(Path(APP).parent))
    page = monkey.run()
    assert not page.exception, page.exception
    assert any("admin" in e.value for e in page.error) and not page.dataframe and not page.title


def test_audit_log_has_no_update_or_delete_api(data: tuple[Settings, snapshots.Snapshot]) -> None:
    import sqlalchemy as sa

    names = [n for n in dir(appdb) if "audit" in n.lower()]
    assert not [n for n in names if any(w in n.lower() for w in ("update", "delete", "remove", "purge", "edit"))]
    db = appdb.open_app_db(data[0])
    row = appdb.audit(db, user="a", action="export", object_type="export", object_id="f")
    for stmt in (sa.update(appdb.audit_table).where(appdb.audit_table.c.id == row).values(who="b"),
                 sa.delete(appdb.audit_table).where(appdb.audit_table.c.id == row)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with db.begin(write=True) as conn:
                conn.execute(stmt)
    assert appdb.audit_entries(db, who_contains="a", action="export")["id"].isin([row]).any()


def test_demo_config_keeps_the_picker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = build_view_site(tmp_path, cases=1000, grids=20)
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(cfg))
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="gw_role").value == "office"
    assert any("示例数据" in w.value for w in at.warning)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("enabled = true", "enabled = false")
                   + '[auth]\nmode = "demo"\n', encoding="utf-8")
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="gw_role").value == "office"
    # the snapshot is still demo data, so 示例数据 is the banner; with real data it would be 演示模式
    assert any("演示模式" in w.value or "示例数据" in w.value for w in at.warning)


def test_mode_none_shows_a_banner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = build_view_site(tmp_path, cases=1000, grids=20)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("enabled = true", "enabled = false"), encoding="utf-8")
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(cfg))
    monkeypatch.setattr(auth, "secrets_auth_configured", lambda: False)
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception, at.exception
    assert any("未启用登录" in i.value for i in at.info)
    with pytest.raises(KeyError):
        at.sidebar.selectbox(key="gw_role")
