"""Cross-process file locks (fcntl): held while the returned file stays open, released if the process dies."""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path
from typing import IO


def acquire(path: Path, *, wait_s: float = 0.0, poll_s: float = 0.1) -> IO[str] | None:
    """Take the exclusive lock on `path`, waiting up to `wait_s` seconds; None if another process holds it.

    The holder's pid and host are written into the file so a message can say who holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+", encoding="utf-8")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                fh.close()
                return None
            time.sleep(poll_s)
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    fh.flush()
    return fh
