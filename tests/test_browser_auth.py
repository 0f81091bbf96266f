"""Sign-in and hardening in a real browser (#6), headless Chromium against `streamlit run app.py`.

1. OIDC end to end: oidc-provider-mock 0.3.x (the 0.4 line needs Python 3.12) runs in this process on
   127.0.0.1 with predefined users (sub + claims), Streamlit gets a temporary secrets file (`--secrets.files`,
   never the repo's .streamlit/) whose [auth] points at it, and Gridwatch runs with `[auth] mode = "oidc"`
   and a role_map. Without a session every URL shows the login prompt only; a grid worker, a leader and an
   office user (each in a fresh browser context) sign in through the mock's login form and land on what
   their role allows; a user whose groups map to no role gets the no-access message.
2. XSS: `<img src=x onerror=alert(1)>` as every case's summary and subcategory, grid name and leader name,
   put into the demo sources before the refresh, shows as text on the 网格工作台 (cards, summary, map tooltip),
   in the 热点追踪 evidence and in the 领导包案 case list, and no dialog ever opens.

The mock's login page links pico.css from cdn.jsdelivr.net (its template, not Gridwatch); that request is
aborted by the browser helpers and is the only outside request allowed, and only from a mock page.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

import browser
from browser import is_local, streamlit_server
from view_fixtures import build_view_site

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parent.parent
XSS = "<img src=x onerror=alert(1)>"
CASE_ID = re.compile(r"(?<![A-Z0-9])(?:XF|TJ|RX)\d{14,}(?!\d)")
WAIT = 60_000  # ms: first runs of a page read the snapshot and build caches on a 2-core CI runner
ALL_PAGES = ("指挥大屏", "网格工作台", "热点追踪", "领导包案", "督办督查", "报表", "数据质量", "审计日志")
NOT_FOUND = ("the server responded with a status of 404 (Not Found)", "does not seem to exist")
OIDC_CONFIG = ('[auth]\nmode = "oidc"\nworker_claim = "preferred_username"\nworker_column = "login"\n'
               '[auth.role_map]\n"xf-gw" = ["grid_worker"]\n"xf-ld" = ["leader"]\n"xf-office" = ["office"]\n')


# --- recording what a page does ------------------------------------------------------------------------

@dataclass
class Recorder:
    """Every request (URL, URL of the document that made it), console error (page URL, text), dialog."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def errors_outside(self, origin: str, *, not_found_ok: bool = False) -> list[str]:
        """Console errors and uncaught exceptions, except those of pages of `origin` (the mock provider);
        `not_found_ok`: also except Streamlit's answer to a URL of a page the session does not have (a 404
        and "The page that you have requested does not seem to exist. Running the app's main page.")."""
        return [f"{url}: {text}" for url, text in self.errors if not url.startswith(origin + "/")
                and not (not_found_ok and any(n in text for n in NOT_FOUND))]


def _frame_url(request: Request) -> str:
    try:
        return request.frame.url
    except Exception:  # requests of service workers have no frame
        return ""


@contextlib.contextmanager
def watched_page(chromium: Browser) -> Iterator[tuple[Page, Recorder]]:
    """A page in a fresh browser context (no cookies: a new sign-in), recording requests, errors, dialogs.

    Requests leaving 127.0.0.1 are aborted (tests/browser.py `open_page`); a dialog is recorded and dismissed.
    """
    with contextlib.contextmanager(browser.open_page)(chromium) as page:
        rec = Recorder()
        page.context.on("request", lambda r: rec.requests.append((r.url, _frame_url(r))))
        page.on("console", lambda m: rec.errors.append((page.url, m.text)) if m.type == "error" else None)
        page.on("pageerror", lambda exc: rec.errors.append((page.url, str(exc))))

        def on_dialog(dialog: Any) -> None:
            rec.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.set_default_timeout(WAIT)
        yield page, rec


def body_text(page: Page) -> str:
    """All text of the document, hidden nodes (collapsed expanders) included."""
    return str(page.evaluate("() => document.body.textContent || ''"))


def nav_titles(page: Page) -> list[str]:
    return [text.strip() for text in page.get_by_test_id("stSidebarNavLink").all_inner_texts()]


