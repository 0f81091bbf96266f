"""Faults (SPEC §4): a failed, killed, concurrent or disk-starved refresh leaves the previous snapshot current;
corrupted versions are skipped with a message; a reader never sees a partial snapshot.

Subprocess refreshes pause inside the write step through the test hook in dashboard/snapshots.py
(GRIDWATCH_TEST_PAUSE_IN_WRITE=<gate file>: the new version is fully written under .tmp-<version> but not
yet renamed, and the writer waits while the gate file exists).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from dashboard import pipeline, snapshots
from dashboard.demo_data import build_demo
from dashboard.pipeline import refresh, refresh_lock
from dashboard.settings import load_settings
from loaders.errors import SnapshotError, SourceError

REPO = Path(__file__).resolve().parent.parent
WAIT_S = 90  # upper bound for a subprocess to reach a state (normally 2-4 s)


# --- fixtures and helpers -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults-src")
    build_demo(root, cases=1500, grids=40, seed=5)
    return root


def write_config(folder: Path, src: Path, *, case_url: str | None = None, case_timeout: int | None = None,
                 data_dir: Path | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    case = [f'url = "{case_url or f"sqlite:///{src}/case.sqlite"}"']
    if case_timeout is not None:
        case.append(f"connect_timeout_seconds = {case_timeout}")
    cfg = folder / "gridwatch.toml"
    # The app DB (alert lifecycle) lives beside the config, outside data_dir: these tests are about
    # snapshot files, and a tiny tmpfs data_dir must fill up in the snapshot writer, not in SQLite.
    cfg.write_text("\n".join([
        f'data_dir = "{data_dir or "data"}"',  # relative: follows the config file (copied sites stay apart)
        "[app_db]", 'url = "sqlite:///app.sqlite"',
        "[sources.grid]", f'url = "sqlite:///{src}/grid.sqlite"',
        "[sources.case]", *case, ""]), encoding="utf-8")
    return cfg


@pytest.fixture
def cfg(tmp_path: Path, demo_src: Path) -> Path:
    return write_config(tmp_path / "site", demo_src)


def temp_entries(data_dir: Path) -> list[str]:
    root = snapshots.snapshots_dir(data_dir)
    return sorted(p.name for p in root.glob(f"{snapshots.TMP_PREFIX}*")) if root.exists() else []


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def read_every_table(snap: snapshots.Snapshot) -> None:
    """Every table the manifest lists is readable and has the row count the manifest states."""
    counts = snap.manifest["row_counts"]
    assert "cases" in counts and "grids" in counts
    for name, rows in counts.items():
        frame = pd.read_parquet(snap.file(f"{name}.parquet"))
        assert len(frame) == rows, (snap.version, name)


class Runner:
    """`gridwatch refresh` subprocesses of one test; every one still running at teardown is killed."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[str]] = []
        self.gates: list[Path] = []

    def start(self, cfg: Path, *args: str, gate: Path | None = None) -> subprocess.Popen[str]:
        env = dict(os.environ)
        env.pop(snapshots.TEST_GATE_ENV, None)
        env.pop("GRIDWATCH_CONFIG", None)
        if gate is not None:
            gate.touch()
            self.gates.append(gate)
            env[snapshots.TEST_GATE_ENV] = str(gate)
        proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "refresh", "--config", str(cfg), *args],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return proc

    def start_paused(self, cfg: Path, data_dir: Path, name: str = "gate") -> tuple[subprocess.Popen[str], Path, Path]:
        """A refresh held inside the write step; returns (process, gate file, its .tmp-* directory)."""
        gate = self.tmp_path / name
        proc = self.start(cfg, gate=gate)
        root = snapshots.snapshots_dir(data_dir)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"paused refresh exited early ({proc.returncode}): {out}\n{err}")
            found = [p for p in root.glob(f"{snapshots.TMP_PREFIX}*") if (p / snapshots.MANIFEST).exists()]
            if found:
                time.sleep(0.3)  # manifest written: the writer is at (or about to reach) the gate
                return proc, gate, found[0]
            time.sleep(0.05)
        pytest.fail("the refresh never reached the write step")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
        for gate in self.gates:
            gate.unlink(missing_ok=True)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    r = Runner(tmp_path)
    yield r
    r.close()


