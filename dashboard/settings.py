"""Settings: one TOML file, every key with a default and a one-line description (SPEC §13)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from loaders.enums import DEFAULT_CATEGORY_ALIASES
from loaders.errors import ConfigError
from loaders.schema import TABLES
from loaders.validate import epsg_known

CONFIG_ENV = "GRIDWATCH_CONFIG"
DEFAULT_CONFIG_NAME = "gridwatch.toml"
COORD_SYS_PATTERN = r"^(wgs84|cgcs2000|gcj02|bd09|EPSG:\d{4,6})$"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSettings(_Section):
    """One source system (grid DB or case DB): a SQLAlchemy URL and/or files per table."""

    url: str | None = Field(
        None, description="SQLAlchemy URL of the database, e.g. postgresql://user:${PGPASS}@host/db; "
        "empty when every table comes from a file")
    coord_sys: str = Field(
        "wgs84", pattern=COORD_SYS_PATTERN,
        description="coordinate system of geometry and lon/lat: wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn")
    queries: dict[str, str] = Field(
        default_factory=dict,
        description="SELECT per canonical table returning canonical column names "
        "(default SELECT * FROM <table>)")
    files: dict[str, str] = Field(
        default_factory=dict,
        description="file per canonical table: .gpkg/.shp/.geojson for geometry tables, .csv/.xlsx otherwise; "
        "relative paths are relative to the config file")
    columns: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="per table, source column name -> canonical name (e.g. Chinese XLSX headers)")
    sheets: dict[str, str] = Field(
        default_factory=dict, description="per table, the XLSX sheet to read (default: the first)")
    connect_timeout_seconds: int = Field(
        10, ge=1, le=600, description="seconds to wait when connecting before the source counts as unreachable")
    fast_path: bool = Field(
        True, description="read through Arrow (ADBC) where the driver allows; false forces plain SQLAlchemy")

    @field_validator("coord_sys")
    @classmethod
    def _known_epsg(cls, value: str) -> str:
        if value.startswith("EPSG:") and not epsg_known(value):
            raise ValueError(f"{value} is not a coordinate system pyproj knows")
        return value

    @field_validator("queries", "files", "columns", "sheets")
    @classmethod
    def _known_tables(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(TABLES))
        if unknown:
            raise ValueError(f"unknown table(s) {unknown}; expected some of {sorted(TABLES)}")
        return value


class SourcesSettings(_Section):
    """The two source systems."""

    grid: SourceSettings = Field(
        default_factory=lambda: SourceSettings(url="sqlite:///data/demo/grid.sqlite"),
        description="grid database (网格化管理平台): townships, communities, grids, workers, inspections")
    case: SourceSettings = Field(
        default_factory=lambda: SourceSettings(url="sqlite:///data/demo/case.sqlite"),
        description="case database (信访信息系统): cases, leaders, 包案, 督办")


class RefreshSettings(_Section):
    """Scheduled refresh."""

    interval_minutes: int = Field(5, ge=1, le=1440, description="minutes between scheduled refreshes")
    overlap_minutes: int = Field(
        30, ge=0, description="incremental reads go back this far before the last updated_at watermark")
    keep_versions: int = Field(5, ge=2, le=1000, description="snapshot versions kept on disk")
    full_every_hours: float = Field(
        24.0, gt=0, description="an incremental refresh becomes a full rebuild when the last full one is "
        "older than this (picks up deleted rows and rows without updated_at)")
    in_app_scheduler: bool = Field(
        True, description="the Streamlit app runs the refresh schedule itself; set false when a separate "
        "`gridwatch worker` runs it")
    first_run_delay_seconds: float = Field(
        10.0, ge=0, le=3600, description="seconds after the scheduler starts before its first refresh")
    misfire_grace_seconds: int = Field(
        120, ge=1, le=86400, description="a scheduled refresh that could not start on time (busy or suspended "
        "process) still runs within this many seconds; missed runs are merged into one")
    retries: int = Field(
        3, ge=0, le=10, description="retries of a failed scheduled refresh before waiting for the next interval")
    retry_backoff_seconds: float = Field(
        10.0, ge=0, le=600, description="wait before the first retry; each further retry waits three times "
        "longer (10, 30, 90 s), never more than half an interval")
    stale_after_intervals: float = Field(
        3.0, gt=0, le=100, description="pages show a stale-data banner when the last successful refresh is "
        "older than this many intervals (or the last refresh failed)")


class ValidationSettings(_Section):
    """Row validation at load."""

    future_tolerance_hours: float = Field(
        24.0, ge=0, description="timestamps later than now plus this many hours are rejected as future dates")
    bounds: tuple[float, float, float, float] = Field(
        (73.0, 3.0, 136.0, 54.0),
        description="lon_min, lat_min, lon_max, lat_max outside which coordinates are not used (default: China)")


class CategorySettings(_Section):
    """Case categories."""

    aliases: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_ALIASES),
        description="local category name -> one of the 17 first-level categories (post-2018 renames)")


class AssignmentSettings(_Section):
    """Placing cases on grids."""

    nearest_tolerance_m: float = Field(
        200.0, ge=0, description="a point outside all grids but this close (metres) goes to the nearest grid")
    outside_jurisdiction_km: float = Field(
        20.0, ge=0, description="points farther than this (km) outside the jurisdiction are not used")


class DeadlineSettings(_Section):
    """Legal time limits and lights (灭红灯)."""

    yellow_days: int = Field(5, ge=0, le=60, description="an open case within this many days of its deadline is yellow")
    backlog_days: int = Field(90, ge=1, description="an open case older than this many days (since receipt) is 积案")


class InspectionSettings(_Section):
    """排查 (inspection) cadence per level (SPEC §10): 村/社区 every 10 days, 乡镇/街道 every half month, 县/区
    monthly. Each grid follows the cadence of its level; the 网格工作台 lists the next 排查 due per grid."""

    village_days: int = Field(
        10, ge=1, le=366, description="days between two 排查 of a village-level grid (村/社区: every grid not listed "
        "in township_units or district_units)")
    township_days: int = Field(
        15, ge=1, le=366, description="days between two 排查 of a township-level grid (乡镇/街道, half a month)")
    district_days: int = Field(
        30, ge=1, le=366, description="days between two 排查 of a district-level grid (县/区, monthly)")
    township_units: list[str] = Field(
        default_factory=list, description="ids of grids, communities or townships whose grids are inspected at "
        "township level (e.g. 街道直管 grids); a grid matches by its own id, its community_id or its township_id")
    district_units: list[str] = Field(
        default_factory=list, description="ids of grids, communities or townships whose grids are inspected at "
        "district level (e.g. 县直 units); matched like township_units and winning over it")


class MetricSettings(_Section):
    """Metrics per unit and period."""

    history_days: int = Field(400, ge=31, description="periods starting within this many days before now are computed")
    evaluation_window_days: int = Field(
        30, ge=1, description="days after conclusion during which a petitioner may still evaluate (群众参评率)")
    collective_min_people: int = Field(5, ge=2, description="people_count from which a case is a collective visit")
    day_units: list[Literal["county", "township", "community", "grid"]] = Field(
        default_factory=lambda: ["county", "township"], description="unit types that also get daily figures")


class MapSettings(_Section):
    """Map display."""

    tile_url: str | None = Field(
        None, description="XYZ tile URL template on the intranet, e.g. http://tiles.local/{z}/{x}/{y}.png; "
        "empty for a blank offline basemap")
    tiles_coord_sys: Literal["wgs84", "gcj02"] = Field(
        "wgs84", description="coordinate system of the configured tiles; gcj02 shifts the display to match")
    point_limit: int = Field(
        20000, ge=0, description="most case points drawn on one map; larger scopes show aggregates")
    max_polygons: int = Field(
        3000, ge=1, description="most grid outlines sent to one map: a larger scope is coloured by community "
        "on the command screen, and the hot-spot map shows only grids with a finding")


class AppDBSettings(_Section):
    """The app database: alert lifecycle, 复盘 reviews and the audit log (SPEC §2, §9)."""

    url: str | None = Field(
        None, description="SQLAlchemy URL of the app DB, e.g. postgresql+psycopg://gw:${APPDB_PASS}@host/gridwatch; "
        "empty for sqlite:///<data_dir>/app.sqlite")
    busy_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="seconds a write waits for another process's write to the same alert "
        "or database file before failing")


class AlertSettings(_Section):
    """Alert lifecycle (SPEC §8): ids, episodes and visibility."""

    quiet_hours: float = Field(
        72.0, gt=0, description="an alert that fires again within this many hours of the refresh that found its "
        "condition cleared keeps its alert_id (reopened if closed); after a longer quiet it is a new alert")
    closed_visible_days: int = Field(
        30, ge=0, description="closed alerts whose condition has cleared stay listed this many days after closing")


class SensitivePeriod(_Section):
    """One sensitive period (重点时期): while it is in force every alert level is raised one step."""

    name: str = Field(..., min_length=1, description="name shown on every page while in force, e.g. 春节")
    start: str = Field(..., description="first day, local date YYYY-MM-DD")
    end: str = Field(..., description="last day (inclusive), local date YYYY-MM-DD")
    threshold_factor: float = Field(
        1.0, gt=0, le=1, description="count thresholds are multiplied by this (rounded up) while in force")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> str:
        import datetime as dt

        if isinstance(value, dt.date):
            return value.isoformat()[:10]
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD") from None

    def model_post_init(self, _context: Any) -> None:
        if self.end < self.start:
            raise ValueError(f"sensitive period {self.name!r} ends ({self.end}) before it starts ({self.start})")


class WarningSettings(_Section):
    """Early warning (SPEC §8): detector thresholds and sensitive periods (重点时期)."""

    enabled: bool = Field(True, description="run the early-warning detectors on every refresh")
    event_lookback_days: int = Field(
        7, ge=1, le=366, description="case-based alerts (越级访, 集体访, repeated visits, repeat petitioners) fire "
        "while their latest qualifying case is at most this many days old")
    max_case_ids: int = Field(50, ge=1, le=1000, description="most case ids listed in one alert's evidence")
    repeated_collective_count: int = Field(
        3, ge=2, description="collective visits on the same issue within the window that raise a red alert")
    repeated_collective_days: int = Field(7, ge=1, description="window (days) of the repeated-collective-visit rule")
    repeated_collective_key: list[str] = Field(
        default_factory=lambda: ["township_id", "category"],
        description="case columns that together identify 'the same issue' (e.g. add subcategory)")
    collective_yellow_people: int = Field(5, ge=2, description="a visit with this many people or more: yellow alert")
    collective_red_people: int = Field(
        50, ge=2, description="a visit with this many people or more: red alert (规模性集体访)")
    repeat_petitioner_count: int = Field(
        3, ge=2, description="cases of one petitioner_key within the window that raise a yellow alert")
    repeat_petitioner_days: int = Field(30, ge=1, description="window (days) of the repeat-petitioner rule")
    surge_units: list[Literal["grid", "community", "township", "county"]] = Field(
        default_factory=lambda: ["grid", "community", "township"], description="unit types checked for surges")
    surge_baseline_days: int = Field(
        28, ge=7, le=365, description="a unit's baseline: its cases in this many days before the latest week")
    surge_alpha: float = Field(
        0.0001, gt=0, lt=0.5, description="a surge needs a one-sided Poisson rate-test p-value below this")
    surge_min_day: int = Field(5, ge=1, description="a day's surge needs at least this many cases today")
    surge_min_week: int = Field(10, ge=1, description="a week's surge needs at least this many cases in the last 7 days")
    surge_ratio_yellow: float = Field(2.0, gt=1, description="count ÷ baseline expectation from which a surge is yellow")
    surge_ratio_orange: float = Field(3.0, gt=1, description="count ÷ baseline expectation from which a surge is orange")
    surge_ratio_red: float = Field(5.0, gt=1, description="count ÷ baseline expectation from which a surge is red")
    hotspot_windows_days: list[int] = Field(
        default_factory=lambda: [7, 30], description="windows (days, ending today) of the Gi* hotspot maps")
    hotspot_measure: Literal["anscombe", "count", "rate_per_10k"] = Field(
        "anscombe", description="what Gi* compares per grid: anscombe = case counts variance-stabilised "
        "(2·sqrt(n+3/8); keeps p-values honest for sparse grids), count = raw counts, rate_per_10k = cases per "
        "10,000 residents")
    hotspot_fdr: bool = Field(True, description="false-discovery-rate correction of the 99/95/90 % hotspot bins")
    hotspot_min_bin: int = Field(
        2, ge=1, le=3, description="hot bin from which a grid raises an alert: 1 = 90 %, 2 = 95 %, 3 = 99 % (yellow "
        "from 95 %, orange at 99 %, blue at 90 %)")
    hotspot_min_cases: int = Field(
        5, ge=0, description="a hotspot alert needs at least this many cases in the grid and its neighbours")
    hotspot_min_growth: float = Field(
        1.5, ge=0, description="a hotspot alert also needs the grid's neighbourhood count to be this many times its "
        "level before the window (0: alert on long-standing high-volume areas too; they stay on the map)")
    hotspot_baseline_days: int = Field(
        56, ge=7, le=365, description="days before each hotspot window that give the neighbourhood's usual level")
    contiguity_tolerance_m: float = Field(
        1.0, ge=0, description="grids closer than this (metres) count as touching (bridges digitising gaps)")
    island_neighbours: int = Field(4, ge=1, le=20, description="a grid touching no other gets its k nearest as neighbours")
    emerging_weeks: int = Field(12, ge=6, le=104, description="weeks of Gi* history for emerging-hotspot classes")
    emerging_min_bin: int = Field(1, ge=1, le=3, description="weekly hot bin that counts as a hot week (1 = 90 %)")
    emerging_trend_alpha: float = Field(
        0.05, gt=0, lt=0.5, description="Mann-Kendall significance for intensifying / diminishing")
    emerging_alert_levels: dict[str, Literal["red", "orange", "yellow", "blue"]] = Field(
        default_factory=lambda: {"consecutive_hot": "yellow", "intensifying_hot": "orange", "sporadic_hot": "blue",
                                 "oscillating_hot": "blue"},
        description="emerging-hotspot classes that raise an alert, and at which level (others only on the map; "
        "new_hot is left out because the 7-day hotspot alert already reports a new hot spot)")
    backlog_units: list[Literal["grid", "community", "township", "county"]] = Field(
        default_factory=lambda: ["township"], description="unit types checked for red-light and 积案 backlogs")
    backlog_red_yellow: int = Field(20, ge=1, description="red-light (overdue) open cases in a unit: yellow alert")
    backlog_red_orange: int = Field(50, ge=1, description="red-light (overdue) open cases in a unit: orange alert")
    backlog_old_yellow: int = Field(20, ge=1, description="积案 (open past deadlines.backlog_days) in a unit: yellow")
    backlog_old_orange: int = Field(50, ge=1, description="积案 (open past deadlines.backlog_days) in a unit: orange")
    sensitive_periods: list[SensitivePeriod] = Field(
        default_factory=list, description="重点时期: [{name, start, end, threshold_factor}], dates YYYY-MM-DD inclusive; "
        "while one is in force every alert level goes up one step and the count thresholds (not the 5-person "
        "collective size) are multiplied by threshold_factor (default 1)")

    @field_validator("repeated_collective_key")
    @classmethod
    def _column_names(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", v)]
        if bad:
            raise ValueError(f"{bad} are not column names (letters, digits and _ only)")
        return value

    @field_validator("emerging_alert_levels")
    @classmethod
    def _known_classes(cls, value: dict[str, str]) -> dict[str, str]:
        from geo.hotspots import TREND_CLASS_BY_CODE

        unknown = sorted(set(value) - set(TREND_CLASS_BY_CODE))
        if unknown:
            raise ValueError(f"unknown class(es) {unknown}; expected some of {sorted(TREND_CLASS_BY_CODE)}")
        return value


class DemoSettings(_Section):
    """The embedded demo (示例数据)."""

    enabled: bool = Field(
        False, description="build and serve synthetic demo sources, every page marked 示例数据 "
        "(true when no config file is found)")
    cases: int = Field(30000, ge=100, le=20_000_000, description="number of synthetic cases in one year")
    grids: int = Field(600, ge=20, le=10000, description="number of synthetic grids")
    seed: int = Field(20261122, description="random seed; the same seed gives the same demo data")
    district_code: str = Field(
        "150102", description="6-digit code of the real district outline used (default 呼和浩特市新城区)")
    live_feed: bool = Field(
        True, description="with the demo, every refresh interval adds a few new cases and advances some open "
        "ones in the demo case DB, so scheduled refreshes change the numbers")


class ServerSettings(_Section):
    """The Streamlit server started by `gridwatch demo`."""

    address: str = Field("127.0.0.1", description="address the app listens on")
    port: int = Field(8501, ge=1, le=65535, description="port the app listens on")


_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$"
ROLE_NAMES = ("leader", "office", "grid_worker", "discipline", "admin")  # dashboard.viewer.ROLES


class AuthSettings(_Section):
    """Sign-in (SPEC §9). OIDC itself (client id, secret, provider URL, cookie secret) is configured in
    .streamlit/secrets.toml [auth], never here; this section says how claims become roles and grids."""

    mode: Literal["none", "demo", "oidc"] | None = Field(
        None, description="none = no sign-in, every visitor is anonymous_roles (trusted single-user setups "
        "only; a banner says so) | demo = role picker in the sidebar, banner on every page | oidc = st.login "
        "via .streamlit/secrets.toml [auth]; empty: demo when demo.enabled, else oidc when secrets.toml has "
        "an [auth] section, else none")
    provider: str | None = Field(
        None, pattern=_IDENTIFIER, description="name of the provider section ([auth.NAME] in secrets.toml) "
        "passed to st.login; empty for the unnamed [auth] section")
    roles_claim: str = Field(
        "groups", pattern=_IDENTIFIER, description="ID-token claim holding the user's groups (a list or one "
        "string) that role_map turns into roles")
    role_map: dict[str, list[Literal["leader", "office", "grid_worker", "discipline", "admin"]]] = Field(
        default_factory=lambda: {r: [r] for r in ROLE_NAMES},
        description="claim value -> Gridwatch roles, e.g. {\"xf-ldb\" = [\"office\"]}; a user whose claim "
        "values map to no role sees a no-access message")
    worker_claim: str = Field(
        "sub", pattern=_IDENTIFIER, description="claim that identifies a grid worker (sub, or a login claim "
        "such as preferred_username)")
    worker_column: Literal["worker_id", "login"] = Field(
        "worker_id", description="grid_workers column the worker_claim is matched against (their grids "
        "come from worker_grids)")
    name_claims: list[str] = Field(
        default_factory=lambda: ["name", "preferred_username", "email", "sub"],
        description="claims tried in order for the name shown and written to the audit log")
    anonymous_roles: list[Literal["leader", "office", "grid_worker", "discipline", "admin"]] = Field(
        default_factory=lambda: ["office"], description="roles of every visitor in mode none (whole jurisdiction)")

    @field_validator("name_claims")
    @classmethod
    def _claim_names(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.fullmatch(_IDENTIFIER, v)]
        if bad:
            raise ValueError(f"claim names {bad} are not identifiers (letters, digits, _ . : -)")
        return value


class PrivacySettings(_Section):
    """Personal-data protection (SPEC §9)."""

    small_count_threshold: int = Field(
        5, ge=1, le=100, description="counts of aggregates below this (and above 0) are shown as \"<N\" to roles "
        "without point access and in exports; 1 turns suppression off")


class ReportSettings(_Section):
    """周通报 / 月分析 / 季研判 exports (dashboard/reports.py). Fonts are names written to the DOCX (w:eastAsia),
    not embedded: Word/WPS substitute a similar font when one is missing (see dashboard/reports.py)."""

    issuer: str = Field("信访工作联席会议办公室", description="issuing office printed in the title block of a report")
    title_font: str = Field("黑体", description="East Asian font of the report title (e.g. 方正小标宋简体 where installed)")
    heading_font: str = Field("黑体", description="East Asian font of headings and table headers")
    body_font: str = Field("仿宋", description="East Asian font of the text and tables (e.g. 仿宋_GB2312 where installed)")


class Settings(_Section):
    """All settings of one Gridwatch installation."""

    data_dir: str = Field("data", description="snapshots, app DB and locks; relative to the config file")
    timezone: str = Field("Asia/Shanghai", description="time zone of naive source timestamps and of day boundaries")
    jurisdiction_level: Literal["county", "city", "province"] = Field(
        "county", description="administrative level of the body running the dashboard (for 越级 tests)")
    jurisdiction_name: str = Field("", description="name shown in titles; default: the demo district's name")
    sources: SourcesSettings = Field(default_factory=SourcesSettings, description="source systems")
    refresh: RefreshSettings = Field(default_factory=RefreshSettings, description="scheduled refresh")
    validation: ValidationSettings = Field(default_factory=ValidationSettings, description="row validation")
    categories: CategorySettings = Field(default_factory=CategorySettings, description="case categories")
    assignment: AssignmentSettings = Field(default_factory=AssignmentSettings, description="case placement")
    deadlines: DeadlineSettings = Field(default_factory=DeadlineSettings, description="time limits and lights")
    inspections: InspectionSettings = Field(default_factory=InspectionSettings,
                                            description="排查 cadence per level (网格工作台)")
    metrics: MetricSettings = Field(default_factory=MetricSettings, description="metrics per unit and period")
    map: MapSettings = Field(default_factory=MapSettings, description="map display")
    app_db: AppDBSettings = Field(default_factory=AppDBSettings, description="app database (alerts, audit log)")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="alert lifecycle")
    warnings: WarningSettings = Field(default_factory=WarningSettings, description="early-warning detectors")
    demo: DemoSettings = Field(default_factory=DemoSettings, description="embedded demo data")
    server: ServerSettings = Field(default_factory=ServerSettings, description="app server")
    reports: ReportSettings = Field(default_factory=ReportSettings, description="report exports")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="sign-in and roles")
    privacy: PrivacySettings = Field(default_factory=PrivacySettings, description="personal-data protection")

    # Directory that relative paths are resolved against (the config file's folder); not a TOML key.
    base_dir: str = Field(".", exclude=True, description="folder of the config file (set by the loader)")

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; expected an IANA name like Asia/Shanghai") from exc
        return value

    def path(self, value: str | os.PathLike[str]) -> Path:
        """Resolve a path from the config against the config file's folder."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def data_path(self) -> Path:
        return self.path(self.data_dir)

    def resolve_url(self, url: str) -> str:
        """Make a relative sqlite:/// URL relative to the config folder."""
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix):]))
        return url

    def config_hash(self) -> str:
        """Stable hash of the effective settings (written to snapshot manifests)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use: --config, then $GRIDWATCH_CONFIG, then ./gridwatch.toml; None if absent."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.exists() else None


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate the config; with no file, the embedded-demo defaults. Raises ConfigError."""
    found = find_config(path)
    if found is None:
        return Settings(base_dir=str(Path.cwd()), demo=DemoSettings(enabled=True))
    if not found.exists():
        raise ConfigError(f"配置文件不存在 / config file not found: {found}. "
                          f"Create it or pass --config PATH.")
    try:
        raw = tomllib.loads(found.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{found}: not valid TOML ({exc}). Fix the syntax at the position given.") from exc
    return settings_from_dict(raw, base_dir=found.resolve().parent, origin=str(found))


def settings_from_dict(raw: dict[str, Any], *, base_dir: str | os.PathLike[str] = ".",
                       origin: str = "config") -> Settings:
    """Validate a parsed config dict (after ${ENV} expansion). Raises ConfigError naming the key."""
    expanded = _expand_env(raw, origin=origin, key_path=())
    if "base_dir" in expanded:
        raise ConfigError(f"{origin}: base_dir is not a setting; relative paths follow the config file.")
    try:
        return Settings(**expanded, base_dir=str(base_dir))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        expected = describe_key(key)
        got = err.get("input")
        got_text = "" if isinstance(got, dict) else f", got {got!r}"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling against the configuration reference in README.md)"
        raise ConfigError(f"{origin}: {key}: {msg}{got_text}. Expected: {expected}") from None