def pages_listed(titles: list[str]) -> set[str]:
    return {name for name in ALL_PAGES if any(name in title for title in titles)}


# --- OIDC: site, provider, Streamlit with a temporary secrets file ----------------------------------------

@dataclass(frozen=True)
class Account:
    sub: str
    claims: dict[str, Any]


@dataclass(frozen=True)
class OidcSite:
    config: Path
    worker_login: str
    worker_grids: frozenset[str]
    worker_grid_names: frozenset[str]
    own_case_ids: frozenset[str]       # every case of the worker's grids in the snapshot
    other_case_ids: frozenset[str]     # every other case
    workbench_case_ids: tuple[str, ...]  # the cards the data layer gives this worker (views.workbench)
    accounts: dict[str, Account]


@pytest.fixture(scope="module")
def oidc_site(tmp_path_factory: pytest.TempPathFactory) -> OidcSite:
    """The demo site with `[auth] mode = "oidc"`; the grid worker is the one with the most open cases."""
    from dashboard import auth, snapshots, views
    from dashboard.settings import load_settings
    from loaders.enums import OPEN_STATUSES

    cfg = build_view_site(tmp_path_factory.mktemp("oidc-site"))
    cfg.write_text(cfg.read_text(encoding="utf-8") + OIDC_CONFIG, encoding="utf-8")
    s = load_settings(cfg)
    snap = snapshots.open_current(s.data_path)
    workers = views.read_table(snap, "grid_workers", ("worker_id", "name", "login"))
    links = views.read_table(snap, "worker_grids", ("worker_id", "grid_id"))
    cases = views.read_table(snap, "cases", ("case_id", "grid_id", "status"))
    open_per_grid = cases[cases["status"].isin(sorted(OPEN_STATUSES)).to_numpy()]["grid_id"].astype("str") \
        .value_counts()
    per_worker = links.assign(n=links["grid_id"].astype("str").map(open_per_grid).fillna(0)) \
        .groupby("worker_id")["n"].sum().sort_values(ascending=False, kind="stable")
    worker_id = str(per_worker.index[0])
    login = str(workers.loc[workers["worker_id"] == worker_id, "login"].iloc[0])
    accounts = {
        "grid_worker": Account("u-grid-worker", {"preferred_username": login, "name": "网格员测试",
                                                 "groups": ["xf-gw"]}),
        "leader": Account("u-leader", {"preferred_username": "leader1", "name": "领导测试", "groups": ["xf-ld"]}),
        "office": Account("u-office", {"preferred_username": "office1", "name": "联席办测试",
                                       "groups": ["xf-office"]}),
        "nobody": Account("u-nobody", {"preferred_username": "nobody1", "name": "无角色测试",
                                       "groups": ["other-department"]}),
    }
    # The viewer the app builds from these claims, and what the data layer gives it.
    gw = accounts["grid_worker"]
    ident = auth.identity_from_claims({"sub": gw.sub, **gw.claims}, s, workers=workers, worker_grids=links)
    assert ident.ok and ident.viewer.grids, ident
    mine = frozenset(ident.viewer.grids)
    wb = views.workbench(ident.viewer, snap, s)
    own = cases["grid_id"].astype("str").isin(mine).to_numpy()
    return OidcSite(
        config=cfg, worker_login=login, worker_grids=mine, worker_grid_names=frozenset(wb.grid_names),
        own_case_ids=frozenset(cases.loc[own, "case_id"].astype("str")),
        other_case_ids=frozenset(cases.loc[~own, "case_id"].astype("str")),
        workbench_case_ids=tuple(wb.cases["case_id"].head(views.WORKBENCH_CARDS).astype("str")),
        accounts=accounts)


