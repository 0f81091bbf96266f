"""Versioned snapshot store (SPEC §4): write a version directory, then atomically point CURRENT at it."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from loaders.errors import SnapshotError

CURRENT = "CURRENT"
HISTORY = "history.jsonl"
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"
RESTRICTED_DIR = "restricted"


@dataclass(frozen=True)
class Snapshot:
    """A readable snapshot version."""

    root: Path
    version: str
    manifest: dict[str, Any]

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
    """Yield a temp directory for a new version; on success rename it into place (not yet CURRENT)."""
    root = snapshots_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"{TMP_PREFIX}{version}"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_dir(tmp)
        os.replace(tmp, root / version)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def publish(data_dir: Path, version: str, *, keep: int) -> None:
    """Atomically make `version` current, then prune old versions beyond `keep`."""
    root = snapshots_dir(data_dir)
    if not (root / version / MANIFEST).exists():
        raise SnapshotError(f"snapshot {version} has no manifest; not publishing it")
    tmp = root / f"{TMP_PREFIX}{CURRENT}-{uuid.uuid4().hex[:6]}"
    tmp.write_text(version + "\n", encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, root / CURRENT)
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
    """Remove versions beyond the newest `keep` (never the current one) and stale temp dirs."""
    root = snapshots_dir(data_dir)
    current = current_version(data_dir)
    for name in versions(data_dir)[:-keep]:
        if name != current:
            shutil.rmtree(root / name, ignore_errors=True)
    for p in root.glob(f"{TMP_PREFIX}*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def current_version(data_dir: Path) -> str | None:
    path = snapshots_dir(data_dir) / CURRENT
    try:
        name = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def open_current(data_dir: Path) -> Snapshot:
    """The current snapshot; a corrupt current one falls back to the newest readable version."""
    root = snapshots_dir(data_dir)
    candidates = []
    cur = current_version(data_dir)
    if cur:
        candidates.append(cur)
    candidates += [v for v in reversed(versions(data_dir)) if v != cur]
    problems = []
    for version in candidates:
        try:
            manifest = json.loads((root / version / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{version}: {exc}")
            continue
        return Snapshot(root=root, version=version, manifest=manifest)
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise SnapshotError(f"还没有可用的数据快照 / no snapshot in {root}{detail}. Run `gridwatch refresh` "
                        f"(or `gridwatch demo` for the demo).")


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


def record_history(data_dir: Path, entry: dict[str, Any]) -> None:
    """Append one refresh attempt (success or failure) to the history log."""
    root = snapshots_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False, default=str)
    with open(root / HISTORY, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


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


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