def _expand_env(value: Any, *, origin: str, key_path: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, origin=origin, key_path=(*key_path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, origin=origin, key_path=key_path) for v in value]
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ConfigError(f"{origin}: {'.'.join(key_path)}: environment variable {name} is not set. "
                                  f"Set it, or write the value directly.")
            return os.environ[name]
        return _ENV_REF.sub(sub, value)
    return value


def iter_settings(model: BaseModel | None = None, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted key, default, description) for every setting, depth first; sections included."""
    model = model if model is not None else Settings()
    rows: list[tuple[str, Any, str]] = []
    for name, field in type(model).model_fields.items():
        if field.exclude:
            continue
        key = f"{prefix}{name}"
        value = getattr(model, name)
        rows.append((key, value, field.description or ""))
        if isinstance(value, BaseModel):
            rows.extend(iter_settings(value, prefix=f"{key}."))
    return rows


def describe_key(key: str) -> str:
    """The description of a dotted key (nearest documented ancestor for dict entries)."""
    table = {k: d for k, _, d in iter_settings()}
    parts = key.split(".")
    # sources.grid.queries.cases -> sources.grid.queries -> sources.{grid,case}.x shares one model
    while parts:
        k = ".".join(parts)
        if k in table:
            return table[k]
        parts.pop()
    return "see the configuration reference in README.md"


def reference_markdown() -> str:
    """The configuration reference as a Markdown table (README and `gridwatch config`)."""
    lines = ["| key | default | description |", "|---|---|---|"]
    for key, default, desc in iter_settings():
        desc = desc.replace("|", "\\|")
        if isinstance(default, BaseModel):
            lines.append(f"| `[{key}]` | | {desc} |")
            continue
        shown = json.dumps(default, ensure_ascii=False).replace("|", "\\|") if default not in (None, "") else ""
        lines.append(f"| `{key}` | `{shown}` | {desc} |" if shown else f"| `{key}` | | {desc} |")
    return "\n".join(lines)