def finish(proc: subprocess.Popen[str], timeout: float = WAIT_S) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def holds_open(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open (Linux /proc)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            continue
    return False


# --- 1. source unreachable --------------------------------------------------------------------------

@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never answers the PostgreSQL handshake."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.parametrize("kind", ["refused", "no_answer"])
def test_unreachable_case_source_keeps_previous_snapshot(kind: str, tmp_path: Path, demo_src: Path,
                                                         request: pytest.FixtureRequest) -> None:
    data_dir = tmp_path / "data"
    first = refresh(load_settings(write_config(tmp_path / "ok", demo_src, data_dir=data_dir)))
    port = request.getfixturevalue("closed_port" if kind == "refused" else "silent_port")
    broken = load_settings(write_config(tmp_path / "broken", demo_src, data_dir=data_dir, case_timeout=2,
                                        case_url=f"postgresql+psycopg://gridwatch@127.0.0.1:{port}/cases"))
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="cannot connect") as info:
        refresh(broken)
    assert time.monotonic() - t0 < 30  # connect_timeout_seconds is honoured: no hang
    assert snapshots.current_version(data_dir) == first.version
    assert snapshots.open_current(data_dir).version == first.version
    assert snapshots.versions(data_dir) == [first.version]
    assert temp_entries(data_dir) == []
    history = snapshots.read_history(data_dir)
    assert [h["ok"] for h in history] == [True, False]
    assert history[-1]["error"] == str(info.value)
    assert f"127.0.0.1:{port}" in history[-1]["error"]
    assert "read_grid" in history[-1]["durations"]  # the grid side was read: the case side failed mid-refresh


# --- 2. SIGKILL during the write step -------------------------------------------------------------

def test_sigkill_during_write_keeps_previous_and_recover_cleans_up(cfg: Path, runner: Runner) -> None:
    settings = load_settings(cfg)
    data_dir = settings.data_path
    first = refresh(settings)
    proc, _, tmp = runner.start_paused(cfg, data_dir)
    assert list(tmp.glob("*.parquet"))  # a written but unpublished version
    assert snapshots.recover(data_dir) == []  # the refresh is alive: its temp dir is not touched
    assert tmp.is_dir()

    os.kill(proc.pid, signal.SIGKILL)
    code, _, _ = finish(proc)
    assert code == -signal.SIGKILL
    assert snapshots.current_version(data_dir) == first.version
    snap = snapshots.open_current(data_dir)
    assert (snap.version, snap.skipped) == (first.version, ())
    read_every_table(snap)
    assert snapshots.versions(data_dir) == [first.version]  # the partial one is never a version
    with refresh_lock(data_dir, wait_s=0):  # the kill released the lock (flock dies with the process)
        pass

    assert snapshots.recover(data_dir) == [tmp.name]
    assert temp_entries(data_dir) == []
    assert snapshots.recover(data_dir) == []
    second = refresh(settings)
    assert snapshots.current_version(data_dir) == second.version != first.version
    assert [h["ok"] for h in snapshots.read_history(data_dir)] == [True, True]  # the killed run left no entry


def test_sigkill_during_write_next_refresh_cleans_up(cfg: Path, runner: Runner) -> None:
    settings = load_settings(cfg)
    data_dir = settings.data_path
    first = refresh(settings)
    proc, _, tmp = runner.start_paused(cfg, data_dir)
    os.kill(proc.pid, signal.SIGKILL)
    finish(proc)
    # a publish killed half-way leaves a CURRENT temp file: also cleaned up, CURRENT itself is intact
    stray = snapshots.snapshots_dir(data_dir) / f"{snapshots.TMP_PREFIX}{snapshots.CURRENT}-dead01"
    stray.write_text("garbage", encoding="utf-8")
    assert snapshots.open_current(data_dir).version == first.version

    second = refresh(settings)  # the next start: the refresh removes what the killed one left
    assert temp_entries(data_dir) == []
    assert not tmp.exists()
    assert snapshots.current_version(data_dir) == second.version
    assert snapshots.versions(data_dir) == [first.version, second.version]
    read_every_table(second)


def test_refresh_lock_file_is_the_one_recover_checks() -> None:
    assert snapshots.REFRESH_LOCK == pipeline.LOCK_NAME


# --- 3. two concurrent refreshes ------------------------------------------------------------------

def test_second_concurrent_refresh_exits_with_clear_message(cfg: Path, runner: Runner) -> None:
    settings = load_settings(cfg)
    data_dir = settings.data_path
    first = refresh(settings)
    a, gate, _ = runner.start_paused(cfg, data_dir)

    code, out, err = finish(runner.start(cfg))
    assert code == pipeline.RefreshBusy.exit_code == 6
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "another refresh is running" in lines[0] and "--wait" in lines[0]
    assert "Traceback" not in out + err
    assert snapshots.current_version(data_dir) == first.version

    gate.unlink()
    code, out, err = finish(a)
    assert code == 0, err
    history = snapshots.read_history(data_dir)
    assert [h["ok"] for h in history] == [True, True]  # the refused refresh is not a failed refresh
    assert snapshots.current_version(data_dir) == history[-1]["version"]


