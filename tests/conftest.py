"""Shared pytest fixtures; the server and browser machinery lives in servers.py and browser.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

sys.path.insert(0, str(Path(__file__).parent))  # make `servers`/`browser` importable as modules
os.environ.setdefault("GRIDWATCH_NO_SCHEDULER", "1")  # app runs in tests never start background refreshes

import browser  # noqa: E402
import servers  # noqa: E402


# --- database servers (session-scoped: started once, on first use) --------------------------

@pytest.fixture(scope="session")
def postgis_url() -> Iterator[str]:
    """SQLAlchemy URL of a throwaway PostGIS server with database gridwatch_test.

    postgresql+psycopg://postgres@127.0.0.1:<port>/gridwatch_test (superuser, no password).
    Skipped when PostgreSQL 15/PostGIS is not installed, unless CI is set: then it fails.
    """
    yield from servers.serve(servers.postgis_server)


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """SQLAlchemy URL of a throwaway MariaDB server with database gridwatch_test (utf8mb4).

    mysql+pymysql://root@127.0.0.1:<port>/gridwatch_test?charset=utf8mb4 (no password).
    Skipped when MariaDB is not installed, unless CI is set: then it fails.
    """
    yield from servers.serve(servers.mariadb_server)


# --- headless Chromium (see tests/browser.py) ------------------------------------------------

@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium (the Debian package) for the whole session; skip/fail as above."""
    yield from browser.launch_browser()


@pytest.fixture
def browser_page(chromium: Browser) -> Iterator[Page]:
    """A 1280x800 page in a fresh context; `page.requests_seen` lists every request URL.

    Requests leaving 127.0.0.1 are recorded and aborted; see `browser.outside_requests(page)`.
    """
    yield from browser.open_page(chromium)
