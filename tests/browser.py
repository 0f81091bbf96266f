"""Real-browser test helpers: a Streamlit server in a subprocess, headless Chromium via Playwright.

Chromium is the Debian package (/usr/bin/chromium); `playwright install` is never needed.
WebGL (deck.gl) renders headless through ANGLE on SwiftShader (software Vulkan), also with
--disable-gpu. Chromium is phasing out that automatic software fallback behind
--enable-unsafe-swiftshader, so we pass it explicitly (Playwright adds it too, but we do not
rely on its defaults; Chromium 156 still rendered without it).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from servers import die_with_parent, free_port, in_ci

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("GRIDWATCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # we run as root in CI containers
    "--disable-gpu",
    "--enable-unsafe-swiftshader",  # keep software WebGL (SwiftShader) for deck.gl
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Belt and braces for what Playwright's routing cannot see (browser-internal requests such as
    # accounts.google.com / update.googleapis.com): no host name but the local ones resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)
VIEWPORT = {"width": 1280, "height": 800}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
START_TIMEOUT = 60.0  # seconds until Streamlit's /_stcore/health answers "ok"
LOG_TAIL = 4000


# --- Streamlit server ---------------------------------------------------------------------

@contextlib.contextmanager
def streamlit_server(app_path: Path, *, env: Mapping[str, str] | None = None,
                     cwd: Path | None = None, args: Sequence[str] = ()) -> Iterator[str]:
    """Run `streamlit run app_path` on a free 127.0.0.1 port; yield its base URL.

    `env` is added on top of os.environ; `cwd` (default: the app's directory) is where
    Streamlit looks for `.streamlit/config.toml` and `static/`. `args` are extra CLI flags.
    The process group is killed on exit; a start-up failure quotes the server's output.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_path),
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--server.runOnSave", "false", *args]
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=cwd or app_path.parent, env=full_env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=die_with_parent)
        try:
            _wait_healthy(proc, base_url, log)
            yield base_url
        finally:
            _kill_group(proc)


def _log_tail(log: IO[bytes]) -> str:
    log.seek(0)
    text = log.read().decode(errors="replace")
    return text[-LOG_TAIL:] if text else "(no output)"


def _wait_healthy(proc: subprocess.Popen[bytes], base_url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | str | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode} while starting\n"
                               f"--- output ---\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as resp:
                body = resp.read().decode().strip()
            if body == "ok":
                return
            last = f"health answered {body!r}"
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"streamlit at {base_url} not healthy within {START_TIMEOUT:.0f} s "
                       f"(last: {last!r})\n--- output ---\n{_log_tail(log)}")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            if sig == signal.SIGTERM:  # also reap anything else left in the group
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


# --- Chromium -----------------------------------------------------------------------------

def launch_browser() -> Iterator[Browser]:
    """Body of a session fixture: headless Chromium, skipped (failed under CI) when missing."""
    if not CHROMIUM.exists():
        msg = f"{CHROMIUM} not found; install the Debian package chromium (make system-deps)"
        if in_ci():
            pytest.fail(f"{msg} (CI is set, so this fails instead of skipping)", pytrace=False)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def is_local(url: str) -> bool:
    """Whether a request URL stays on this machine (data:, blob: of a local origin, 127.0.0.1)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("data", "about"):
        return True
    if scheme == "blob":
        url = url[len("blob:"):]
    return urlsplit(url).hostname in LOCAL_HOSTS


def open_page(browser: Browser, *, block_outside: bool = True) -> Iterator[Page]:
    """Body of a function fixture: a page in a fresh context, recording every request URL.

    `page.requests_seen` lists the URL of every HTTP request and WebSocket of the context
    (workers included), in order. Requests leaving 127.0.0.1 are still recorded but aborted
    when `block_outside` is true, so a test never waits on the internet.
    """
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    seen: list[str] = []
    context.on("request", lambda request: seen.append(request.url))
    if block_outside:
        context.route(lambda url: not is_local(url), lambda route: route.abort())
    page = context.new_page()
    page.on("websocket", lambda ws: seen.append(ws.url))
    page.requests_seen = seen  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


def outside_requests(page: Page) -> list[str]:
    """The recorded request URLs that did not stay on this machine."""
    return [u for u in page.requests_seen if not is_local(u)]  # type: ignore[attr-defined]


# Map widgets drawn over the canvas (zoom buttons, attribution, tooltips) would count as drawing.
_HIDE_MAP_OVERLAYS = """
.mapboxgl-control-container, .maplibregl-control-container, .mapboxgl-ctrl, .maplibregl-ctrl,
.deck-tooltip, [data-testid="stDeckGlJsonChartZoomButton"], [data-testid="stElementToolbar"]
{ visibility: hidden !important; }
"""


def canvas_nonblank(page: Page, selector: str = "canvas", *, min_fraction: float = 0.001,
                    inset: int = 12, timeout: float = 0.0) -> bool:
    """Whether something was drawn on the element matched by `selector` (its first match).

    Takes a screenshot of the element (reliable for WebGL, unlike toDataURL without
    preserveDrawingBuffer; it shows everything composited there, e.g. deck.gl's overlay canvas
    together with the base map below it, minus the map's controls), trims `inset` pixels from
    each side (rounded corners, borders), and checks that at least `min_fraction` of the
    remaining pixels differ from their most common colour, i.e. more than a flat background.
    Polls until true for up to `timeout` seconds, since deck.gl draws asynchronously.
    """
    from PIL import Image

    deadline = time.monotonic() + timeout
    while True:
        png = page.locator(selector).first.screenshot(animations="disabled",
                                                      style=_HIDE_MAP_OVERLAYS)
        img = Image.open(io.BytesIO(png)).convert("RGB")
        if img.width > 2 * inset and img.height > 2 * inset:
            img = img.crop((inset, inset, img.width - inset, img.height - inset))
        total = img.width * img.height
        counts = img.getcolors(maxcolors=total) or []
        dominant = max((n for n, _ in counts), default=total)
        if total and (total - dominant) / total >= min_fraction:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


def platform_fonts(page: Page, selector: str) -> list[str]:
    """Font families Chromium actually used to draw the text of the first `selector` match.

    Chinese text without a CJK font renders as boxes (tofu); with fonts-wqy-microhei installed
    the list includes "WenQuanYi Micro Hei".
    """
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": 0})
        node = cdp.send("DOM.querySelector", {"nodeId": root["root"]["nodeId"],
                                              "selector": selector})
        if not node.get("nodeId"):
            raise LookupError(f"no element matches {selector!r}")
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})
        return [f["familyName"] for f in fonts["fonts"]]
    finally:
        cdp.detach()
