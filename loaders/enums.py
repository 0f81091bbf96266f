"""Enumerations of the canonical schema as data: codes, Chinese labels, accepted aliases, predicates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Member:
    """One value of an enumeration: a stable English code and its Chinese label."""

    code: str
    label: str
    rank: int = 0
    flags: frozenset[str] = frozenset()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Enumeration:
    """An ordered set of members; `parse` maps codes, labels and aliases to codes."""

    name: str
    label: str
    members: tuple[Member, ...]
    _lookup: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        lookup: dict[str, str] = {}
        for m in self.members:
            for key in (m.code, m.label, *m.aliases):
                lookup[_norm(key)] = m.code
        object.__setattr__(self, "_lookup", lookup)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(m.code for m in self.members)

    def parse(self, value: object) -> str | None:
        """Return the code for a code, label or alias (case- and space-insensitive), else None."""
        if value is None:
            return None
        return self._lookup.get(_norm(str(value)))

    def lookup_table(self) -> dict[str, str]:
        """Normalised spelling -> code, for vectorised mapping."""
        return dict(self._lookup)

    def member(self, code: str) -> Member:
        for m in self.members:
            if m.code == code:
                return m
        raise KeyError(f"{self.name}: unknown code {code!r}; expected one of {self.codes}")

    def label_of(self, code: str) -> str:
        return self.member(code).label

    def with_flag(self, flag: str) -> frozenset[str]:
        """Codes of the members carrying `flag`."""
        return frozenset(m.code for m in self.members if flag in m.flags)

    def rank_of(self, code: str) -> int:
        return self.member(code).rank


def _norm(value: str) -> str:
    return "".join(value.split()).lower()


def _m(code: str, label: str, *aliases: str, rank: int = 0, flags: Iterable[str] = ()) -> Member:
    return Member(code=code, label=label, rank=rank, flags=frozenset(flags), aliases=aliases)


# Case lifecycle (DOMAIN.md §Case lifecycle). Flags drive the predicates below.
STATUS = Enumeration(
    "status",
    "办理状态",
    (
        _m("registered", "登记", "已登记", "待受理", flags={"open", "awaiting_acceptance"}),
        _m("accepted", "受理", "已受理", flags={"open", "accepted"}),
        _m("not_accepted", "不予受理", flags={"finished"}),
        _m("forwarded", "转送", "已转送", "转办", flags={"finished"}),
        _m("handling", "办理中", "在办", flags={"open", "accepted"}),
        _m("replied", "已答复", "答复", flags={"accepted", "concluded"}),
        _m("closed", "办结", "已办结", flags={"accepted", "concluded", "finished"}),
        _m("review", "复查", "复查中", flags={"open", "accepted", "concluded", "in_review"}),
        _m("rereview", "复核", "复核中", flags={"open", "accepted", "concluded", "in_review"}),
        _m("terminated", "终结", "已终结", flags={"accepted", "concluded", "finished"}),
        _m("resolved", "已化解", "化解", flags={"accepted", "concluded", "finished", "resolved"}),
    ),
)
OPEN_STATUSES = STATUS.with_flag("open")
CONCLUDED_STATUSES = STATUS.with_flag("concluded")
FINISHED_STATUSES = STATUS.with_flag("finished")


def is_open(status: str) -> bool:
    """True while the case still needs action from the handling body (it can get a red light)."""
    return status in OPEN_STATUSES


def is_concluded(status: str) -> bool:
    """True once the handling body has answered (replied, closed, resolved, terminated, in review)."""
    return status in CONCLUDED_STATUSES


KIND = Enumeration(
    "kind",
    "事项类型",
    (
        _m("petition", "信访", "信访事项"),
        _m("dispute", "矛盾纠纷", "纠纷", "调解"),
        _m("hotline", "12345", "热线", "12345热线", "诉求"),
    ),
)

CHANNEL = Enumeration(
    "channel",
    "渠道",
    (
        _m("online", "网上信访", "网信", "网上"),
        _m("letter", "来信", "信件"),
        _m("visit", "来访", "走访"),
        _m("phone", "来电", "电话"),
        _m("hotline", "12345热线", "12345"),
        _m("grid", "网格上报", "网格"),
        _m("other", "其他"),
    ),
)

# Order matters: rank is the administrative level, used by the 越级 test.
LEVEL_VISITED = Enumeration(
    "level_visited",
    "来访层级",
    (
        _m("township", "乡镇", "乡镇级", "街道", rank=0),
        _m("county", "县", "县级", "区", "县区", rank=1),
        _m("city", "市", "市级", "赴市", rank=2),
        _m("province", "省", "省级", "赴省", rank=3),
        _m("national", "国家", "进京", "中央", rank=4),
    ),
)

LEADER_LEVEL = Enumeration(
    "leader_level",
    "领导层级",
    (
        _m("village", "村级", "村", "社区", rank=0),
        _m("township", "乡镇级", "乡镇", "镇级", "街道", rank=1),
        _m("county", "县级", "县区级", "区级", "县", rank=2),
    ),
)

TIER = Enumeration(
    "tier",
    "督办层级",
    (
        _m("交办", "交办", "assign", rank=1),
        _m("督办", "督办", "supervise", rank=2),
        _m("挂牌督办", "挂牌督办", "listed", "挂牌", rank=3),
    ),
)

SUPERVISION_STATUS = Enumeration(
    "supervision_status",
    "督办状态",
    (
        _m("issued", "已下发", "下发", "待反馈", flags={"open"}),
        _m("answered", "已反馈", "反馈", flags={"open"}),
        _m("closed", "已办结", "办结", "销号", "已销号"),
    ),
)

SATISFACTION = Enumeration(
    "satisfaction",
    "评价",
    (
        _m("satisfied", "满意", "非常满意", flags={"positive"}),
        _m("basic", "基本满意", "较满意", flags={"positive"}),
        _m("unsatisfied", "不满意", flags={"negative"}),
    ),
)

REVIEW_STAGE = Enumeration(
    "review_stage",
    "复查复核",
    (
        _m("none", "无", "未申请"),
        _m("review", "复查"),
        _m("rereview", "复核"),
        _m("terminated", "终结"),
    ),
)

PURPOSE = Enumeration(
    "purpose",
    "诉求目的",
    (
        _m("request", "求决"),
        _m("appeal", "申诉"),
        _m("accusation", "揭发控告", "检举控告", "检举", "控告", flags={"accusation"}),
        _m("suggestion", "意见建议", "建议"),
        _m("other", "其他"),
    ),
)

OUTCOME = Enumeration(
    "outcome",
    "处理意见",
    (
        _m("support", "予以支持", "支持"),
        _m("explain", "解释说明", "解释"),
        _m("reject", "不予支持"),
    ),
)

LEADER_STAGE = Enumeration(
    "leader_stage",
    "包案阶段",
    (
        _m("assigned", "已交办", "交办", rank=0),
        _m("investigating", "调查核实", "核查", rank=1),
        _m("mediating", "化解中", "化解", "调处", rank=2),
        _m("resolved", "已化解", rank=3, flags={"resolved"}),
        _m("followed_up", "已回访", "回访", rank=4, flags={"resolved"}),
    ),
)

# 17 first-level categories widely used in petition statistics (DOMAIN.md §Categories).
CATEGORY_NAMES: tuple[str, ...] = (
    "城乡建设", "国土资源", "劳动和社会保障", "农村农业", "卫生计生", "教育文体", "民政", "政法",
    "经济管理", "交通运输", "商贸旅游", "科技与信息产业", "环境保护", "党务政务", "组织人事",
    "纪检监察", "其他",
)

# Post-2018 local renames; the config can add more (categories.aliases).
DEFAULT_CATEGORY_ALIASES: dict[str, str] = {
    "自然资源": "国土资源",
    "生态环境": "环境保护",
    "卫生健康": "卫生计生",
    "农业农村": "农村农业",
    "人力资源和社会保障": "劳动和社会保障",
    "劳动社保": "劳动和社会保障",
    "住房和城乡建设": "城乡建设",
    "教育": "教育文体",
    "文化旅游": "商贸旅游",
}


def category_enumeration(aliases: dict[str, str]) -> Enumeration:
    """The category enumeration with the given alias table (alias -> canonical name)."""
    by_target: dict[str, list[str]] = {c: [] for c in CATEGORY_NAMES}
    for alias, target in aliases.items():
        if target in by_target:
            by_target[target].append(alias)
    return Enumeration(
        "category", "问题类别", tuple(_m(c, c, *by_target[c]) for c in CATEGORY_NAMES)
    )


ENUMERATIONS: dict[str, Enumeration] = {
    e.name: e
    for e in (
        STATUS, KIND, CHANNEL, LEVEL_VISITED, LEADER_LEVEL, TIER, SUPERVISION_STATUS,
        SATISFACTION, REVIEW_STAGE, PURPOSE, OUTCOME, LEADER_STAGE,
    )
}