@pytest.fixture(scope="module")
def provider(oidc_site: OidcSite) -> Iterator[str]:
    """oidc-provider-mock on 127.0.0.1 (its run_server_in_thread binds "localhost"), with the test users
    predefined (sub + claims: typing a sub into its login form signs in with those claims)."""
    import werkzeug.serving
    from oidc_provider_mock import User
    from oidc_provider_mock import app as provider_app

    users = [User(sub=a.sub, claims=dict(a.claims)) for a in oidc_site.accounts.values()]
    server = werkzeug.serving.make_server("127.0.0.1", 0, provider_app(user_claims=users), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                              name="oidc-provider-mock")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def oidc_app(oidc_site: OidcSite, provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Gridwatch with Streamlit's [auth] in a temporary secrets file pointing at the mock provider."""
    secrets_file = tmp_path_factory.mktemp("oidc-secrets") / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'  # Streamlit fills in server.port
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "gridwatch-test"\n'
        f'client_secret = "{secrets.token_hex(16)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n', encoding="utf-8")
    env = {"GRIDWATCH_CONFIG": str(oidc_site.config), "NO_PROXY": "127.0.0.1,localhost",
           "no_proxy": "127.0.0.1,localhost"}
    with streamlit_server(ROOT / "app.py", env=env, cwd=ROOT,
                          args=["--secrets.files", str(secrets_file)]) as url:
        yield url


def sign_in(page: Page, app_url: str, provider: str, account: Account) -> None:
    """From the login prompt through the mock's login form (type the sub, Authorize) back to the app."""
    page.goto(f"{app_url}/")
    page.get_by_role("button", name="统一身份认证登录").click()
    page.wait_for_url(lambda url: url.startswith(f"{provider}/oauth2/authorize"))
    page.locator("input[name=sub]").fill(account.sub)
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_url(lambda url: url.startswith(f"{app_url}/") and "oauth2callback" not in url)


def check_requests(rec: Recorder, app_url: str, provider: str, *, signed_in: bool = True) -> None:
    """Nothing left 127.0.0.1 except what the mock's own pages asked for (its CDN stylesheet, aborted), and
    every loopback request went to the app or the mock; a sign-in went through the mock's authorization
    endpoint and came back to the app's /oauth2callback."""
    urls = [url for url, _ in rec.requests]
    if signed_in:
        assert any(u.startswith(f"{provider}/oauth2/authorize") for u in urls)
        assert any(u.startswith(f"{app_url}/oauth2callback?") for u in urls)
    foreign = [url for url, frame in rec.requests if not is_local(url) and not frame.startswith(f"{provider}/")]
    assert foreign == [], f"requests leaving 127.0.0.1: {foreign}"
    ports = {urlsplit(app_url).port, urlsplit(provider).port}
    stray = [url for url, _ in rec.requests
             if url.startswith("http") and is_local(url) and urlsplit(url).port not in ports]
    assert stray == [], f"loopback requests to neither the app nor the provider: {stray}"


def assert_only_login_prompt(page: Page) -> None:
    page.get_by_role("heading", name="请登录").wait_for()
    page.get_by_role("button", name="统一身份认证登录").wait_for()
    page.wait_for_timeout(1500)  # anything else the run would send has arrived by now
    assert page.get_by_test_id("stSidebarNavLink").count() == 0
    for testid in ("stDeckGlJsonChart", "stDataFrame", "stMetric", "stVegaLiteChart", "stSelectbox"):
        assert page.get_by_test_id(testid).count() == 0, testid
    assert page.locator(".gw-card").count() == 0
    text = body_text(page)
    assert CASE_ID.findall(text) == []
    for word in ("网格工作台", "热点追踪", "信访态势", "已登录"):
        assert word not in text, word


def test_without_a_session_every_url_shows_only_the_login_prompt(chromium: Browser, oidc_app: str,
                                                                  provider: str) -> None:
    with watched_page(chromium) as (page, rec):
        page.goto(f"{oidc_app}/")
        assert_only_login_prompt(page)
        assert rec.errors_outside(provider) == []
        # Deep links: without a session the app registers no page but the login prompt, so Streamlit
        # answers 404 and says so in the console ("... does not seem to exist. Running the app's main
        # page.") before showing the prompt: nothing tells which pages exist behind the sign-in.
        for path in ("/grid-workbench", "/hot-spots?unit=township:x", "/leader-cases", "/audit-log",
                     "/data-quality", "/command?screen=1"):
            page.goto(f"{oidc_app}{path}")
            assert_only_login_prompt(page)
        assert rec.errors_outside(provider, not_found_ok=True) == []
        check_requests(rec, oidc_app, provider, signed_in=False)


