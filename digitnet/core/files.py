"""Writes that never leave a half-written file: temporary path, then rename.

A write that fails for a reason the user can fix (no space left, no
permission, a read-only file system) becomes a WriteError naming the file and
its folder, after the temporary file is removed: one line instead of a stack.
`failed_writes_named` does the same for a whole block of a command's writes
(folders made, files renamed, TensorFlow's own writes) and adds what is kept.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import secrets
from pathlib import Path
from typing import Callable, Iterator

from digitnet.core.errors import WriteError

# The failed writes a user can fix, by errno: what to say, and what to do about it.
NO_SPACE = "make room"
NOT_WRITABLE = "make it writable"
WRITE_FAILURES = {
    errno.ENOSPC: ("no space left on the device", NO_SPACE),
    errno.EDQUOT: ("the disk quota is used up", NO_SPACE),
    errno.EROFS: ("the file system is read-only", NOT_WRITABLE),
    errno.EACCES: ("permission denied", NOT_WRITABLE),
    errno.EPERM: ("operation not permitted", NOT_WRITABLE),
}
# Failures that only a write gives: recognised also in the text of errors that
# carry no errno (TensorFlow's C++ file system, HDF5).
WRITE_ONLY = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def write_failure(error: BaseException, inside: Path | None = None) -> int | None:
    """The errno of WRITE_FAILURES that `error` reports, or None.

    Permission errors are ambiguous (a read is refused the same way), so they
    count only for a file named `inside` the given folder, or when no folder is given."""
    if isinstance(error, OSError) and error.errno in WRITE_FAILURES:
        if error.errno in WRITE_ONLY or inside is None:
            return error.errno
        named = error.filename and Path(os.path.abspath(error.filename))
        return error.errno if named and named.is_relative_to(os.path.abspath(inside)) else None
    if not isinstance(error, OSError):
        text = str(error)
        return next((code for code in WRITE_ONLY if os.strerror(code) in text), None)
    return None


def _write_error(what: str, code: int) -> WriteError:
    reason, advice = WRITE_FAILURES[code]
    return WriteError(what, reason, advice)


def in_folder(path: Path) -> str:
    """'<name> in <folder>': how a message names a file."""
    return f"{path.name} in {path.parent}"


@contextlib.contextmanager
def failed_writes_named(folder: str | os.PathLike, kept: Callable[[WriteError], str]) -> Iterator[None]:
    """Turns a failed write inside the block into a WriteError that ends with `kept(error)`:
    what `folder` still holds and how to go on (error.advice says what to do first)."""
    folder = Path(folder)
    try:
        yield
    except WriteError as error:
        raise error.keeping(kept(error)) from None
    except Exception as error:
        code = write_failure(error, inside=folder)
        if code is None:
            raise
        filename = getattr(error, "filename", None)
        what = in_folder(Path(filename)) if filename else f"into {folder}"
        failure = _write_error(what, code)
        raise failure.keeping(kept(failure)) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside `path` and renames it over `path` on success.

    The temporary name ends with the final name, because Keras insists on the
    '.keras' and '.weights.h5' endings."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = _create_exclusive(path.parent, f"-{path.name}")
    with writing(path):
        try:
            yield Path(temporary)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)
            raise


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """A failed write inside the block (which writes `path`) as a WriteError naming `path`;
    any other error as it is."""
    try:
        yield
    except Exception as error:
        code = write_failure(error)
        if code is None:
            raise
        raise _write_error(in_folder(path), code) from None


def _create_exclusive(folder: Path, suffix: str) -> str:
    """A new empty file with a random name in `folder`, with the permissions
    the umask gives any new file (mkstemp would make it 0600 and the renamed
    result unreadable to others)."""
    while True:
        candidate = folder / f".tmp-{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return str(candidate)
        except FileExistsError:
            continue


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, data) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_csv(path: str | os.PathLike, header: list[str], rows: list) -> Path:
    with atomic_path(path) as temporary:
        with open(temporary, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(rows)
    return Path(path)


def read_csv_rows(path: str | os.PathLike) -> list[dict]:
    if not Path(path).exists():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))
