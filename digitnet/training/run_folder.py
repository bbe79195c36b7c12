"""A run's folder: what it already holds, and what a run may do with it.

A run folder belongs to digitnet when it holds config.json. Such a folder is
reused (same settings, finished: metrics.json), resumed (same settings,
unfinished) or, under --fresh or other settings, moved aside to
`<folder>.<timestamp>`, never deleted. A folder holding anything else is the
user's: it is refused and left as it is.

On several workers, only the chief writes the run folder; every other worker
keeps its own state in `<folder>.worker-<index>` on its own host, so that it
can resume with the chief, and deletes it when the run ends.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
from pathlib import Path

from digitnet.core.errors import ConfigError
from digitnet.training.config import FIELDS_ADDED_LATER, NOT_RESULT_FIELDS, TrainConfig

CONFIG = "config.json"
METRICS = "metrics.json"
BACKUP = "backup"


@dataclasses.dataclass(frozen=True)
class FolderState:
    """What a folder holds for a given config: 'empty', 'finished', 'unfinished', or 'other' (another
    digitnet run, to move aside), with the reason for 'other'."""

    kind: str
    reason: str = ""


def worker_folder(output_dir: str | Path, worker: int) -> Path:
    return Path(output_dir) if worker == 0 else Path(f"{output_dir}.worker-{worker}")


def config_record(config: TrainConfig, data_source: str, **trained_by) -> dict:
    """What a run's config.json holds: its settings, the result fields that decide reuse, the model,
    the data, and `trained_by` (library versions; the trainer, where not digitnet.train)."""
    from digitnet.models.registry import get_spec

    spec = get_spec(config.arch)
    return {"config": dataclasses.asdict(config), "result_fields": config.result_fields(),
            "model": {"arch": config.arch, "summary": spec.summary, "task": spec.task_name},
            "data_source": data_source, **trained_by}


def member_folder(committee_folder: str | Path, index: int) -> Path:
    """The run folder of a committee's member `index` (seed: the base seed + index)."""
    return Path(committee_folder) / f"member-{index}"


def inspect(folder: Path, config: TrainConfig) -> FolderState:
    """Reads what `folder` holds, changing nothing; refuses a folder that is not a digitnet run."""
    if not (folder / CONFIG).exists():
        if folder.exists() and any(folder.iterdir()):
            raise ConfigError(f"--output-dir {str(folder)!r} holds files that are not a digitnet run "
                              "(no config.json); choose another folder (nothing was moved)")
        return FolderState("empty")
    if config.fresh:
        return FolderState("other", "--fresh was given")
    if saved_result_fields(folder) != json.loads(json.dumps(config.result_fields())):
        return FolderState("other", "it holds a run with another configuration")
    return FolderState("finished" if (folder / METRICS).exists() else "unfinished")


def saved_result_fields(folder: Path) -> dict | None:
    """The saved run's result fields, as this version names them (None if unreadable)."""
    try:
        saved = json.loads((folder / CONFIG).read_text())["result_fields"]
    except (ValueError, KeyError):
        return None
    # Fields added since take the value that reproduces the old run; fields no
    # longer counted as results (steps_per_execution) are dropped.
    return {key: value for key, value in {**FIELDS_ADDED_LATER, **saved}.items() if key not in NOT_RESULT_FIELDS}


def move_aside(folder: Path, reason: str) -> Path:
    """Renames `folder` to `<folder>.<timestamp>` (never over anything); returns the new name."""
    folder = folder.resolve()
    if Path.cwd().resolve().is_relative_to(folder):
        raise ConfigError(f"--output-dir {str(folder)!r} holds an earlier run ({reason}), but it is the current "
                          "folder or contains it, so it cannot be moved aside; choose another folder")
    stamp = datetime.datetime.fromtimestamp(folder.stat().st_mtime).strftime("%Y%m%d-%H%M%S")
    target = folder.with_name(f"{folder.name}.{stamp}")
    counter = 1
    while target.exists():
        target = folder.with_name(f"{folder.name}.{stamp}-{counter}")
        counter += 1
    folder.rename(target)
    return target


def clear_worker_folder(folder: Path) -> None:
    """Deletes a non-chief worker's own state folder (only one that digitnet made)."""
    if folder.exists():
        if any(folder.iterdir()) and not (folder / CONFIG).exists():
            raise ConfigError(f"{str(folder)!r} is where this worker keeps its state, but it holds files that are "
                              "not a digitnet run; move them away")
        shutil.rmtree(folder)