def test_grid_worker_signs_in_and_sees_only_their_grids(chromium: Browser, oidc_app: str, provider: str,
                                                        oidc_site: OidcSite) -> None:
    with watched_page(chromium) as (page, rec):
        sign_in(page, oidc_app, provider, oidc_site.accounts["grid_worker"])
        page.get_by_role("heading", name="网格工作台").wait_for()  # their start page
        side = page.get_by_test_id("stSidebar")
        side.get_by_text("已登录：网格员测试").wait_for()
        assert pages_listed(nav_titles(page)) == {"指挥大屏", "网格工作台", "报表"}
        expected = oidc_site.workbench_case_ids
        assert len(expected) >= 3, "the chosen worker should have open cases"
        # Every card is there (each case: a card and a 事由 expander with the case id).
        page.wait_for_function("(n) => document.querySelectorAll('[data-testid=\"stExpander\"]').length >= n",
                               arg=len(expected), timeout=WAIT)
        page.wait_for_timeout(1000)
        cards = "\n".join(page.get_by_test_id("stExpander").all_text_contents())
        shown = set(CASE_ID.findall(cards))
        assert shown == set(expected), (sorted(shown - set(expected))[:5], sorted(set(expected) - shown)[:5])
        anywhere = set(CASE_ID.findall(body_text(page)))  # cards, alerts, everything on the page
        assert not anywhere & oidc_site.other_case_ids, sorted(anywhere & oidc_site.other_case_ids)[:5]
        assert anywhere <= oidc_site.own_case_ids
        mine = page.get_by_text("我的网格：").first.inner_text()
        listed = set(mine.split("：", 1)[1].strip().split("、"))
        assert listed == set(oidc_site.worker_grid_names)
        assert rec.errors_outside(provider) == []
        check_requests(rec, oidc_app, provider)


def test_leader_signs_in_to_the_command_screen_without_data_quality(chromium: Browser, oidc_app: str,
                                                                     provider: str, oidc_site: OidcSite) -> None:
    with watched_page(chromium) as (page, rec):
        sign_in(page, oidc_app, provider, oidc_site.accounts["leader"])
        page.get_by_text("信访态势").first.wait_for()  # 指挥大屏, the default page
        page.get_by_test_id("stSidebar").get_by_text("已登录：领导测试").wait_for()
        assert pages_listed(nav_titles(page)) == {"指挥大屏", "热点追踪", "领导包案", "督办督查", "报表"}
        assert rec.errors_outside(provider) == []
        page.goto(f"{oidc_app}/data-quality")  # not theirs: the URL does not open it
        page.get_by_text("信访态势").first.wait_for()
        page.get_by_test_id("stSidebar").get_by_text("已登录：领导测试").wait_for()  # still signed in
        assert page.get_by_role("heading", name="数据质量").count() == 0
        assert "数据质量" not in pages_listed(nav_titles(page))
        assert rec.errors_outside(provider, not_found_ok=True) == []
        check_requests(rec, oidc_app, provider)


def test_office_user_signs_in_and_opens_the_hotspot_tracker(chromium: Browser, oidc_app: str, provider: str,
                                                            oidc_site: OidcSite) -> None:
    with watched_page(chromium) as (page, rec):
        sign_in(page, oidc_app, provider, oidc_site.accounts["office"])
        page.get_by_text("信访态势").first.wait_for()
        page.get_by_test_id("stSidebar").get_by_text("已登录：联席办测试").wait_for()
        assert pages_listed(nav_titles(page)) == {"指挥大屏", "热点追踪", "领导包案", "督办督查", "报表", "数据质量"}
        page.get_by_test_id("stSidebarNavLink").filter(has_text="热点追踪").click()
        page.get_by_role("heading", name="热点追踪").wait_for()
        page.wait_for_url(lambda url: urlsplit(url).path.endswith("/hot-spots"))
        page.get_by_text("选择预警").first.wait_for()  # the registry has alerts to pick
        assert rec.errors_outside(provider) == []
        check_requests(rec, oidc_app, provider)


