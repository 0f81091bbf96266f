"""The canonical source schema (SPEC §3) as data: tables, columns, dtypes, keys and enumerations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DType = Literal["id", "str", "int", "float", "datetime", "bool", "geometry", "enum", "category"]


@dataclass(frozen=True)
class Column:
    """One canonical column. `enum` names an enumeration in `loaders.enums.ENUMERATIONS`."""

    name: str
    dtype: DType
    label: str
    required: bool = False
    enum: str | None = None
    personal: bool = False
    # Deadlines may lie in the future; event timestamps may not.
    future_ok: bool = False


@dataclass(frozen=True)
class Table:
    """One canonical table of the grid or case database."""

    name: str
    source: Literal["grid", "case"]
    label: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    # Whether duplicates of `key` are rejected (tables of plain ids) or kept (event tables).
    unique: bool = True

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def geometry_column(self) -> str | None:
        return next((c.name for c in self.columns if c.dtype == "geometry"), None)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name!r}")


def _c(name: str, dtype: DType, label: str, *, required: bool = False, enum: str | None = None,
       personal: bool = False) -> Column:
    return Column(name, dtype, label, required, enum, personal, future_ok=name.endswith("due_at"))


TOWNSHIPS = Table("townships", "grid", "乡镇/街道", ("township_id",), (
    _c("township_id", "id", "乡镇编码", required=True),
    _c("name", "str", "乡镇名称", required=True),
    _c("county_id", "id", "县区编码"),
    _c("geometry", "geometry", "边界"),
))

COMMUNITIES = Table("communities", "grid", "村/社区", ("community_id",), (
    _c("community_id", "id", "社区编码", required=True),
    _c("township_id", "id", "乡镇编码", required=True),
    _c("name", "str", "社区名称", required=True),
    _c("geometry", "geometry", "边界"),
))

GRIDS = Table("grids", "grid", "网格", ("grid_id",), (
    _c("grid_id", "id", "网格编码", required=True),
    _c("community_id", "id", "社区编码", required=True),
    _c("name", "str", "网格名称", required=True),
    _c("geometry", "geometry", "边界", required=True),
    _c("households", "int", "户数"),
    _c("population", "int", "人口"),
))

GRID_WORKERS = Table("grid_workers", "grid", "网格员", ("worker_id",), (
    _c("worker_id", "id", "网格员编号", required=True),
    _c("name", "str", "姓名", required=True),
    _c("phone", "str", "电话"),
    _c("login", "str", "登录账号"),
))

WORKER_GRIDS = Table("worker_grids", "grid", "网格员-网格", ("worker_id", "grid_id"), (
    _c("worker_id", "id", "网格员编号", required=True),
    _c("grid_id", "id", "网格编码", required=True),
))

INSPECTIONS = Table("inspections", "grid", "排查记录", ("grid_id", "inspected_at"), (
    _c("grid_id", "id", "网格编码", required=True),
    _c("inspected_at", "datetime", "排查时间", required=True),
    _c("worker_id", "id", "网格员编号"),
    _c("issues_found", "int", "发现问题数"),
), unique=False)

CASES = Table("cases", "case", "信访事项", ("case_id",), (
    _c("case_id", "id", "事项编号", required=True),
    _c("received_at", "datetime", "登记时间", required=True),
    _c("category", "category", "问题类别", required=True),
    _c("status", "enum", "办理状态", required=True, enum="status"),
    _c("channel", "enum", "渠道", enum="channel"),
    _c("kind", "enum", "事项类型", enum="kind"),
    _c("purpose", "enum", "诉求目的", enum="purpose"),
    _c("subcategory", "str", "二级类别"),
    _c("summary", "str", "摘要"),
    _c("lon", "float", "经度"),
    _c("lat", "float", "纬度"),
    _c("coord_sys", "str", "坐标系"),
    _c("address", "str", "地址"),
    _c("grid_id", "id", "网格编码"),
    _c("township_id", "id", "乡镇编码"),
    _c("people_count", "int", "人数"),
    _c("level_visited", "enum", "来访层级", enum="level_visited"),
    _c("petitioner_key", "str", "信访人标识"),
    _c("petitioner_name", "str", "信访人姓名", personal=True),
    _c("petitioner_phone", "str", "信访人电话", personal=True),
    _c("petitioner_id_no", "str", "信访人证件号", personal=True),
    _c("is_accusation", "bool", "检举控告"),
    _c("accepted_at", "datetime", "受理时间"),
    _c("due_at", "datetime", "办理期限"),
    _c("extended_due_at", "datetime", "延期期限"),
    _c("replied_at", "datetime", "答复时间"),
    _c("closed_at", "datetime", "办结时间"),
    _c("outcome", "enum", "处理意见", enum="outcome"),
    _c("satisfaction", "enum", "评价", enum="satisfaction"),
    _c("evaluated_at", "datetime", "评价时间"),
    _c("review_stage", "enum", "复查复核", enum="review_stage"),
    _c("review_requested_at", "datetime", "复查申请时间"),
    _c("updated_at", "datetime", "更新时间"),
))

LEADERS = Table("leaders", "case", "包案领导", ("leader_id",), (
    _c("leader_id", "id", "领导编号", required=True),
    _c("name", "str", "姓名", required=True),
    _c("post", "str", "职务", required=True),
    _c("level", "enum", "层级", required=True, enum="leader_level"),
))

LEADER_AREAS = Table("leader_areas", "case", "包抓区域", ("leader_id", "township_id"), (
    _c("leader_id", "id", "领导编号", required=True),
    _c("township_id", "id", "乡镇编码", required=True),
))

LEADER_CASES = Table("leader_cases", "case", "领导包案", ("case_id", "leader_id"), (
    _c("case_id", "id", "事项编号", required=True),
    _c("leader_id", "id", "领导编号", required=True),
    _c("assigned_at", "datetime", "包案时间", required=True),
    _c("stage", "enum", "阶段", enum="leader_stage"),
    _c("plan", "str", "化解方案"),
    _c("due_at", "datetime", "化解期限"),
    _c("last_progress_at", "datetime", "最近进展"),
    _c("resolved_at", "datetime", "化解时间"),
    _c("followed_up_at", "datetime", "回访时间"),
))

SUPERVISIONS = Table("supervisions", "case", "督办", ("supervision_id",), (
    _c("supervision_id", "id", "督办编号", required=True),
    _c("case_id", "id", "事项编号", required=True),
    _c("tier", "enum", "督办层级", required=True, enum="tier"),
    _c("issued_at", "datetime", "下发时间", required=True),
    _c("due_at", "datetime", "反馈期限", required=True),
    _c("issuer", "str", "督办单位"),
    _c("status", "enum", "状态", enum="supervision_status"),
    _c("answered_at", "datetime", "反馈时间"),
    _c("closed_at", "datetime", "办结时间"),
    _c("reminders", "int", "催办次数"),
))

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        TOWNSHIPS, COMMUNITIES, GRIDS, GRID_WORKERS, WORKER_GRIDS, INSPECTIONS,
        CASES, LEADERS, LEADER_AREAS, LEADER_CASES, SUPERVISIONS,
    )
}
GRID_TABLES = tuple(t for t in TABLES if TABLES[t].source == "grid")
CASE_TABLES = tuple(t for t in TABLES if TABLES[t].source == "case")
GEOMETRY_TABLES = tuple(t for t in TABLES if TABLES[t].geometry_column)
PERSONAL_COLUMNS = tuple(c.name for c in CASES.columns if c.personal)

# Columns of the `rejected` frame every loader returns.
REJECTED_COLUMNS = ("table", "row_key", "column", "reason", "action", "value")
ACTION_ROW_REJECTED = "row_rejected"
ACTION_VALUE_CLEARED = "value_cleared"
ACTION_REPAIRED = "repaired"
