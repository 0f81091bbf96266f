"""Throwaway PostGIS and MariaDB servers for the test suite, each in its own temp dir and port."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PG_BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"),)
TEST_DATABASE = "gridwatch_test"
START_TIMEOUT = 60.0  # seconds until a server must accept connections
STOP_TIMEOUT = 30.0  # seconds a server gets to shut down before SIGKILL
LOG_TAIL = 4000  # characters of a server log quoted in an error message
_BIND_ERRORS = ("Address already in use", "could not bind", "Can't start server: Bind")


class ServerUnavailable(RuntimeError):
    """The server binaries are not installed (run `make system-deps`)."""


class ServerFailed(RuntimeError):
    """A server did not initialise, start or answer in time; the message quotes its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_ci() -> bool:
    """Whether the CI variable is set: then missing servers fail instead of skipping."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def serve(start: Callable[[], contextlib.AbstractContextManager[str]]) -> Iterator[str]:
    """Body of a server fixture: yield the URL, or skip (fail under CI) when not installed."""
    try:
        cm = start()
        url = cm.__enter__()
    except ServerUnavailable as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI is set, so this fails instead of skipping)", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield url
    finally:
        cm.__exit__(None, None, None)


# --- process handling -------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Popen `preexec_fn`: the kernel SIGKILLs the child when pytest dies, even by SIGKILL.

    It runs between fork and exec, after Popen's uid switch (which would clear the setting).
    """
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _run_as() -> dict[str, object]:
    """Popen keywords that drop root to the `postgres` user (initdb/postgres refuse root)."""
    if os.geteuid() != 0:
        return {}
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        raise ServerUnavailable("running as root but there is no `postgres` user; "
                                "install postgresql-15-postgis-3") from None
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return text[-LOG_TAIL:] if text else "(log is empty)"


def _run(cmd: list[str], *, log: Path, what: str, **kwargs: object) -> None:
    with open(log, "ab") as out:
        proc = subprocess.run(  # type: ignore[call-overload]
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            timeout=START_TIMEOUT, check=False, **kwargs)
    if proc.returncode != 0:
        raise ServerFailed(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                           f"--- {log} ---\n{_tail(log)}")


def _spawn(cmd: list[str], *, log: Path, **kwargs: object) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=die_with_parent,
                                **kwargs)  # type: ignore[call-overload]


def _stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Ask the server to stop with `sig`, then SIGKILL its whole process group if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT)
    # The server leads its own session, so the group also holds backends/helpers it forked.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _wait_ready(proc: subprocess.Popen[bytes], probe: Callable[[], None], *, log: Path,
                what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"{what} exited with code {proc.returncode} while starting\n"
                               f"--- {log} ---\n{_tail(log)}")
        try:
            probe()
            return
        except Exception as exc:  # noqa: BLE001 - any connection error means "not yet"
            last = exc
            time.sleep(0.2)
    raise ServerFailed(f"{what} did not accept connections within {START_TIMEOUT:.0f} s "
                       f"(last error: {last!r})\n--- {log} ---\n{_tail(log)}")


def _start_with_retries(start_once: Callable[[int], subprocess.Popen[bytes]], *, log: Path,
                        attempts: int = 3) -> tuple[subprocess.Popen[bytes], int]:
    """Start on a free port; retry with another port if someone took it in between."""
    for attempt in range(attempts):
        port = free_port()
        try:
            return start_once(port), port
        except ServerFailed as exc:
            if attempt + 1 == attempts or not any(e in str(exc) for e in _BIND_ERRORS):
                raise
    raise AssertionError("unreachable")