def test_user_without_a_mapped_role_sees_no_access(chromium: Browser, oidc_app: str, provider: str,
                                                   oidc_site: OidcSite) -> None:
    with watched_page(chromium) as (page, rec):
        sign_in(page, oidc_app, provider, oidc_site.accounts["nobody"])
        page.get_by_text("无访问权限").first.wait_for()
        page.get_by_text("无角色测试").first.wait_for()  # whose account it is
        page.wait_for_timeout(1500)
        assert page.get_by_test_id("stSidebarNavLink").count() == 0
        for testid in ("stDeckGlJsonChart", "stDataFrame", "stMetric"):
            assert page.get_by_test_id(testid).count() == 0, testid
        assert CASE_ID.findall(body_text(page)) == []
        assert rec.errors_outside(provider) == []
        page.goto(f"{oidc_app}/grid-workbench")  # no URL gets around it
        page.get_by_text("无访问权限").first.wait_for()
        assert page.get_by_role("heading", name="网格工作台").count() == 0
        assert rec.errors_outside(provider, not_found_ok=True) == []
        check_requests(rec, oidc_app, provider)


# --- XSS: the payload in the demo sources, rendered inert ---------------------------------------------

@dataclass(frozen=True)
class XssSite:
    config: Path
    worker_id: str     # the grid worker with the most open cases (cards on the 网格工作台)
    worker_grids: int  # how many grids they have
    alert_label: str   # hs_pick option of an alert whose evidence text carries the payload


def build_xss_site(root: Path) -> Path:
    """build_view_site's demo site, but with the payload written into the source databases before the
    refresh: every case's summary and subcategory, every grid's and every leader's name (numbered)."""
    from dashboard.demo_data import CASE_DB_NAME, GRID_DB_NAME

    def plant(demo: Path) -> None:
        with contextlib.closing(sqlite3.connect(demo / GRID_DB_NAME)) as db, db:
            grids = [g for (g,) in db.execute("SELECT grid_id FROM grids ORDER BY grid_id")]
            db.executemany("UPDATE grids SET name = ? WHERE grid_id = ?",
                           [(f"{XSS}{i}", g) for i, g in enumerate(grids)])
        with contextlib.closing(sqlite3.connect(demo / CASE_DB_NAME)) as db, db:
            db.execute("UPDATE cases SET summary = ?, subcategory = ?", (XSS, XSS))
            leaders = [lid for (lid,) in db.execute("SELECT leader_id FROM leaders ORDER BY leader_id")]
            db.executemany("UPDATE leaders SET name = ? WHERE leader_id = ?",
                           [(f"{XSS}{i}", lid) for i, lid in enumerate(leaders)])

    return build_view_site(root, edit_sources=plant)


@pytest.fixture(scope="module")
def xss_site(tmp_path_factory: pytest.TempPathFactory) -> XssSite:
    from dashboard import snapshots, views
    from dashboard.filters import Unit
    from dashboard.settings import load_settings
    from dashboard.viewer import make_viewer
    from loaders.enums import OPEN_STATUSES

    cfg = build_xss_site(tmp_path_factory.mktemp("xss-site"))
    s = load_settings(cfg)
    snap = snapshots.open_current(s.data_path)
    cases = views.read_table(snap, "cases", ("summary", "grid_id", "status"))
    assert (cases["summary"].dropna() == XSS).all() and (cases["summary"] == XSS).any(), "summary lost on refresh"
    links = views.read_table(snap, "worker_grids", ("worker_id", "grid_id"))
    open_per_grid = cases[cases["status"].isin(sorted(OPEN_STATUSES)).to_numpy()]["grid_id"].astype("str") \
        .value_counts()
    per_worker = links.assign(n=links["grid_id"].astype("str").map(open_per_grid).fillna(0)) \
        .groupby("worker_id")["n"].sum().sort_values(ascending=False, kind="stable")
    worker_id = str(per_worker.index[0])
    registry = views.alert_registry(make_viewer(["office"]), snap, s, Unit())
    text = [str((json.loads(e) if e else {}).get("text") or "") for e in registry["evidence"]]
    carrying = registry[[XSS in x for x in text]]
    assert len(carrying), "no alert's evidence text carries the payload (collective visits name the subcategory)"
    labels = registry["level_label"] + " · " + registry["title"]
    unique = carrying[(labels[carrying.index].map(labels.value_counts()) == 1).to_numpy()]
    row = (unique if len(unique) else carrying).iloc[0]
    return XssSite(config=cfg, worker_id=worker_id,
                   worker_grids=int((links["worker_id"] == worker_id).sum()),
                   alert_label=f"{row['level_label']} · {row['title']}")


