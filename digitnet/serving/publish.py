"""Versioned folders that a model server can watch: a version appears whole or not at all.

TF Serving serves the highest numbered folder under a model's base path. Every
exporter writes into a hidden staging folder beside the versions and renames it
to the next free number when it is complete.

Two exports of the same model at once need no lock: each stages in its own
folder (mkdtemp), writes its model card there, and the rename that publishes
it never replaces a version, so each gets its own complete number. A write
that fails while staging (no space, no permission, read-only) ends in one line
saying that nothing was published; the staging folder is removed.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from digitnet.core.errors import WriteError
from digitnet.core.files import failed_writes_named


def next_version(base: Path) -> int:
    """One more than the highest number naming anything under `base` (a file named '3' takes 3 as well)."""
    versions = [int(p.name) for p in base.iterdir() if p.name.isdigit()] if base.exists() else []
    return max(versions, default=0) + 1


def publish_version(staging: Path, base: Path) -> Path:
    """Renames a finished `staging` folder to the next free version under `base`.

    rename() refuses an existing non-empty target, so two exporters racing
    for one number never overwrite each other: the loser takes the next."""
    while True:
        target = base / str(next_version(base))
        try:
            os.rename(staging, target)
            return target
        except OSError:
            if not target.exists():
                raise
            # Taken meanwhile (by a racing exporter): next_version now counts it.


@contextlib.contextmanager
def staging_folder(base: Path, kept: Callable[[WriteError], str] | None = None):
    """A temporary folder beside the versions (hidden, so not a servable version), removed afterwards;
    a failed write inside ends with `kept(error)` (default: no version was published, export again)."""
    def published_nothing(failure) -> str:
        return (f"no version was published under {base} (its versions are as they were); "
                f"{failure.advice} and export again")

    with failed_writes_named(base, kept or published_nothing):
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=base, prefix=".staging-"))
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)