def test_second_concurrent_refresh_with_wait_runs_after_the_first(cfg: Path, runner: Runner) -> None:
    settings = load_settings(cfg)
    data_dir = settings.data_path
    refresh(settings)
    a, gate, _ = runner.start_paused(cfg, data_dir)
    b = runner.start(cfg, "--wait", "60")
    lock = data_dir / pipeline.LOCK_NAME
    deadline = time.monotonic() + WAIT_S
    while not holds_open(b.pid, lock):  # b reached the lock and is waiting for it
        assert b.poll() is None, b.communicate()
        assert time.monotonic() < deadline, "second refresh never reached the lock"
        time.sleep(0.05)
    time.sleep(0.5)
    assert b.poll() is None  # still waiting while the first one writes
    gate.unlink()
    code_a, _, err_a = finish(a)
    code_b, out_b, err_b = finish(b)
    assert (code_a, code_b) == (0, 0), (err_a, err_b)
    assert out_b.startswith("snapshot ")
    history = snapshots.read_history(data_dir)
    assert [h["ok"] for h in history] == [True, True, True]
    first_run, second_run = history[1], history[2]
    assert second_run["started_at"] < first_run["finished_at"]  # it waited, then ran
    assert second_run["version"] > first_run["version"]
    assert snapshots.current_version(data_dir) == second_run["version"]


# --- 4. corrupted snapshot directories ------------------------------------------------------------

@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory, demo_src: Path) -> tuple[Path, list[str]]:
    """A data_dir with two good versions (the newer one current), copied by each test."""
    site = tmp_path_factory.mktemp("two-versions")
    settings = load_settings(write_config(site, demo_src))
    refresh(settings)
    refresh(settings, full=True)
    return site, snapshots.versions(settings.data_path)