@pytest.fixture(scope="module")
def xss_app(xss_site: XssSite) -> Iterator[str]:
    with streamlit_server(ROOT / "app.py", env={"GRIDWATCH_CONFIG": str(xss_site.config)}, cwd=ROOT) as url:
        yield url


def pick_demo_role(page: Page, base_url: str, role: str) -> None:
    """Open the app and pick a role in the demo sidebar."""
    page.goto(f"{base_url}/")
    side = page.get_by_test_id("stSidebar")
    option = page.get_by_role("option", name=role, exact=True)
    open_dropdown(page, side.locator(".st-key-gw_role [data-testid='stSelectbox']"), option)
    option.click()
    side.get_by_text(re.compile(r"可见范围：\d+ 个网格") if role == "网格员" else "可见范围：全辖区").wait_for()


def pick_demo_worker(page: Page, worker_id: str, grids: int) -> None:
    """Pick a grid worker in the demo sidebar (type the id to filter the long list)."""
    side = page.get_by_test_id("stSidebar")
    open_dropdown(page, side.locator(".st-key-gw_worker [data-testid='stSelectbox']"),
                  page.get_by_role("option").first)
    page.keyboard.type(worker_id)
    page.get_by_role("option", name=re.compile(rf"^{re.escape(worker_id)}\b")).first.click()
    side.get_by_text(f"可见范围：{grids} 个网格").wait_for()


def wait_idle(page: Page) -> None:
    """Until the script run has finished (Streamlit's running indicator is gone): a widget clicked during a
    run can be re-rendered under the pointer, closing its dropdown."""
    page.wait_for_timeout(500)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")


def open_page_named(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebar").get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()
    wait_idle(page)


def open_dropdown(page: Page, picker: Any, option: Any) -> None:
    """Click a selectbox until `option` shows in its dropdown (a rerun may close it once)."""
    for _ in range(4):
        wait_idle(page)
        picker.click()
        try:
            option.wait_for(state="visible", timeout=10_000)
            return
        except Exception:  # playwright TimeoutError: close whatever is open and try again
            page.keyboard.press("Escape")
    option.wait_for(state="visible", timeout=10_000)


def assert_inert(page: Page, rec: Recorder, base_url: str) -> None:
    page.wait_for_timeout(1000)  # an onerror would have fired by now
    assert rec.dialogs == [], rec.dialogs
    assert page.locator("img[src='x']").count() == 0, "the payload became an <img> element"
    broken = [url for url, _ in rec.requests if urlsplit(url).path.endswith("/x")]
    assert broken == [], f"the payload's image was requested: {broken}"
    assert rec.errors_outside("http://never") == []
    assert browser.outside_requests(page) == []
    page.evaluate("() => alert('probe')")  # the dialog watch works: this one is seen
    assert rec.dialogs == ["alert: probe"]


def open_workbench(page: Page, base_url: str, site: XssSite) -> None:
    pick_demo_role(page, base_url, "网格员")
    pick_demo_worker(page, site.worker_id, site.worker_grids)
    open_page_named(page, "网格工作台")
    page.locator(".gw-card").first.wait_for()


def grid_tooltip(page: Page) -> str:
    """Hover the workbench map until a grid's tooltip (grid name = payload) shows; its visible text.
    Failures here are pytest.fail, not AssertionError, so that the xfail below cannot swallow them."""
    deck = page.locator("#deckgl-overlay").first
    deck.scroll_into_view_if_needed()
    if not browser.canvas_nonblank(page, "#deckgl-overlay", timeout=30):
        pytest.fail("the map drew nothing")
    box = deck.bounding_box()
    if box is None:
        pytest.fail("the map has no box")
    tooltip = page.locator(".deck-tooltip")
    seen = ""
    for fx, fy in ((0.5, 0.5), (0.4, 0.5), (0.6, 0.5), (0.5, 0.4), (0.5, 0.6), (0.3, 0.3), (0.7, 0.7),
                   (0.3, 0.7), (0.7, 0.3), (0.45, 0.55), (0.55, 0.45), (0.2, 0.5), (0.8, 0.5)):
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=4)
        page.wait_for_timeout(500)
        if tooltip.count() and tooltip.first.is_visible():
            seen = tooltip.first.inner_text()
            if "img src=x onerror=alert(1)" in seen:
                if tooltip.first.locator("img").count():
                    pytest.fail("the payload became an <img> in the tooltip")
                return seen
    pytest.fail(f"no tooltip with the grid name (last: {seen!r})")


