"""Shared Streamlit helpers: settings, the current snapshot, scheduler, banners, errors, and the glue of the
views: language, demo identity, global filters in the URL, page context, cached views, KPI tiles, screen mode,
drill-down breadcrumbs.

Pages start with `ctx = ui.page_context()` and read data only through `ui.cached_view(views.fn, ctx, *args)`
(see dashboard/views.py); `app.py` calls `ui.sidebar_controls()` before `st.navigation`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import filters as flt
from dashboard import appdb, auth, maplayers, palette, scheduler, snapshots, views
from dashboard.formatting import fmt_count
from dashboard.settings import Settings, load_settings
from dashboard.suppression import holds_suppressed, is_suppressed, threshold_for
from dashboard.texts import t as _t
from dashboard.viewer import ROLES, Viewer, default_viewer, grids_of_worker, make_viewer, nobody
from geo.warnings import active_sensitive_period
from loaders.errors import GridwatchError

T = TypeVar("T")


def lang() -> str:
    """The language of this session ("zh" default, "en" via the sidebar switch or ?lang=en)."""
    value = st.session_state.get(LANG_KEY, st.session_state.get(_SEED, {}).get(LANG_KEY))
    return value if value in ("zh", "en") else "zh"


def t(key: str, lang_: str | None = None) -> str:
    """texts.t in the session's language."""
    return _t(key, lang_ or lang())


def settings() -> Settings:
    """Settings of this run (a small TOML parse; re-read so a changed config applies on the next rerun)."""
    return load_settings()


def current_snapshot() -> snapshots.Snapshot:
    return snapshots.open_current(settings().data_path)


