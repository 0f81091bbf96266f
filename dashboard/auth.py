"""Sign-in (SPEC §9): which auth mode is in force, and how OIDC claims become a Viewer (roles, grids).

Streamlit does the OIDC flow itself (`st.login` / `st.user`, reading [auth] from .streamlit/secrets.toml:
redirect_uri, cookie_secret, client_id, client_secret, server_metadata_url). This module turns the
signed-in user's claims into roles through `[auth] role_map`, and a grid worker's claim (`sub` or a login)
into their grids through grid_workers / worker_grids. The pure functions take plain dicts and frames; the
few that read `st.user` or the secrets are marked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from dashboard.settings import AuthSettings, Settings
from dashboard.viewer import ROLES, Viewer, grids_of_worker, make_viewer, nobody

Mode = Literal["none", "demo", "oidc"]
# Why a signed-in (or not) user gets no data: shown as a message, written to the audit log.
Reason = Literal["ok", "not_configured", "not_logged_in", "no_role", "no_worker"]


@dataclass(frozen=True)
class Identity:
    """Who is looking: the viewer (nobody when `reason` is not "ok") and the claims it came from."""

    viewer: Viewer
    reason: Reason = "ok"
    claims: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


def secrets_auth_configured() -> bool:
    """Whether .streamlit/secrets.toml (or the configured secrets files) has an [auth] section (reads secrets)."""
    try:
        from streamlit.auth_util import get_secrets_auth_section

        return bool(get_secrets_auth_section())
    except Exception:  # no secrets file, unreadable TOML: no sign-in configured
        return False


def resolve_mode(settings: Settings, *, secrets_configured: bool | None = None) -> Mode:
    """The auth mode in force: `[auth] mode` when set; else demo when `[demo] enabled`; else oidc when the
    secrets have an [auth] section; else none (no sign-in, a banner says so)."""
    if settings.auth.mode is not None:
        return settings.auth.mode
    if settings.demo.enabled:
        return "demo"
    configured = secrets_auth_configured() if secrets_configured is None else secrets_configured
    return "oidc" if configured else "none"


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """The values of one claim as texts: a list claim item by item, a string claim (also "a,b" or "a b")
    split; missing → []."""
    value = claims.get(name)
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).replace(",", " ")
    return [part for part in text.split() if part]


def roles_from_claims(claims: Mapping[str, Any], auth: AuthSettings) -> frozenset[str]:
    """Gridwatch roles of a user: every value of `auth.roles_claim` looked up in `auth.role_map`."""
    roles: set[str] = set()
    for value in claim_values(claims, auth.roles_claim):
        roles.update(auth.role_map.get(value, ()))
    return frozenset(r for r in roles if r in ROLES)


def display_name(claims: Mapping[str, Any], auth: AuthSettings) -> str:
    """The first non-empty claim of `auth.name_claims` (name, preferred_username, email, sub)."""
    for key in auth.name_claims:
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:128]
    return ""


def match_worker(claims: Mapping[str, Any], auth: AuthSettings, workers: pd.DataFrame) -> str | None:
    """The worker_id whose `auth.worker_column` (worker_id or login) equals the user's `auth.worker_claim`,
    compared as exact text; None when the claim is missing or matches no worker (or more than one)."""
    value = claims.get(auth.worker_claim)
    if value is None or not str(value).strip() or auth.worker_column not in workers.columns:
        return None
    column = workers[auth.worker_column].astype("str")
    hits = workers.loc[(column == str(value).strip()).to_numpy(), "worker_id"].astype("str").unique()
    return str(hits[0]) if len(hits) == 1 else None


def identity_from_claims(claims: Mapping[str, Any], settings: Settings, *, workers: pd.DataFrame,
                         worker_grids: pd.DataFrame, lang: str = "zh") -> Identity:
    """The Identity of a signed-in user from their ID-token claims.

    No mapped role → reason no_role. A grid worker (and nothing wider) whose claim matches no grid_workers
    row → reason no_worker: they would otherwise see an empty dashboard without knowing why.
    """
    auth = settings.auth
    name = display_name(claims, auth)
    login = str(claims.get("sub") or claims.get(auth.worker_claim) or "")[:128] or None
    roles = roles_from_claims(claims, auth)
    if not roles:
        return Identity(nobody(lang, name=name, login=login), "no_role", claims)
    worker = match_worker(claims, auth, workers) if "grid_worker" in roles else None
    wider = roles - {"grid_worker"}
    if "grid_worker" in roles and worker is None and not wider:
        return Identity(nobody(lang, name=name, login=login), "no_worker", claims)
    grids = grids_of_worker(worker, worker_grids) if worker is not None and not wider else None
    viewer = make_viewer(sorted(roles), name=name, grids=grids, lang=lang, worker_id=worker, login=login)
    return Identity(viewer, "ok", claims)


def current_claims() -> dict[str, Any] | None:
    """The signed-in user's claims (st.user), None when nobody is signed in (reads st.user)."""
    import streamlit as st

    try:
        info = st.user.to_dict()
    except Exception:  # outside a script run
        return None
    if info.get("is_logged_in") is not True:
        return None
    return {k: v for k, v in info.items() if k not in ("is_logged_in", "tokens")}