def corrupt(root: Path, version: str, how: str) -> str:
    """Damage `version`; returns a fragment the skip message must contain."""
    folder = root / version
    if how == "manifest_not_json":
        (folder / snapshots.MANIFEST).write_text('{"version": "', encoding="utf-8")
        return "manifest.json"
    if how == "manifest_missing":
        (folder / snapshots.MANIFEST).unlink()
        return "manifest.json"
    if how == "parquet_missing":
        (folder / "cases.parquet").unlink()
        return "cases.parquet"
    if how == "parquet_truncated":  # e.g. a disk error or a copy cut short
        data = (folder / "cases.parquet").read_bytes()
        (folder / "cases.parquet").write_bytes(data[: len(data) // 2])
        return "cases.parquet"
    if how == "restricted_missing":
        (folder / "restricted" / "accusations.parquet").unlink()
        return "restricted/accusations.parquet"
    if how == "current_dir_missing":
        shutil.rmtree(folder)
        return "missing"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["manifest_not_json", "manifest_missing", "parquet_missing", "parquet_truncated",
                                 "restricted_missing", "current_dir_missing"])
def test_corrupted_current_version_is_skipped_with_message(how: str, two_versions: tuple[Path, list[str]],
                                                           tmp_path: Path, caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    src_site, (older, newer) = two_versions
    site = tmp_path / "site"
    shutil.copytree(src_site, site)
    settings = load_settings(site / "gridwatch.toml")
    data_dir = settings.data_path
    root = snapshots.snapshots_dir(data_dir)
    assert snapshots.current_version(data_dir) == newer
    fragment = corrupt(root, newer, how)

    with caplog.at_level("WARNING", logger="dashboard.snapshots"):
        snap = snapshots.open_current(data_dir)
    assert snap.version == older
    read_every_table(snap)
    assert len(snap.skipped) == 1
    assert snap.skipped[0].startswith(f"{newer}: ") and fragment in snap.skipped[0]
    assert any(newer in r.getMessage() and fragment in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="dashboard.snapshots"):
        assert snapshots.open_current(data_dir).skipped == snap.skipped  # every page can show it …
    assert not caplog.records  # … but the log says it once

    fresh = refresh(settings)  # a corrupted version does not block the next refresh
    assert snapshots.current_version(data_dir) == fresh.version
    now = snapshots.open_current(data_dir)
    assert (now.version, now.skipped) == (fresh.version, ())
    read_every_table(now)


def test_page_shows_skipped_snapshot(two_versions: tuple[Path, list[str]], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    src_site, (older, newer) = two_versions
    site = tmp_path / "site"
    shutil.copytree(src_site, site)
    corrupt(snapshots.snapshots_dir(site / "data"), newer, "manifest_not_json")
    monkeypatch.setenv("GRIDWATCH_CONFIG", str(site / "gridwatch.toml"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    shown = [w.value for w in at.warning if "已跳过损坏的数据快照" in w.value]
    assert len(shown) == 1 and newer in shown[0] and older in shown[0] and "manifest.json" in shown[0]


def test_current_naming_unknown_version_falls_back(two_versions: tuple[Path, list[str]], tmp_path: Path) -> None:
    src_site, (_, newer) = two_versions
    site = tmp_path / "site"
    shutil.copytree(src_site, site)
    data_dir = load_settings(site / "gridwatch.toml").data_path
    (snapshots.snapshots_dir(data_dir) / snapshots.CURRENT).write_text("20990101T000000.000000Z-dead\n")
    snap = snapshots.open_current(data_dir)
    assert snap.version == newer
    assert snap.skipped and snap.skipped[0].startswith("20990101T000000.000000Z-dead: ")
    assert "missing" in snap.skipped[0]


def test_every_version_corrupted_is_a_clear_error(two_versions: tuple[Path, list[str]], tmp_path: Path) -> None:
    src_site, versions = two_versions
    site = tmp_path / "site"
    shutil.copytree(src_site, site)
    data_dir = load_settings(site / "gridwatch.toml").data_path
    root = snapshots.snapshots_dir(data_dir)
    for version in versions:
        corrupt(root, version, "manifest_not_json")
    with pytest.raises(SnapshotError, match="no snapshot") as info:
        snapshots.open_current(data_dir)
    assert all(v in str(info.value) for v in versions)


# --- 5. disk full -----------------------------------------------------------------------------------

@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for this test (skipped where mounting is not permitted)."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def used_kib(mnt: Path) -> int:
    st = os.statvfs(mnt)
    return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024


def assert_failed_write_left_previous(data_dir: Path, first: snapshots.Snapshot, before: dict[str, str],
                                      entries: list[str], *, history_written: bool = True) -> None:
    assert snapshots.current_version(data_dir) == first.version
    snap = snapshots.open_current(data_dir)
    assert (snap.version, snap.skipped) == (first.version, ())
    read_every_table(snap)
    assert snapshots.versions(data_dir) == [first.version]
    assert temp_entries(data_dir) == []
    assert tree_digest(first.path) == before  # the served version is untouched
    assert sorted(p.name for p in data_dir.iterdir()) == entries  # nothing else appeared in data_dir
    history = snapshots.read_history(data_dir)
    if not history_written:  # the failure could only be logged; the history stays well-formed
        assert [h["ok"] for h in history] == [True]
        return
    assert [h["ok"] for h in history] == [True, False]
    assert "cannot write snapshot" in history[-1]["error"] and "disk is full" in history[-1]["error"]


def test_disk_full_on_tmpfs_keeps_previous_snapshot(tiny_tmpfs: Path, tmp_path: Path, demo_src: Path) -> None:
    settings = load_settings(write_config(tmp_path / "site", demo_src, data_dir=tiny_tmpfs))
    first = refresh(settings)
    before = tree_digest(first.path)
    entries = sorted(p.name for p in tiny_tmpfs.iterdir())
    # shrink the file system to what is used plus a little: the history line fits, a second version does not
    size = used_kib(tiny_tmpfs) + 64
    subprocess.run(["mount", "-o", f"remount,size={size}k", str(tiny_tmpfs)], check=True, capture_output=True)
    assert os.statvfs(tiny_tmpfs).f_blocks * os.statvfs(tiny_tmpfs).f_frsize // 1024 <= size + 4

    with pytest.raises(SnapshotError, match="disk is full") as info:
        refresh(settings, full=True)
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.ENOSPC
    assert_failed_write_left_previous(tiny_tmpfs, first, before, entries)


def test_completely_full_disk_still_fails_cleanly(tiny_tmpfs: Path, tmp_path: Path, demo_src: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Not even the history line fits: the refresh still ends with the clear write error, not an OSError."""
    settings = load_settings(write_config(tmp_path / "site", demo_src, data_dir=tiny_tmpfs))
    first = refresh(settings)
    before = tree_digest(first.path)
    history = snapshots.snapshots_dir(tiny_tmpfs) / snapshots.HISTORY
    pad = -history.stat().st_size % 4096
    with open(history, "ab") as fh:  # pad to a page boundary with one blank line (skipped by readers)
        fh.write(b" " * (pad - 1) + b"\n" if pad else b"")
    fd = os.open(tiny_tmpfs / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    entries = sorted(p.name for p in tiny_tmpfs.iterdir())
    with caplog.at_level("ERROR", logger="dashboard.snapshots"), \
            pytest.raises(SnapshotError, match="disk is full"):
        refresh(settings, full=True)
    assert any("cannot append" in r.getMessage() for r in caplog.records)
    assert_failed_write_left_previous(tiny_tmpfs, first, before, entries, history_written=False)


def test_write_error_keeps_previous_snapshot(monkeypatch: pytest.MonkeyPatch, cfg: Path) -> None:
    """The same without a tmpfs: Parquet writes fail with ENOSPC after writing a partial file."""
    settings = load_settings(cfg)
    data_dir = settings.data_path
    first = refresh(settings)
    before = tree_digest(first.path)
    entries = sorted(p.name for p in data_dir.iterdir())
    calls = []

    def full_disk(self: pd.DataFrame, path: Path, *args: object, **kwargs: object) -> None:
        calls.append(path)
        Path(path).write_bytes(b"PAR1 partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    monkeypatch.setattr(gpd.GeoDataFrame, "to_parquet", full_disk)
    with pytest.raises(SnapshotError, match="disk is full"):
        refresh(settings, full=True)
    assert calls and all(f"{snapshots.TMP_PREFIX}" in str(p) for p in calls)
    assert_failed_write_left_previous(data_dir, first, before, entries)


def test_failed_switch_of_current_keeps_previous_snapshot(monkeypatch: pytest.MonkeyPatch, cfg: Path) -> None:
    """The version is written but CURRENT cannot be switched: the previous one stays, the new one goes."""
    settings = load_settings(cfg)
    data_dir = settings.data_path
    first = refresh(settings)
    before = tree_digest(first.path)
    entries = sorted(p.name for p in data_dir.iterdir())
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == snapshots.CURRENT:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(snapshots.os, "replace", replace)
    with pytest.raises(SnapshotError, match="cannot switch"):
        refresh(settings, full=True)
    monkeypatch.undo()
    assert snapshots.current_version(data_dir) == first.version
    assert snapshots.versions(data_dir) == [first.version]
    assert temp_entries(data_dir) == []
    assert tree_digest(first.path) == before
    assert sorted(p.name for p in data_dir.iterdir()) == entries
    history = snapshots.read_history(data_dir)
    assert [h["ok"] for h in history] == [True, False] and "cannot switch" in history[-1]["error"]


# --- 6. a reader never sees a partial snapshot ----------------------------------------------------

def test_reader_sees_previous_snapshot_while_refresh_writes(cfg: Path, runner: Runner) -> None:
    settings = load_settings(cfg)
    data_dir = settings.data_path
    first = refresh(settings)
    proc, gate, tmp = runner.start_paused(cfg, data_dir)
    assert (tmp / snapshots.MANIFEST).exists()
    for _ in range(3):
        snap = snapshots.open_current(data_dir)
        assert (snap.version, snap.skipped) == (first.version, ())
        assert snapshots.versions(data_dir) == [first.version]
        read_every_table(snap)
        cases = snapshots.read_table(snap, "cases")
        assert len(cases) == first.manifest["row_counts"]["cases"]
    gate.unlink()
    code, _, err = finish(proc)
    assert code == 0, err
    snap = snapshots.open_current(data_dir)
    assert snap.version != first.version and json.loads(snap.file(snapshots.MANIFEST).read_text())["version"] \
        == snap.version
    read_every_table(snap)


def test_reader_loop_during_refreshes_only_sees_complete_snapshots(cfg: Path) -> None:
    settings = load_settings(cfg)
    data_dir = settings.data_path
    refresh(settings)
    seen: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                snap = snapshots.open_current(data_dir)
                assert snap.skipped == ()
                read_every_table(snap)
                seen.append(snap.version)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(2):
            last = refresh(settings, full=True)
        deadline = time.monotonic() + WAIT_S
        while last.version not in seen and not errors and time.monotonic() < deadline:
            time.sleep(0.05)  # let the reader reach the last version too
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors[0]
    assert seen[-1] == last.version and len(set(seen)) >= 2  # the reader saw versions switch
    assert set(seen) <= set(snapshots.versions(data_dir))
