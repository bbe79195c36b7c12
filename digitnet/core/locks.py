"""One process at a time in a folder: an advisory lock on a file beside it.

The lock is the kernel's (flock) on `<parent>/.<name>.lock`, held open for as
long as the process works in the folder. The kernel drops it when the process
ends, however it ends (SIGKILL included), so a lock never outlives its holder
and never needs clearing by hand; the file left by a killed holder is simply
locked again. The file beside the folder, not inside it, because a run folder
may not exist yet, may hold a user's files that must be left alone, and may be
renamed aside while held. Where the parent refuses writes and the folder
exists, the lock file goes inside it (LOCK_INSIDE), which nothing else reads.

The file holds the holder's pid, host, start time and command, for the
refusal's message; it is removed on release. flock works across hosts on
NFS (Linux emulates it with NFS locks).
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
from pathlib import Path
from typing import Iterator

from digitnet.core.errors import FolderInUseError, WriteError
from digitnet.core.files import writing

LOCK_INSIDE = ".digitnet.lock"
# Longest command quoted in a refusal (the rest is cut).
COMMAND_CHARS = 120


class FolderLock:
    """The held lock of one folder; release() (or the process's end) lets the next process in."""

    def __init__(self, folder: Path, path: Path, fd: int):
        self.folder, self.path, self._fd = folder, path, fd

    def release(self) -> None:
        if self._fd is None:
            return
        # Removed while still held: a process that opened it meanwhile sees it gone and opens a new one.
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def lock_path(folder: str | os.PathLike) -> Path:
    """Where `folder`'s lock lives: `.<name>.lock` beside it (the real path, so links share one lock)."""
    folder = Path(folder).resolve()
    return folder.with_name(f".{folder.name}.lock")


def acquire(folder: str | os.PathLike, flag: str = "--output-dir") -> FolderLock:
    """Locks `folder` for this process, or refuses with one line naming the holder.

    Refuses also a second lock of the same folder within this process."""
    folder = Path(folder)
    while True:
        path, fd = _open_lock_file(folder)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise FolderInUseError(f"{flag} {str(folder)!r} is in use by another digitnet command ({holder}); "
                                   "wait for it to end or choose another folder (nothing was changed)") from None
        if _same_file(fd, path):
            _write_holder(fd)
            return FolderLock(folder, path, fd)
        os.close(fd)  # released and removed by its holder between our open and our lock: take the new one


@contextlib.contextmanager
def holding(folder: str | os.PathLike, flag: str = "--output-dir") -> Iterator[FolderLock]:
    lock = acquire(folder, flag)
    try:
        yield lock
    finally:
        lock.release()


def _open_lock_file(folder: Path) -> tuple[Path, int]:
    path = lock_path(folder)
    try:
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            return path, os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except WriteError:
        if not folder.is_dir():
            raise
    # The parent refuses writes, the folder exists (a run resumed in place): the lock goes inside.
    inside = folder.resolve() / LOCK_INSIDE
    with writing(inside):
        return inside, os.open(inside, os.O_RDWR | os.O_CREAT, 0o666)


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _write_holder(fd: int) -> None:
    """Who holds the lock, for the message of the process it turns away (best effort: a full disk
    may leave it empty, and the lock holds all the same)."""
    record = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "command": " ".join([Path(sys.orig_argv[0]).name, *sys.orig_argv[1:]]) if sys.orig_argv else ""}
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)


def _holder(fd: int) -> str:
    """The holder as the lock file names it: 'pid 123 on host, since ..., running ...'."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode())
        text = f"pid {record['pid']} on {record['host']}, since {record['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "it has not yet said which"
    command = " ".join(str(record.get("command", "")).split())  # one line
    if command:
        text += f", running {command[:COMMAND_CHARS]}" + ("..." if len(command) > COMMAND_CHARS else "")
    return text