def test_xss_is_inert_on_the_workbench(chromium: Browser, xss_app: str, xss_site: XssSite) -> None:
    with watched_page(chromium) as (page, rec):
        open_workbench(page, xss_app, xss_site)
        # Grid names on the cards and in 我的网格, as text.
        page.get_by_text("我的网格：").first.wait_for()
        assert XSS in page.get_by_text("我的网格：").first.inner_text()
        assert XSS in page.locator(".gw-card").first.inner_text()
        # The summary, in the first card's 事由 expander.
        expander = page.get_by_test_id("stExpander").first
        expander.locator("summary").click()
        expander.get_by_text(XSS).first.wait_for(state="visible")
        assert XSS in expander.inner_text()
        # The map tooltip (Streamlit puts it in with innerHTML): no element made of the grid name.
        grid_tooltip(page)
        assert_inert(page, rec, xss_app)


def test_workbench_tooltip_shows_the_payload_as_literal_text(chromium: Browser, xss_app: str,
                                                           xss_site: XssSite) -> None:
    with watched_page(chromium) as (page, rec):
        open_workbench(page, xss_app, xss_site)
        seen = grid_tooltip(page)
        if rec.dialogs:
            pytest.fail(f"dialogs: {rec.dialogs}")
        assert XSS in seen and "&lt;" not in seen, seen


def choose_option(page: Page, picker: Any, label: str, typed: str) -> None:
    """Pick `label` in a Streamlit selectbox by keyboard: type to filter, move the focus onto it, Enter.
    (Clicking a filtered option can chase re-rendered option elements while the pointer hovers them.)"""
    open_dropdown(page, picker, page.get_by_role("option").first)
    page.keyboard.type(typed)
    page.get_by_role("option", name=label, exact=True).wait_for()
    focused = page.locator("[role='option'][data-focused='true']")
    for _ in range(30):
        if focused.count() and (focused.first.text_content() or "").strip() == label:
            break
        page.keyboard.press("ArrowDown")
        page.wait_for_timeout(100)
    else:
        raise AssertionError(f"could not move the focus onto {label!r}")
    page.keyboard.press("Enter")


def test_xss_is_inert_in_the_hotspot_evidence(chromium: Browser, xss_app: str, xss_site: XssSite) -> None:
    with watched_page(chromium) as (page, rec):
        pick_demo_role(page, xss_app, "联席办")
        open_page_named(page, "热点追踪")
        picker = page.locator(".st-key-hs_pick [data-testid='stSelectbox']")
        picker.wait_for()
        choose_option(page, picker, xss_site.alert_label, xss_site.alert_label.split(" · ", 1)[1])
        page.get_by_text("证据", exact=True).first.wait_for()
        evidence = page.get_by_test_id("stMarkdownContainer").filter(has_text=XSS).first
        evidence.wait_for(state="visible")
        assert XSS in evidence.inner_text()
        assert_inert(page, rec, xss_app)


def test_xss_is_inert_in_the_leader_case_list(chromium: Browser, xss_app: str) -> None:
    with watched_page(chromium) as (page, rec):
        pick_demo_role(page, xss_app, "联席办")
        open_page_named(page, "领导包案")
        leader = page.locator(".st-key-ld_leader [data-testid='stSelectbox']")
        option = page.get_by_role("option").filter(has_text=XSS).first
        open_dropdown(page, leader, option)  # leader names in the picker, as text
        assert XSS in option.inner_text()
        page.keyboard.press("Escape")
        # The case list (all leaders; every leader's name carries the payload) is a canvas grid: no HTML of
        # its cells. Its accessibility table holds the cell text: the case ids and the leader names.
        cases = page.get_by_test_id("stDataFrame").filter(has=page.locator("td", has_text=CASE_ID))
        cases.first.wait_for()
        cells = cases.first.locator("td").filter(has_text=XSS)
        cells.first.wait_for(state="attached")
        assert XSS in (cells.first.text_content() or "")
        assert_inert(page, rec, xss_app)
