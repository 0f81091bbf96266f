"""Who is looking (SPEC §9): roles, grid scope, point permission and language, passed to every data-layer call.

The data layer (`dashboard/views.py`) filters by the viewer, so a page cannot show a grid worker
anything outside their grids by forgetting a filter. The viewer comes from the signed-in user's claims
(`dashboard/auth.py`, mode oidc), the demo picker in the sidebar (mode demo) or `auth.anonymous_roles`
(mode none).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from loaders.errors import GridwatchError

ROLES: tuple[str, ...] = ("leader", "office", "grid_worker", "discipline", "admin")
LANGS: tuple[str, ...] = ("zh", "en")
# Roles that may see point-level case locations (elsewhere: aggregates per grid/township).
POINT_ROLES = frozenset({"office", "grid_worker", "admin"})
# Roles that see the data-quality page (rejected rows name source keys of every unit).
QUALITY_ROLES = frozenset({"admin", "office"})
# Roles whose data path may read the restricted accusation texts (检举控告).
RESTRICTED_ROLES = frozenset({"discipline"})
# Roles that get case addresses down to the house number: grid workers visit petitioners in their own
# grids (走访). Everyone else gets addresses cut after the community name (they need no more).
FULL_ADDRESS_ROLES = frozenset({"grid_worker"})


class AccessDenied(GridwatchError):
    """The viewer's roles do not allow this view; the message names the roles that would."""

    exit_code = 10


@dataclass(frozen=True)
class Viewer:
    """A signed-in (or demo-picked) user.

    `grids` is the set of grid_ids the viewer may see, None for the whole jurisdiction. A viewer
    with a grid scope never gets rows of other grids, nor aggregates of larger units (their
    township's or the county's totals): views compute "my grids" totals from their own cases.
    """

    name: str
    roles: frozenset[str]
    grids: frozenset[str] | None = None
    can_see_points: bool = False
    lang: str = "zh"
    worker_id: str | None = field(default=None, compare=False)
    login: str | None = field(default=None, compare=False)  # the sign-in subject, for the audit log

    def __post_init__(self) -> None:
        unknown = sorted(set(self.roles) - set(ROLES))
        if unknown:
            raise ValueError(f"`roles` had {unknown} but is expected to hold values of {ROLES}")
        if self.lang not in LANGS:
            raise ValueError(f"`lang` was {self.lang!r} but is expected to be one of {LANGS}")

    @property
    def sees_all(self) -> bool:
        """True when the viewer's scope is the whole jurisdiction."""
        return self.grids is None

    @property
    def full_address(self) -> bool:
        """True when case addresses keep their house number for this viewer (FULL_ADDRESS_ROLES)."""
        return bool(self.roles & FULL_ADDRESS_ROLES)

    @property
    def sees_accusations(self) -> bool:
        """True when accusation cases (检举控告) may show their content (RESTRICTED_ROLES)."""
        return bool(self.roles & RESTRICTED_ROLES)

    @property
    def audit_name(self) -> str:
        """Who, for the audit log: "name (login)", the name, or the roles when neither is known."""
        name = (self.name or "").strip()
        login = (self.login or "").strip()
        text = f"{name} ({login})" if name and login and name != login else (name or login)
        return (text or "anonymous:" + ",".join(sorted(self.roles)))[:128]

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def scope_key(self) -> str:
        """Short stable text naming the grid scope ("all", or a hash of the sorted grid ids)."""
        if self.grids is None:
            return "all"
        digest = hashlib.sha256("\x1f".join(sorted(self.grids)).encode("utf-8")).hexdigest()
        return f"g{len(self.grids)}-{digest[:24]}"

    @property
    def cache_key(self) -> tuple[str, ...]:
        """What a cached view depends on: roles, scope, point permission, language (not the name)."""
        return (",".join(sorted(self.roles)), self.scope_key, str(self.can_see_points), self.lang)

    def in_scope(self, grid_ids: pd.Series) -> pd.Series:
        """Boolean mask of rows whose grid_id the viewer may see (rows without a grid only for `sees_all`)."""
        if self.grids is None:
            return pd.Series(True, index=grid_ids.index)
        return grid_ids.isin(sorted(self.grids)).fillna(False).astype(bool)

    def require(self, roles: Iterable[str]) -> None:
        """Raise AccessDenied unless the viewer holds one of `roles`."""
        allowed = frozenset(roles)
        if not self.roles & allowed:
            raise AccessDenied(f"需要以下角色之一 / one of these roles is needed: {', '.join(sorted(allowed))}")


def make_viewer(roles: Iterable[str], *, name: str = "", grids: Iterable[str] | None = None, lang: str = "zh",
                worker_id: str | None = None, login: str | None = None) -> Viewer:
    """A viewer with the point permission that follows from its roles.

    A grid worker is always limited to `grids` (empty when none are given); other roles see all grids
    unless `grids` is given.
    """
    role_set = frozenset(roles)
    scope = None if grids is None else frozenset(str(g) for g in grids)
    if "grid_worker" in role_set and not role_set & {"office", "admin", "leader", "discipline"}:
        scope = scope if scope is not None else frozenset()
    return Viewer(name=name, roles=role_set, grids=scope, can_see_points=bool(role_set & POINT_ROLES),
                  lang=lang, worker_id=worker_id, login=login)


def grids_of_worker(worker_id: str, worker_grids: pd.DataFrame) -> frozenset[str]:
    """The grid_ids a grid worker is responsible for (worker_grids table: worker_id, grid_id)."""
    rows = worker_grids[worker_grids["worker_id"].astype("str") == str(worker_id)]
    return frozenset(rows["grid_id"].dropna().astype("str"))


def default_viewer(lang: str = "zh") -> Viewer:
    """The anonymous viewer of auth mode none (default anonymous_roles): the joint-meeting office, whole jurisdiction."""
    return make_viewer(["office"], name="", lang=lang)


def nobody(lang: str = "zh", *, name: str = "", login: str | None = None) -> Viewer:
    """A viewer with no role and no grid: not signed in, or signed in without a mapped role. Every scoped
    reader returns nothing for it and no page lists it."""
    return Viewer(name=name, roles=frozenset(), grids=frozenset(), can_see_points=False, lang=lang, login=login)
