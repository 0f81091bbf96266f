"""Versioned snapshot store (SPEC §4): write a version directory, then atomically point CURRENT at it."""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from loaders.errors import SnapshotError

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
HISTORY = "history.jsonl"
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"
RESTRICTED_DIR = "restricted"
REFRESH_LOCK = "refresh.lock"  # in data_dir; the same file as pipeline.LOCK_NAME (one writer at a time)
PARQUET_MAGIC = b"PAR1"
# Test hook (tests/test_faults.py only): when set to the path of a file, writing() waits — with the new
# version completely written but not yet renamed into place — for as long as that file exists (at most
# TEST_GATE_MAX_S), so a test can kill the refresh, run a second one or read meanwhile. Unset in production.
TEST_GATE_ENV = "GRIDWATCH_TEST_PAUSE_IN_WRITE"
TEST_GATE_MAX_S = 120.0


@dataclass(frozen=True)
class Snapshot:
    """A readable snapshot version."""

    root: Path
    version: str
    manifest: dict[str, Any]
    # Versions passed over before this one because they were unreadable, as "version: reason" lines
    # (pages show them; empty when the current version itself was served).
    skipped: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return self.root / self.version

    def file(self, name: str) -> Path:
        return self.path / name


def snapshots_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "snapshots"


def new_version(now: datetime | None = None) -> str:
    """Sortable, unique version name such as 20261122T013000.123456Z-1a2b (UTC, microseconds)."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S.%f") + "Z-" + uuid.uuid4().hex[:4]


@contextmanager
def writing(data_dir: Path, version: str) -> Iterator[Path]:
    """Yield a temp directory for a new version; on success rename it into place (not yet CURRENT).

    Readers never see the temp directory (names starting with "." are not versions). On any failure it is
    removed; a write error (disk full, permissions) becomes a SnapshotError saying so. A killed writer leaves
    it behind for `prune`/`recover` to remove.
    """
    root = snapshots_dir(data_dir)
    tmp = root / f"{TMP_PREFIX}{version}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        yield tmp
        _fsync_tree(tmp)
        _test_gate()
        os.replace(tmp, root / version)
        _fsync_dir(root)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        hint = ("the disk is full; free space in data_dir" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                else "check that data_dir is writable")
        raise SnapshotError(f"快照写入失败 / cannot write snapshot {version} in {root}: {exc}. The previous "
                            f"snapshot stays current; {hint} and refresh again.") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _test_gate() -> None:
    """See TEST_GATE_ENV: a no-op unless a test set it."""
    gate = os.environ.get(TEST_GATE_ENV)
    if not gate:
        return
    deadline = time.monotonic() + TEST_GATE_MAX_S
    while os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)


def publish(data_dir: Path, version: str, *, keep: int) -> None:
    """Atomically make `version` current, then prune old versions beyond `keep`."""
    root = snapshots_dir(data_dir)
    if not (root / version / MANIFEST).exists():
        raise SnapshotError(f"snapshot {version} has no manifest; not publishing it")
    tmp = root / f"{TMP_PREFIX}{CURRENT}-{uuid.uuid4().hex[:6]}"
    try:
        tmp.write_text(version + "\n", encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, root / CURRENT)
    except OSError as exc:  # CURRENT still names the previous version; drop the unpublished one
        tmp.unlink(missing_ok=True)
        shutil.rmtree(root / version, ignore_errors=True)
        raise SnapshotError(f"快照发布失败 / cannot switch {root / CURRENT} to {version}: {exc}. The previous "
                            f"snapshot stays current; free disk space in data_dir and refresh again.") from exc
    _fsync_dir(root)
    prune(data_dir, keep=keep)


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str),
                                   encoding="utf-8")


def versions(data_dir: Path) -> list[str]:
    """Complete version directories, oldest first."""
    root = snapshots_dir(data_dir)
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists())


def prune(data_dir: Path, *, keep: int) -> None:
    """Remove versions beyond the newest `keep` (never the current one) and stale temp entries.

    Call only while holding the refresh lock (a running refresh's temp directory would go too).
    """
    root = snapshots_dir(data_dir)
    current = current_version(data_dir)
    for name in versions(data_dir)[:-keep]:
        if name != current:
            shutil.rmtree(root / name, ignore_errors=True)
    _remove_temp(root)


def recover(data_dir: Path) -> list[str]:
    """Remove what a killed refresh left behind (.tmp-* version directories and CURRENT temp files).

    Safe to call from any process at start (app, worker): it does nothing while a refresh holds the
    refresh lock, since the temp directory then belongs to that running refresh. Returns the removed names.
    """
    root = snapshots_dir(data_dir)
    if not root.is_dir():
        return []
    try:
        fh = open(Path(data_dir) / REFRESH_LOCK, "a+")
    except OSError:
        return []
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []
        removed = _remove_temp(root)
    for name in removed:
        log.warning("已清理中断的刷新留下的临时文件 / removed %s left by an interrupted refresh", root / name)
    return removed


def _remove_temp(root: Path) -> list[str]:
    removed = []
    if not root.is_dir():
        return removed
    for p in root.glob(f"{TMP_PREFIX}*"):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                p.unlink()
            except OSError:
                continue
        removed.append(p.name)
    return sorted(removed)


def current_version(data_dir: Path) -> str | None:
    path = snapshots_dir(data_dir) / CURRENT
    try:
        name = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def open_current(data_dir: Path) -> Snapshot:
    """The current snapshot; a corrupt or missing current one falls back to the newest readable version.

    A version is readable when its manifest is a JSON object and every table it lists exists and ends like
    a Parquet file. Versions passed over are logged (once each) and listed in `Snapshot.skipped`.
    """
    root = snapshots_dir(data_dir)
    candidates = []
    cur = current_version(data_dir)
    if cur:
        candidates.append(cur)
    candidates += [v for v in reversed(versions(data_dir)) if v != cur]
    problems: list[str] = []
    for version in candidates:
        manifest, problem = _check_version(root, version)
        if problem is None:
            return Snapshot(root=root, version=version, manifest=manifest, skipped=tuple(problems))
        line = f"{version}: {problem}"
        problems.append(line)
        if line not in _warned:
            _warned.add(line)
            log.warning("跳过损坏的快照 / skipping unreadable snapshot %s", line)
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise SnapshotError(f"还没有可用的数据快照 / no snapshot in {root}{detail}. Run `gridwatch refresh` "
                        f"(or `gridwatch demo` for the demo).")


_warned: set[str] = set()


def _check_version(root: Path, version: str) -> tuple[dict[str, Any], str | None]:
    """(manifest, None) for a readable version, else ({}, why not). Cheap: no Parquet is parsed."""
    folder = root / version
    if not folder.is_dir():
        return {}, f"directory {folder} is missing"
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"unreadable {MANIFEST} ({exc})"
    if not isinstance(manifest, dict):
        return {}, f"{MANIFEST} is not a JSON object"
    counts = manifest.get("row_counts")
    for name in counts if isinstance(counts, dict) else ():
        path = folder / f"{name}.parquet"
        try:
            with open(path, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                if size < 12:
                    return {}, f"{name}.parquet is truncated ({size} bytes)"
                fh.seek(-4, os.SEEK_END)
                if fh.read(4) != PARQUET_MAGIC:
                    return {}, f"{name}.parquet is not a complete Parquet file"
        except OSError as exc:
            return {}, f"{name}.parquet is unreadable ({exc.strerror or exc})"
    return manifest, None


def read_table(snapshot: Snapshot, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """One table of a snapshot (GeoParquet tables come back as GeoDataFrames)."""
    path = snapshot.file(f"{name}.parquet")
    if not path.exists():
        raise SnapshotError(f"snapshot {snapshot.version} has no {name}.parquet; run `gridwatch refresh`.")
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if b"geo" in meta:
        import geopandas as gpd

        return gpd.read_parquet(path, columns=columns)
    return pd.read_parquet(path, columns=columns)


def read_arrow(snapshot: Snapshot, name: str, columns: list[str] | None = None) -> Any:
    """One table of a snapshot as a pyarrow Table (for filtering and writing back without pandas)."""
    path = snapshot.file(f"{name}.parquet")
    if not path.exists():
        raise SnapshotError(f"snapshot {snapshot.version} has no {name}.parquet; run `gridwatch refresh`.")
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns)


def record_history(data_dir: Path, entry: dict[str, Any]) -> bool:
    """Append one refresh attempt (success or failure) to the history log.

    Best effort: when the log cannot be written (disk full) the error is logged and False returned, so
    the refresh's own outcome (its snapshot, or the error that stopped it) is what the caller sees.
    """
    root = snapshots_dir(data_dir)
    line = json.dumps(entry, ensure_ascii=False, default=str)
    data = (line + "\n").encode("utf-8")
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / HISTORY, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                if os.write(fd, data) != len(data):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(root / HISTORY))
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, start)  # no half line that would swallow the next entry
                raise
        finally:
            os.close(fd)
    except OSError as exc:
        log.error("无法记录刷新历史 / cannot append to %s (%s): %s", root / HISTORY, exc, line)
        return False
    return True


def read_history(data_dir: Path, *, limit: int = 200) -> list[dict[str, Any]]:
    path = snapshots_dir(data_dir) / HISTORY
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[-limit:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _fsync_tree(folder: Path) -> None:
    """Flush every file and directory of a new version to disk before it is renamed into place."""
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