@st.cache_data(show_spinner=False, max_entries=32)
def read_table(data_dir: str, version: str, name: str, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """A snapshot table; cached by (version, name, columns) so reruns do not re-read Parquet."""
    snap = snapshots.Snapshot(root=snapshots.snapshots_dir(Path(data_dir)), version=version, manifest={})
    return snapshots.read_table(snap, name, list(columns) if columns else None)


def table(snap: snapshots.Snapshot, name: str, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    return read_table(str(settings().data_path), snap.version, name, columns)


def start_background_refresh() -> scheduler.SchedulerHandle | None:
    """Run the refresh schedule in this process if configured and no other process runs it (app.py).

    Off with refresh.in_app_scheduler = false or $GRIDWATCH_NO_SCHEDULER=1 (tests). When the process
    that held the scheduler lock has gone, this process takes over on its next rerun.
    """
    try:
        s = settings()
    except GridwatchError:
        return None  # the page shows the configuration error
    if not scheduler.in_app_enabled(s):
        return None
    handle = _scheduler_for(str(s.data_path))
    if not handle.is_scheduler and not scheduler.scheduler_running(s.data_path):
        _scheduler_for.clear()
        handle = _scheduler_for(str(s.data_path))
    return handle


@st.cache_resource(show_spinner=False)
def _scheduler_for(data_dir: str) -> scheduler.SchedulerHandle:
    """One scheduler per process and data_dir (shared object: callers only read it; jobs never call st.*)."""
    return scheduler.start_scheduler(settings())


def refresh_status() -> scheduler.RefreshStatus | None:
    """Last success, last error, next run and staleness of the refresh (None when the config is invalid)."""
    try:
        return scheduler.refresh_status(settings())
    except GridwatchError:
        return None


def format_time(when: datetime | None, tz: str) -> str:
    """HH:MM today, MM-DD HH:MM otherwise, in the configured time zone."""
    if when is None:
        return t("never")
    zone = ZoneInfo(tz)
    local = when.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == datetime.now(zone).date() else f"{local:%m-%d %H:%M}"


def stale_message(status: scheduler.RefreshStatus, snap: snapshots.Snapshot | None, tz: str) -> str:
    """The stale-data banner text: the failed refresh (when, why) or how long the data has not changed."""
    if status.stale_reason == "failed":
        error = (status.last_error or "").strip()
        error = _escape_markdown(error if len(error) <= 160 else error[:159] + "…")
        created = snap.manifest.get("created_at") if snap is not None else None
        if created:
            shown = format_time(pd.Timestamp(created).to_pydatetime(), tz)
            return t("stale_failed").format(when=format_time(status.last_error_at, tz), error=error, shown=shown)
        return t("stale_failed_no_data").format(when=format_time(status.last_error_at, tz), error=error)
    return t("stale_old").format(minutes=int(status.age_minutes or 0),
                                 shown=format_time(status.last_success_at, tz))


def _escape_markdown(text: str) -> str:
    """Source error texts (paths, SQL) shown literally, not as Markdown or LaTeX."""
    return "".join("\\" + ch if ch in "\\`*_[]<>$~#|" else ch for ch in text)


escape_markdown = _escape_markdown  # for pages: user/source text shown literally in st.markdown


@dataclass(frozen=True)
class PeriodInForce:
    """A sensitive period (重点时期) in force at a snapshot's as_of: its name, first and last local day
    (YYYY-MM-DD; None when the config no longer lists the period the refresh recorded) and the factor
    its count thresholds were multiplied by (1.0: not lowered, or unknown)."""

    name: str
    start: str | None = None
    end: str | None = None
    threshold_factor: float = 1.0


def period_in_force(s: Settings, snap: snapshots.Snapshot) -> PeriodInForce | None:
    """The 重点时期 in force at the snapshot's as_of, or None.

    The refresh records the period its alerts were raised for (manifest "sensitive_period": a name, or
    None), so that record decides, even when the config changed since; the dates come from the config.
    Snapshots from before that record: the configured period whose dates contain as_of.
    """
    configured = active_sensitive_period(views.as_of(snap, s), s.warnings, timezone=s.timezone)
    if "sensitive_period" not in snap.manifest:
        recorded = configured.name if configured is not None else None
    else:
        recorded = snap.manifest["sensitive_period"]
        if isinstance(recorded, dict):
            recorded = recorded.get("name")
    if not isinstance(recorded, str) or not recorded:
        return None
    if configured is not None and configured.name == recorded:
        return PeriodInForce(recorded, configured.start, configured.end, configured.threshold_factor)
    return PeriodInForce(recorded)


def period_message(period: PeriodInForce) -> str:
    """The banner text: 重点时期：name（start—end），预警等级上调一级, and lowered thresholds if any."""
    name = _escape_markdown(period.name)
    if period.start and period.end:
        text = t("sensitive_banner").format(name=name, start=period.start, end=period.end)
    else:
        text = t("sensitive_banner_undated").format(name=name)
    if period.threshold_factor < 1:
        text += t("sensitive_lowered").format(factor=f"{period.threshold_factor:g}")
    return text


def banners(snap: snapshots.Snapshot | None, *, demo_banner: bool = True, period_banner: bool = True) -> None:
    """Banners at the top of every page: stale data (last refresh failed or too old), then the 重点时期
    in force at the snapshot's as_of, then 示例数据. `demo_banner=False` / `period_banner=False` when
    the page shows 示例数据 / the sensitive period itself (the command screen's title bar on the wall).

    They sit in one container, so the elements below keep their place (and a map its pan/zoom) when a
    banner comes or goes between reruns.
    """
    try:
        s: Settings | None = settings()
    except GridwatchError:
        s = None
    box = st.container()
    if s is not None:
        status = scheduler.refresh_status(s)
        if status.stale:
            box.error(stale_message(status, snap, s.timezone), icon="⚠️")
    if snap is not None and snap.skipped:  # corrupted newer versions were passed over (snapshots.open_current)
        box.warning(t("snapshot_skipped").format(shown=snap.version,
                                                  skipped=_escape_markdown("; ".join(snap.skipped))), icon="⚠️")
    if period_banner and s is not None and snap is not None and (period := period_in_force(s, snap)) is not None:
        box.warning(period_message(period), icon="🔺")
    if demo_banner and demo_mode(s, snap):
        box.warning(t("demo_banner"), icon="🧪")
    mode = auth.resolve_mode(s) if s is not None else None
    if mode == "demo" and not demo_mode(s, snap):  # the 示例数据 banner already says "demo" otherwise
        box.warning(t("auth_demo_banner"), icon="🧪")
    elif mode == "none" and s is not None:
        roles = "、".join(t(f"role_{r}") for r in s.auth.anonymous_roles) or "—"
        box.info(t("auth_none_banner").format(roles=roles), icon="🔓")


def refresh_sidebar() -> None:
    """Refresh status in the sidebar of every page: interval, last success/failure, next run, who schedules."""
    try:
        s = settings()
    except GridwatchError:
        return
    status = scheduler.refresh_status(s)
    tz = s.timezone
    lines = [f"**{t('refresh_heading')}** · {t('refresh_every').format(minutes=status.interval_minutes)}",
             t("refresh_last_ok").format(when=format_time(status.last_success_at, tz))]
    if status.last_attempt_ok is False:
        lines.append(t("refresh_last_error").format(when=format_time(status.last_error_at, tz)))
    if status.next_run_at is not None:
        lines.append(t("refresh_next").format(when=format_time(status.next_run_at, tz)))
    if status.this_process:
        lines.append(t("refresh_by_this"))
    elif status.scheduler_running:
        holder = f"PID {status.scheduler_pid}" if status.scheduler_pid else scheduler.lock_holder(s.data_path)
        lines.append(t("refresh_by_other").format(holder=holder))
    else:
        lines.append(t("refresh_no_scheduler"))
    st.sidebar.caption("  \n".join(lines))


def show_error(exc: GridwatchError) -> None:
    st.error(f"{t('error_prefix')}: {exc}")


# --- language, demo identity and global filters (sidebar; state in session_state and the URL) ------------

LANG_KEY = "gw_lang"
ROLE_KEY, WORKER_KEY = "gw_role", "gw_worker"
PERIOD_KEY, RANGE_KEY = "gw_period", "gw_range"
UNIT_KEYS = {"township": "gw_township", "community": "gw_community", "grid": "gw_grid"}
WIDGET_KEYS = (LANG_KEY, PERIOD_KEY, RANGE_KEY, *UNIT_KEYS.values())
_APPLIED = "_gw_url_applied"  # the filter query params this session last wrote (or adopted)
_SEED = "_gw_seed"            # widget values taken from the URL, used where a widget has no state yet
_FILTERS = "_gw_filters"
_DRILLED = "_gw_drilled"      # unit widget keys a breadcrumb wrote for the next run (go_to_unit)
DEFAULT_ROLE = "office"

# The sidebar widgets are never written through st.session_state; each gets its current value as its
# explicit default (index/value). A widget whose identity changes between runs (Streamlit does that for
# entry-point widgets on a session's first run) then keeps the user's choice instead of jumping to the
# first option, and Streamlit never warns about a value set both ways. The one exception is a breadcrumb
# click (go_to_unit): a widget callback writes the unit selectors, which are then drawn without a default.


def demo_mode(s: Settings | None, snap: snapshots.Snapshot | None) -> bool:
    """The embedded demo is on (config) or the snapshot was built from demo data."""
    return bool((s is not None and s.demo.enabled) or (snap is not None and snap.manifest.get("demo")))


def _url_filter_params() -> dict[str, str]:
    return {k: st.query_params[k] for k in flt.PARAMS if k in st.query_params}


def _adopt_url(snap: snapshots.Snapshot | None, s: Settings | None, units: pd.DataFrame | None) -> None:
    """Seed the filter widgets from the URL on a session's first run and whenever the URL's filter params
    differ from what this session last wrote (a pasted link); an emptied URL (page switch) keeps them."""
    url = _url_filter_params()
    applied = st.session_state.get(_APPLIED)
    if applied is not None and (not url or url == applied):
        return
    seed: dict[str, Any] = {LANG_KEY: flt.parse_lang(url)}
    if snap is not None and s is not None and units is not None:
        today = views.snapshot_today(snap, s)
        parsed = flt.parse(url, today=today, earliest=views.earliest_day(snap, s), known=views.unit_known(units))
        seed[PERIOD_KEY] = parsed.period.code
        seed[RANGE_KEY] = parsed.period.dates(today)
        unit = parsed.unit
        if not unit.is_county:
            row = units[units[views.UNIT_COLUMN[unit.type]].astype("str") == unit.id].iloc[0]
            for kind in ("township", "community", "grid"):
                seed[UNIT_KEYS[kind]] = str(row[views.UNIT_COLUMN[kind]])
                if kind == unit.type:
                    break
    for key in WIDGET_KEYS:  # the link wins over what the widgets showed
        st.session_state.pop(key, None)
    st.session_state[_SEED] = seed


def _current(key: str, options: Sequence[Any], fallback: Any) -> Any:
    """The value a widget should show: its own state, else the URL seed, else `fallback`, else the first option."""
    for value in (st.session_state.get(key), st.session_state.get(_SEED, {}).get(key), fallback):
        if value in options:
            return value
    return options[0] if options else None


def _write_url(f: flt.Filters) -> None:
    wanted = f.to_params()
    for key in flt.PARAMS:
        if key in wanted:
            if st.query_params.get(key) != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]
    st.session_state[_APPLIED] = wanted


@st.cache_data(show_spinner=False, max_entries=8)
def _worker_choices(data_dir: str, version: str) -> list[tuple[str, str, int]]:
    """(worker_id, name, number of grids) of every grid worker with at least one grid."""
    snap = snapshots.Snapshot(root=snapshots.snapshots_dir(Path(data_dir)), version=version, manifest={})
    workers = views.read_table(snap, "grid_workers", ("worker_id", "name"))
    links = views.read_table(snap, "worker_grids", ("worker_id", "grid_id"))
    n = links.groupby(links["worker_id"].astype("str"))["grid_id"].nunique()
    names = workers.set_index(workers["worker_id"].astype("str"))["name"].astype("str")
    return [(w, names.get(w, ""), int(k)) for w, k in n.sort_index().items()]


@st.cache_data(show_spinner=False, max_entries=64)
def _worker_grids(data_dir: str, version: str, worker_id: str) -> frozenset[str]:
    snap = snapshots.Snapshot(root=snapshots.snapshots_dir(Path(data_dir)), version=version, manifest={})
    return grids_of_worker(worker_id, views.read_table(snap, "worker_grids", ("worker_id", "grid_id")))


def current_viewer(s: Settings | None = None, snap: snapshots.Snapshot | None = None) -> Viewer:
    """The viewer of this session (see `current_identity`); nobody (no role, no grid) when not signed in."""
    return current_identity(s, snap).viewer


def current_identity(s: Settings | None = None, snap: snapshots.Snapshot | None = None) -> auth.Identity:
    """Who is looking, by `[auth] mode` (dashboard.auth.resolve_mode): oidc → the signed-in user's claims
    mapped to roles and, for a grid worker, their grids; demo → the sidebar picker's role (and grid worker);
    none → `[auth] anonymous_roles`. Always in the session's language."""
    lang_ = lang()
    if s is None:  # no usable config: pages show the error and nothing else
        return auth.Identity(default_viewer(lang_))
    mode = auth.resolve_mode(s)
    if mode == "none":
        return auth.Identity(make_viewer(s.auth.anonymous_roles, lang=lang_))
    if mode == "oidc":
        claims = auth.current_claims()
        if claims is None:
            reason: auth.Reason = "not_logged_in" if auth.secrets_auth_configured() else "not_configured"
            return auth.Identity(nobody(lang_), reason)
        workers, links = _worker_tables(s, snap)
        return auth.identity_from_claims(claims, s, workers=workers, worker_grids=links, lang=lang_)
    if snap is None:
        return auth.Identity(default_viewer(lang_))
    role = _current(ROLE_KEY, ROLES, DEFAULT_ROLE)
    if role != "grid_worker":
        return auth.Identity(make_viewer([role], name=t(f"role_{role}"), lang=lang_))
    choices = _worker_choices(str(s.data_path), snap.version)
    worker = _current(WORKER_KEY, [c[0] for c in choices], None) or ""
    grids = _worker_grids(str(s.data_path), snap.version, worker) if worker else frozenset()
    name = dict((c[0], c[1]) for c in choices).get(worker, worker)
    return auth.Identity(make_viewer(["grid_worker"], name=name, grids=grids, lang=lang_, worker_id=worker or None))


def _worker_tables(s: Settings, snap: snapshots.Snapshot | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """grid_workers (worker_id, name, login) and worker_grids of the snapshot; empty without one."""
    if snap is None:
        return (pd.DataFrame(columns=["worker_id", "name", "login"]), pd.DataFrame(columns=["worker_id", "grid_id"]))
    return (views.read_table(snap, "grid_workers", ("worker_id", "name", "login")),
            views.read_table(snap, "worker_grids", ("worker_id", "grid_id")))


def current_filters() -> flt.Filters:
    """The global filters as last set by `sidebar_controls` (defaults before that)."""
    value = st.session_state.get(_FILTERS)
    return value if isinstance(value, flt.Filters) else flt.Filters(lang=lang())


def sidebar_controls() -> None:
    """Language switch, demo identity picker (demo mode only) and the global filters, in the sidebar.

    Called by app.py on every full run before `st.navigation`. The filters are mirrored in the URL
    (dashboard.filters) so a link shares the view; invalid URL values fall back to defaults.
    """
    try:
        s: Settings | None = settings()
        snap: snapshots.Snapshot | None = current_snapshot()
    except GridwatchError:
        s, snap = None, None
    viewer0 = current_viewer(s, snap) if snap is not None else None
    units = cached_units(s, snap, viewer0) if s is not None and snap is not None and viewer0 is not None else None
    _adopt_url(snap, s, units)
    side = st.sidebar
    # Every format_func gets the language bound when its widget is made: Streamlit (and AppTest) may call
    # it outside a script run, where the session's language cannot be read and lang() would say zh.
    side.segmented_control(_t("lang_label"), ["zh", "en"], key=LANG_KEY, required=True,
                           default=_current(LANG_KEY, ("zh", "en"), "zh"),
                           format_func=lambda v: "中文" if v == "zh" else "English")
    if s is None or snap is None:
        _write_url(flt.Filters(lang=lang()))
        return
    if auth.resolve_mode(s) == "demo":
        _identity_picker(side, s, snap)
    viewer = current_viewer(s, snap)
    if not viewer.roles:
        return
    units = cached_units(s, snap, viewer)
    f = _filter_widgets(side, s, snap, viewer, units)
    st.session_state[_FILTERS] = f
    _write_url(f)


def _identity_picker(side: Any, s: Settings, snap: snapshots.Snapshot) -> None:
    lang_ = lang()
    side.caption(f"**{t('viewer_heading', lang_)}**")
    roles = list(ROLES)
    role = side.selectbox(t("viewer_role", lang_), roles, index=roles.index(_current(ROLE_KEY, roles, DEFAULT_ROLE)),
                          key=ROLE_KEY, format_func=lambda r, lang_=lang_: _t(f"role_{r}", lang_))
    if role == "grid_worker":
        choices = _worker_choices(str(s.data_path), snap.version)
        labels = {w: f"{w} {name}（{n}）" for w, name, n in choices}
        ids = list(labels) or [""]
        side.selectbox(t("viewer_worker"), ids, index=ids.index(_current(WORKER_KEY, ids, None)), key=WORKER_KEY,
                       format_func=lambda w: labels.get(w, w))
    viewer = current_viewer(s, snap)
    side.caption(t("viewer_scope_all") if viewer.sees_all else t("viewer_scope").format(n=len(viewer.grids or ())))


def cached_units(s: Settings, snap: snapshots.Snapshot, viewer: Viewer) -> pd.DataFrame:
    return _units_cached(str(s.data_path), snap.version, viewer.cache_key, _viewer=viewer, _snap=snap)


@st.cache_data(show_spinner=False, max_entries=32)
def _units_cached(data_dir: str, version: str, viewer_key: tuple[str, ...], *, _viewer: Viewer,
                  _snap: snapshots.Snapshot) -> pd.DataFrame:
    return views.unit_table(_viewer, _snap)


def _filter_widgets(side: Any, s: Settings, snap: snapshots.Snapshot, viewer: Viewer,
                    units: pd.DataFrame) -> flt.Filters:
    side.caption(f"**{t('filters_heading')}**")
    today = views.snapshot_today(snap, s)
    earliest = views.earliest_day(snap, s)
    periods = list(flt.PERIODS)
    code = side.selectbox(t("filter_period"), periods, key=PERIOD_KEY,
                          index=periods.index(_current(PERIOD_KEY, periods, flt.DEFAULT_PERIOD)),
                          format_func=lambda c, lang_=lang(): _t(f"period_{c}", lang_))
    period = flt.Period(code)
    if code == "custom":
        picked = side.date_input(t("filter_range"), value=_valid_range(today, earliest), key=RANGE_KEY,
                                 min_value=earliest, max_value=today)
        picked = tuple(picked) if isinstance(picked, (tuple, list)) else (picked,)
        if picked:  # while a range is being picked, only its first day is known
            period = flt.Period("custom", picked[0], picked[-1])
    options = cached_view(views.unit_options, PageContext(s, snap, viewer, flt.Filters()))
    unit = flt.Unit()
    town = _unit_select(side, "township", dict(options.townships))
    if town:
        unit = flt.Unit("township", town)
        comm = _unit_select(side, "community", dict(options.communities.get(town, ())))
        if comm:
            unit = flt.Unit("community", comm)
            grid = _unit_select(side, "grid", dict(options.grids.get(comm, ())))
            if grid:
                unit = flt.Unit("grid", grid)
    st.session_state.pop(_DRILLED, None)
    side.caption(t("filter_link"))
    return flt.Filters(period=period, unit=unit, lang=lang())


def _valid_range(today: dt.date, earliest: dt.date) -> tuple[dt.date, dt.date]:
    """The custom range to show: the widget's own, else the URL's, else the last 30 days."""
    for rng in (st.session_state.get(RANGE_KEY), st.session_state.get(_SEED, {}).get(RANGE_KEY)):
        if (isinstance(rng, (tuple, list)) and rng and all(isinstance(d, dt.date) for d in rng)
                and earliest <= rng[0] <= today and rng[-1] <= today):
            return (rng[0], rng[-1])
    start, end = flt.Period().dates(today)
    return (start, end)


def _unit_select(side: Any, kind: str, choices: dict[str, str]) -> str:
    """One level of the drill path ("" = all); a remembered value outside `choices` falls back to all."""
    options = ["", *choices]
    # A value a breadcrumb just wrote (go_to_unit) is the widget's state; a default besides it would make
    # Streamlit warn about a value set both ways.
    drilled = UNIT_KEYS[kind] in st.session_state.get(_DRILLED, ())
    picked = side.selectbox(t(f"filter_{kind}"), options, key=UNIT_KEYS[kind],
                            index=0 if drilled else options.index(_current(UNIT_KEYS[kind], options, "")),
                            format_func=lambda v, all_=t("filter_all"): choices.get(v, v) if v else all_)
    return str(picked or "")


# --- page context and cached views ------------------------------------------------------------------------

@dataclass(frozen=True)
class PageContext:
    """What every page works with: settings, the current snapshot, who is looking, the global filters."""

    settings: Settings
    snap: snapshots.Snapshot
    viewer: Viewer
    filters: flt.Filters

    @property
    def lang(self) -> str:
        return self.viewer.lang

    @property
    def jurisdiction(self) -> str:
        """Name of the jurisdiction for titles: config/manifest, else the demo district's name."""
        name = self.snap.manifest.get("jurisdiction_name") or self.settings.jurisdiction_name
        if not name and demo_mode(self.settings, self.snap):
            name = _demo_district(str(self.settings.data_path / "demo" / "demo_truth.json"))
        return str(name or "")


@st.cache_data(show_spinner=False, max_entries=4)
def _demo_district(truth_path: str) -> str:
    """district_name of the embedded demo (demo_truth.json written by dashboard.demo_data), "" if unreadable."""
    import json

    try:
        doc = json.loads(Path(truth_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(doc.get("district_name") or "") if isinstance(doc, dict) else ""


def session_viewer() -> Viewer:
    """The viewer of this session, or the default viewer when there is no usable config or snapshot."""
    try:
        return current_viewer(settings(), current_snapshot())
    except GridwatchError:
        return default_viewer(lang())


def page_context(*, show_banners: bool = True, demo_banner: bool = True,
                 period_banner: bool = True) -> PageContext | None:
    """Settings, snapshot, viewer and filters of this run; None (after showing why) when there is no
    usable snapshot or config. Call it again inside an auto-refreshing fragment to pick up a new snapshot.
    The banners (see `banners`) come first unless `show_banners=False`."""
    try:
        s = settings()
        snap = current_snapshot()
    except GridwatchError as exc:
        banners(None)
        st.info(t("no_snapshot"))
        show_error(exc)
        return None
    if show_banners:
        banners(snap, demo_banner=demo_banner, period_banner=period_banner)
    viewer = current_viewer(s, snap)
    if not viewer.roles:  # app.py shows the login prompt instead of any page; a page run alone stops here
        st.info(t("auth_login_text"))
        return None
    return PageContext(s, snap, viewer, current_filters())


def cached_view(fn: Callable[..., T], ctx: PageContext, *args: Any) -> T:
    """`fn(viewer, snap, settings, *args)` cached by (fn, snapshot version, viewer.cache_key, config hash,
    args). Args must be hashable or have `.key()` (Filters, Unit, Period); never pass a DataFrame."""
    key = tuple(a.key() if callable(getattr(a, "key", None)) else a for a in args)
    return _view_cached(f"{fn.__module__}.{fn.__qualname__}", str(ctx.settings.data_path), ctx.snap.version,
                        ctx.viewer.cache_key, ctx.settings.config_hash(), key,
                        _fn=fn, _viewer=ctx.viewer, _snap=ctx.snap, _settings=ctx.settings, _args=args)


@st.cache_data(show_spinner=False, max_entries=256)
def _view_cached(name: str, data_dir: str, version: str, viewer_key: tuple[str, ...], config_hash: str,
                 args_key: tuple[Any, ...], *, _fn: Callable[..., Any], _viewer: Viewer,
                 _snap: snapshots.Snapshot, _settings: Settings, _args: tuple[Any, ...]) -> Any:
    return _fn(_viewer, _snap, _settings, *_args)


# --- small counts (SPEC §9) ------------------------------------------------------------------------------

def suppression_note(ctx: PageContext, *shown: Any) -> str | None:
    """The note that small counts show as "<5" (rp_note_suppressed), when the viewer's counts are suppressed and
    one of `shown` (view results) holds such a count; else None. A page shows it once."""
    threshold = threshold_for(ctx.viewer, ctx.settings)
    if threshold is None or not holds_suppressed(shown, threshold):
        return None
    return t("rp_note_suppressed", ctx.lang).format(n=threshold)


CHART_FONT = maplayers.CJK_FONTS  # chart text: the fonts the map labels use
TABLE_ROW_PX = 35
RED_TEXT = f"color: {palette.light_hex('red')}; font-weight: 600"  # overdue and red-light counts in tables


def table_height(rows: int, *, most: int = 15) -> int:
    """Pixel height of an st.dataframe showing `rows` rows, at most `most` before it scrolls."""
    return TABLE_ROW_PX * (min(rows, most) + 1) + 3



def red_when_positive(value: object) -> str:
    """Table style: red for a positive count, also in a column of texts that suppressed counts made
    (`text_cells`: "<5", "12")."""
    positive = value > 0 if isinstance(value, (int, float)) else isinstance(value, str) and value not in ("", "0")
    return RED_TEXT if positive else ""


def text_cells(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """`table` for st.dataframe with each column that holds suppressed counts ("<5") as text ("<5", "12", "1,032",
    "" when missing): mixed numbers and texts are not Arrow-serialisable (Streamlit would log a traceback and
    convert them itself). Other columns, and every column of a viewer with point access, stay as they are."""
    mixed = [c for c in table.columns if table[c].dtype == object and table[c].map(is_suppressed).any()]
    if not mixed:
        return table
    return table.assign(**{c: [v if isinstance(v, str) else "" if pd.isna(v) else fmt_count(v, lang)
                               for v in table[c]] for c in mixed})


def count_column(values: pd.Series, label: str, *, help: str | None = None) -> Any:
    """Column config of a count column: a NumberColumn, or a TextColumn once suppressed counts ("<5") made it text."""
    if pd.api.types.is_numeric_dtype(values):
        return st.column_config.NumberColumn(label, help=help)
    return st.column_config.TextColumn(label, help=help)


def percent_cells(values: pd.Series, label: str, *, help: str | None = None) -> tuple[pd.Series, Any]:
    """A 0..1 rate column for st.dataframe and its column config: numbers × 100 with a "%.1f%%" NumberColumn, or,
    when it holds suppressed counts' texts ("<5"), texts ("72.6%", "<5", "") in a TextColumn."""
    if pd.api.types.is_numeric_dtype(values):
        return values * 100, st.column_config.NumberColumn(label, format="%.1f%%", help=help)
    texts = [v if isinstance(v, str) else "" if pd.isna(v) else f"{100 * float(v):.1f}%" for v in values]
    return pd.Series(texts, index=values.index, dtype="object"), st.column_config.TextColumn(label, help=help)


# --- widgets --------------------------------------------------------------------------------------------

TONES = {"red": palette.light_hex("red"), "yellow": palette.light_hex("yellow")}


def kpi_row(kpis: Sequence[views.Kpi], *, key: str = "kpis") -> None:
    """One bordered st.metric per KPI, in a row; red/yellow tones colour the label dot and the value."""
    rules = [f'.st-key-{key} [data-testid="stColumn"]:nth-of-type({i + 1}) [data-testid="stMetricValue"] '
             f'{{ color: {TONES[k.tone]}; }}' for i, k in enumerate(kpis) if k.tone in TONES]
    if rules:
        st.html("<style>" + "\n".join(rules) + "</style>")
    row = st.container(key=key)
    for col, k in zip(row.columns(len(kpis), gap="small"), kpis, strict=True):
        label = f":{k.tone}[●] {k.label}" if k.tone else k.label
        col.metric(label, k.value, delta=k.delta, delta_color=k.delta_color, help=k.help,  # type: ignore[arg-type]
                   border=True)


SCREEN_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 0.7rem 1.2rem 0.4rem 1.2rem !important; max-width: 100% !important; }
</style>"""


def screen_mode() -> bool:
    """?screen=1: wall display (no sidebar, header or toolbar; filters come from the URL)."""
    return st.query_params.get("screen") == "1"


def apply_screen_mode() -> bool:
    """Hide the sidebar, header and toolbar when ?screen=1; returns whether screen mode is on."""
    on = screen_mode()
    if on:
        st.html(SCREEN_CSS)
    return on


# --- drill-down breadcrumbs -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Crumb:
    """One item of a drill path: the unit, its name, and its (kind, id) steps from the township down."""

    unit: flt.Unit
    label: str
    path: tuple[tuple[str, str], ...] = ()


def drill_trail(units: pd.DataFrame, unit: flt.Unit, *, root: str) -> list[Crumb]:
    """The breadcrumb trail of `unit` from `root` (the viewer's whole scope) down to `unit` itself, named from
    the viewer-scoped unit table (views.unit_table); a unit holding none of the viewer's grids gives the root."""
    trail = [Crumb(flt.Unit(), root)]
    if unit.is_county:
        return trail
    rows = units[units[views.UNIT_COLUMN[unit.type]].astype("str") == unit.id]
    if rows.empty:
        return trail
    row = rows.iloc[0]
    path: tuple[tuple[str, str], ...] = ()
    for kind in ("township", "community", "grid"):
        unit_id, name = str(row[views.UNIT_COLUMN[kind]]), row[f"{kind}_name"]
        path = (*path, (kind, unit_id))
        trail.append(Crumb(flt.Unit(kind, unit_id), name if isinstance(name, str) and name else unit_id, path))
        if kind == unit.type:
            break
    return trail


def drill_children(options: views.UnitOptions, unit: flt.Unit) -> tuple[tuple[str, str], ...]:
    """(id, name) of the units one level below `unit` that hold grids of the viewer; none below a grid."""
    if unit.is_county:
        return options.townships
    if unit.type == "township":
        return options.communities.get(unit.id, ())
    if unit.type == "community":
        return options.grids.get(unit.id, ())
    return ()


def go_to_unit(path: tuple[tuple[str, str], ...]) -> None:
    """Make the unit at the end of `path` ((kind, id) from the township down; () = the viewer's whole scope)
    the global unit filter from the next run on: the sidebar's drill selectors, hence the URL and every page.

    A widget callback (on_click / on_change): Streamlit runs it before the next run, when widget values may
    still be written, and then tells the browser's sidebar the new values. Only the selectors that run draws
    are written (the township one always, a lower one when the level above is chosen); the seed covers the
    others, so a lower level from an older link cannot come back when its selector reappears.
    """
    ids = dict(path)
    seed = dict(st.session_state.get(_SEED, {}))
    written: set[str] = set()
    drawn = True
    for kind, key in UNIT_KEYS.items():
        value = ids.get(kind, "")
        seed[key] = value
        if drawn:
            st.session_state[key] = value
            written.add(key)
        drawn = bool(value)
    st.session_state[_SEED] = seed
    st.session_state[_DRILLED] = written


def _drill_picked(widget_key: str, kind: str, path: tuple[tuple[str, str], ...]) -> None:
    child = st.session_state.get(widget_key)
    if child:
        go_to_unit((*path, (kind, str(child))))


def breadcrumbs(ctx: PageContext | None = None, *, key: str = "crumbs", drill: bool = True) -> None:
    """The drill path of the global unit filter, 新城区 › 迎新路街道 › 胜利社区 › 第3网格: each upper item is a
    button back up to that unit and (with `drill`) a selector steps down to one of the current unit's
    children. Both set the global unit filter as the sidebar does (URL, every page). Only units holding grids
    of the viewer are named or offered; a viewer scoped to some grids starts from "my grids".

    Call it outside st.fragment: a click must rerun the whole app, sidebar and URL included. Without `ctx` it
    reads this run's own and draws nothing when there is no usable snapshot (the page says why).
    """
    if ctx is None:
        try:
            s, snap = settings(), current_snapshot()
        except GridwatchError:
            return
        ctx = PageContext(s, snap, current_viewer(s, snap), current_filters())
    lang_ = ctx.lang
    units = cached_units(ctx.settings, ctx.snap, ctx.viewer)
    root = (ctx.jurisdiction or t("whole_jurisdiction", lang_)) if ctx.viewer.sees_all else t("crumb_mine", lang_)
    trail = drill_trail(units, ctx.filters.unit, root=root)
    here = trail[-1]
    children = drill_children(cached_view(views.unit_options, ctx), here.unit) if drill else ()
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key=key):
        for crumb in trail[:-1]:
            st.button(escape_markdown(crumb.label), key=f"{key}-up-{crumb.unit.type}", type="tertiary",
                      help=t("crumb_up", lang_), on_click=go_to_unit, args=(crumb.path,))
            st.markdown("›", width="content")
        st.markdown(f"**{escape_markdown(here.label)}**", width="content")
        if children:
            kind = views.CHILD_TYPE[here.unit.type]
            names = dict(children)
            pick = f"{key}-down-{here.unit.type}-{here.unit.id}"  # a new, empty selector on every level
            st.selectbox(t(f"crumb_down_{kind}", lang_), list(names), index=None, key=pick,
                         placeholder=t(f"crumb_down_{kind}", lang_), label_visibility="collapsed", width=240,
                         format_func=lambda v, names=names: names.get(v, v),
                         on_change=_drill_picked, args=(pick, kind, here.path))


# --- sign-in gate and audit log (SPEC §9) ---------------------------------------------------------------

_LOGIN_AUDITED = "_gw_login_audited"  # the login whose sign-in this session already wrote to the audit log
_DENIED_AUDITED = "_gw_denied_audited"
_VIEW_AUDITED = "_gw_view_audited"    # (page, scope, filters) of the last personal-data page view logged
_log = __import__("logging").getLogger(__name__)


def gate() -> Viewer | None:
    """app.py, before the sidebar and st.navigation: the viewer when this session may see pages, else None
    (then app.py routes every URL to `login_page`). Writes the sign-in to the audit log once per session and
    puts who is signed in, with a sign-out button, in the sidebar."""
    try:
        s = settings()
    except GridwatchError:
        return session_viewer()  # no usable config: every page shows the error and no data
    try:
        snap: snapshots.Snapshot | None = current_snapshot()
    except GridwatchError:
        snap = None
    ident = current_identity(s, snap)
    if not ident.ok:
        return None
    note_config(s, ident.viewer)
    if auth.resolve_mode(s) == "oidc":
        viewer = ident.viewer
        if st.session_state.get(_LOGIN_AUDITED) != viewer.login:
            audit("login", "session", viewer.login or viewer.name, viewer=viewer,
                  details={"mode": "oidc", "worker_id": viewer.worker_id})
            st.session_state[_LOGIN_AUDITED] = viewer.login
        st.sidebar.caption(t("auth_signed_in").format(who=escape_markdown(viewer.name or viewer.login or "")))
        if st.sidebar.button(t("auth_logout"), key="gw_logout"):
            st.session_state.pop(_LOGIN_AUDITED, None)
            st.logout()
    return ident.viewer


def login_page() -> None:
    """The only page of a session that may see none: the login prompt, or why a signed-in user has no access."""
    s: Settings | None = None
    snap: snapshots.Snapshot | None = None
    try:
        s = settings()
        snap = current_snapshot()
    except GridwatchError:
        pass
    ident = current_identity(s, snap)
    if ident.reason == "not_configured":
        st.title(t("auth_login_title"))
        st.error(t("auth_not_configured"), icon="🔒")
        return
    if ident.reason in ("no_role", "no_worker"):
        viewer = ident.viewer
        st.title(t("app_title"))
        st.error(t(f"auth_{ident.reason}").format(who=escape_markdown(viewer.name or viewer.login or "?")), icon="🚫")
        if st.session_state.get(_DENIED_AUDITED) != viewer.login:
            audit("access_denied", "session", viewer.login or viewer.name or "?", viewer=viewer,
                  details={"reason": ident.reason})
            st.session_state[_DENIED_AUDITED] = viewer.login
        if st.button(t("auth_logout"), key="gw_logout_denied"):
            st.logout()
        return
    st.title(t("auth_login_title"))
    st.write(t("auth_login_text"))
    if st.button(t("auth_login_button"), key="gw_login", type="primary"):
        provider = s.auth.provider if s is not None else None
        if provider:
            st.login(provider)
        else:
            st.login()


@st.cache_resource(show_spinner=False)
def _audit_db(url: str, busy_timeout_s: float) -> appdb.AppDB:
    """One app DB engine per process and URL for audit rows (migrated once)."""
    return appdb.open_app_db_url(url, busy_timeout_seconds=busy_timeout_s)


def audit(action: str, object_type: str, object_id: str, *, viewer: Viewer | None = None,
          details: dict[str, Any] | None = None, who: str | None = None) -> None:
    """Append one row to the audit log: who (the viewer's name and login), what, and the viewer's scope
    (roles, grid scope) in details. A failing app DB is logged and does not stop the page."""
    try:
        s = settings()
        db = _audit_db(appdb.app_db_url(s), s.app_db.busy_timeout_seconds)
        scope: dict[str, Any] = {}
        if viewer is not None:
            scope = {"roles": sorted(viewer.roles), "scope": viewer.scope_key,
                     "grids": None if viewer.grids is None else len(viewer.grids)}
        appdb.audit(db, user=who or (viewer.audit_name if viewer is not None else "system"), action=action,
                    object_type=object_type, object_id=str(object_id)[:256], details={**scope, **(details or {})})
    except Exception as exc:  # the audit log must not take the page down; the server log keeps the reason
        _log.warning("audit log write failed (%s %s %s): %s", action, object_type, object_id, exc)


def audit_page_view(url_path: str, viewer: Viewer) -> None:
    """A page showing case-level personal data was opened (or opened with other filters or scope): one
    audit row per change, not per rerun."""
    f = current_filters()
    key = (url_path, viewer.login, viewer.scope_key, ",".join(sorted(viewer.roles)), f.key())
    if st.session_state.get(_VIEW_AUDITED) == key:
        return
    st.session_state[_VIEW_AUDITED] = key
    audit("view_personal_data", "page", url_path, viewer=viewer,
          details={"unit": f"{f.unit.type}:{f.unit.id}", "period": f.period.code})


@st.cache_resource(show_spinner=False)
def _config_hashes() -> dict[str, str]:
    """data_dir → config hash this process last ran with (a shared dict; only note_config writes it)."""
    return {}


def note_config(s: Settings, viewer: Viewer | None = None) -> None:
    """Write a config_reload audit row when the effective config differs from the one this process last
    ran with (ui.settings() re-reads the file on every run, so an edit applies on the next rerun)."""
    seen = _config_hashes()
    key, new = str(s.data_path), s.config_hash()
    old = seen.get(key)
    seen[key] = new
    if old is not None and old != new:
        audit("config_reload", "config", key, who="system",
              details={"old_hash": old, "new_hash": new, "seen_by": viewer.audit_name if viewer else None})
