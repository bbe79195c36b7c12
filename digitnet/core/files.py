"""Writes that never leave a half-written file: temporary path, then rename."""
from __future__ import annotations

import contextlib
import csv
import json
import os
import secrets
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside `path` and renames it over `path` on success.

    The temporary name ends with the final name, because Keras insists on the
    '.keras' and '.weights.h5' endings."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _create_exclusive(path.parent, f"-{path.name}")
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


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