def _tempdir(prefix: str, *, pid_file: str) -> Path:
    # As root the server runs as another user, who must be able to reach the directory:
    # use /tmp rather than a TMPDIR that may sit under /root.
    base = Path("/tmp" if os.geteuid() == 0 and os.path.isdir("/tmp") else tempfile.gettempdir())
    _remove_stale(base, prefix, pid_file=pid_file)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def _remove_stale(base: Path, prefix: str, *, pid_file: str) -> None:
    """Delete dirs left by runs that were killed outright (their server died with them)."""
    for d in base.glob(f"{prefix}*"):
        try:
            pid = int((d / pid_file).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        try:
            if pid is None:
                stale = time.time() - d.stat().st_mtime > 3600  # may still be initialising
            else:
                os.kill(pid, 0)
                stale = False
        except ProcessLookupError:
            stale = True
        except OSError:
            stale = False
        if stale:
            shutil.rmtree(d, ignore_errors=True)


# --- PostgreSQL / PostGIS -----------------------------------------------------------------

def _pg_bin() -> Path:
    for d in PG_BIN_DIRS:
        if (d / "postgres").is_file() and (d / "initdb").is_file():
            if not Path("/usr/share/postgresql/15/extension/postgis.control").is_file():
                raise ServerUnavailable("PostgreSQL 15 is installed but PostGIS is not; "
                                        "install postgresql-15-postgis-3 (make system-deps)")
            return d
    raise ServerUnavailable("PostgreSQL 15 binaries not found in "
                            f"{', '.join(map(str, PG_BIN_DIRS))}; install postgresql-15-postgis-3 "
                            "(make system-deps)")


@contextlib.contextmanager
def postgis_server() -> Iterator[str]:
    """A PostgreSQL 15 + PostGIS server with database `gridwatch_test`; yields its SQLAlchemy URL.

    Superuser `postgres`, trust authentication, TCP on 127.0.0.1 only, durability off for speed.
    """
    import psycopg

    bindir = _pg_bin()
    as_user = _run_as()
    root = _tempdir("gridwatch-pg-", pid_file="data/postmaster.pid")
    data, log = root / "data", root / "server.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        if as_user:
            os.chown(root, as_user["user"], as_user["group"])  # type: ignore[arg-type]
        common = {"cwd": root, **as_user}
        _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
              "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
             log=log, what="initdb", **common)

        def start_once(port: int) -> subprocess.Popen[bytes]:
            p = _spawn([str(bindir / "postgres"), "-D", str(data), "-k", str(root),
                        "-h", "127.0.0.1", "-p", str(port),
                        "-c", "fsync=off", "-c", "synchronous_commit=off",
                        "-c", "full_page_writes=off", "-c", "max_connections=50",
                        "-c", "log_min_messages=warning"],
                       log=log, **common)

            def probe() -> None:
                psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                connect_timeout=2).close()

            try:
                _wait_ready(p, probe, log=log, what=f"postgres on port {port}")
            except BaseException:
                _stop(p, signal.SIGINT)
                raise
            return p

        proc, port = _start_with_retries(start_once, log=log)
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEST_DATABASE}")
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=TEST_DATABASE,
                             autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{TEST_DATABASE}"
    finally:
        if proc is not None:
            _stop(proc, signal.SIGINT)  # SIGINT = "fast" shutdown, as `pg_ctl stop -m fast`
        shutil.rmtree(root, ignore_errors=True)


# --- MariaDB ------------------------------------------------------------------------------

def _which(*names: str) -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/usr/bin"
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


@contextlib.contextmanager
def mariadb_server() -> Iterator[str]:
    """A MariaDB server with database `gridwatch_test` (utf8mb4); yields its SQLAlchemy URL.

    User root without password from 127.0.0.1 (and over the socket), TCP on 127.0.0.1 only.
    """
    import pymysql

    mariadbd = _which("mariadbd", "mysqld")
    install_db = _which("mariadb-install-db", "mysql_install_db")
    if not mariadbd or not install_db:
        raise ServerUnavailable("MariaDB server binaries (mariadbd, mariadb-install-db) not found; "
                                "install mariadb-server (make system-deps)")
    # mariadbd refuses to run as root unless told to; as another user it runs as that user.
    user = ["--user=root"] if os.geteuid() == 0 else []
    root = _tempdir("gridwatch-mariadb-", pid_file="mariadbd.pid")
    data, log, sock = root / "data", root / "server.log", root / "sock"
    proc: subprocess.Popen[bytes] | None = None
    try:
        # `normal` gives root an empty password (the default, `socket`, needs unix user root);
        # the created accounts include root@localhost and root@127.0.0.1.
        _run([install_db, "--no-defaults", f"--datadir={data}", *user,
              "--auth-root-authentication-method=normal", "--skip-test-db"],
             log=log, what="mariadb-install-db", cwd=root)

        def start_once(port: int) -> subprocess.Popen[bytes]:
            p = _spawn([mariadbd, "--no-defaults", f"--datadir={data}", f"--socket={sock}",
                        f"--port={port}", "--bind-address=127.0.0.1",
                        f"--pid-file={root / 'mariadbd.pid'}", f"--log-error={log}",
                        f"--tmpdir={root}", *user,
                        "--innodb-flush-log-at-trx-commit=0", "--innodb-buffer-pool-size=64M",
                        "--innodb-doublewrite=0", "--skip-log-bin",
                        "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
                        "--max-allowed-packet=64M"],
                       log=log, cwd=root)

            def probe() -> None:
                pymysql.connect(host="127.0.0.1", port=port, user="root", password="",
                                connect_timeout=2).close()

            try:
                _wait_ready(p, probe, log=log, what=f"mariadbd on port {port}")
            except BaseException:
                _stop(p, signal.SIGTERM)
                raise
            return p

        proc, port = _start_with_retries(start_once, log=log)
        conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="",
                               charset="utf8mb4", autocommit=True)
        with conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {TEST_DATABASE} "
                        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        yield f"mysql+pymysql://root@127.0.0.1:{port}/{TEST_DATABASE}?charset=utf8mb4"
    finally:
        if proc is not None:
            _stop(proc, signal.SIGTERM)  # SIGTERM = normal shutdown for mariadbd
        shutil.rmtree(root, ignore_errors=True)
