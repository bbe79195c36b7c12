"""A run's folder: what it already holds, and what a run may do with it.

A run folder belongs to digitnet when it holds config.json. Such a folder is
reused (same settings, finished: metrics.json), resumed (same settings,
unfinished) or, under --fresh or other settings, moved aside to
`<folder>.<timestamp>`, never deleted. A folder holding anything else is the
user's: it is refused and left as it is.

On several workers, only the chief writes the run folder; every other worker
keeps its own state in `<folder>.worker-<index>` on its own host, so that it
can resume with the chief, and deletes it when the run ends.

RunFolder owns the names of a run's files and writes them whole (core/files.py).
A run folder belongs to one process at a time (RunFolder.claimed, core/locks.py):
a second command for the same folder is refused while the first works in it,
and each worker of a multi-worker job claims its own folder. A failed write
(no space, no permission, read-only) ends the command with one line saying
what the folder keeps, and the same command resumes from there.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import json
import re
import shutil
from pathlib import Path
from typing import Callable, Iterator

from digitnet.core import locks
from digitnet.core.errors import ConfigError, WriteError
from digitnet.core.files import atomic_path, failed_writes_named, read_csv_rows, write_bytes, write_csv, write_json
from digitnet.training.config import FIELDS_ADDED_LATER, NOT_RESULT_FIELDS, TrainConfig

CONFIG = "config.json"
METRICS = "metrics.json"
HISTORY = "history.csv"
ALL_LOSSES = "all_losses.csv"
MODEL = "model.keras"
BACKUP = "backup"
# backup/<stage>/epoch-<completed epochs>.weights.h5: weights and optimizer state.
WEIGHTS = re.compile(r"epoch-(\d+)\.weights\.h5")
LOSS_COLUMNS = ("stage", "epoch", "batch", "step", "loss")


def weights_name(epochs: int) -> str:
    """The backup file of the state after `epochs` completed epochs of a stage."""
    return f"epoch-{epochs}.weights.h5"


class RunFolder:
    """One run's folder: the names of its files, their whole writes, its history rows and its backups."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    config = property(lambda self: self.path / CONFIG)
    metrics = property(lambda self: self.path / METRICS)
    history = property(lambda self: self.path / HISTORY)
    all_losses = property(lambda self: self.path / ALL_LOSSES)
    model = property(lambda self: self.path / MODEL)

    @property
    def finished(self) -> bool:
        """metrics.json is written last: its presence marks a finished run."""
        return self.metrics.exists()

    def read_config(self) -> dict:
        return json.loads(self.config.read_text())

    def write_config(self, record: dict) -> Path:
        return write_json(self.config, record)

    def read_metrics(self) -> dict:
        return json.loads(self.metrics.read_text())

    def write_metrics(self, metrics: dict) -> Path:
        """Written last of all: it marks the run finished."""
        return write_json(self.metrics, metrics)

    def history_rows(self) -> list[dict]:
        return read_csv_rows(self.history)

    def loss_rows(self) -> list[dict]:
        return read_csv_rows(self.all_losses)

    def write_history(self, rows: list[dict]) -> Path:
        """history.csv: one row per epoch, a column for every key any row has."""
        header = list(dict.fromkeys(key for row in rows for key in row))
        return write_csv(self.history, header, [[row.get(key, "") for key in header] for row in rows])

    def write_losses(self, rows: list[dict]) -> Path:
        """all_losses.csv: one row per batch, its 'step' counted over the whole run."""
        numbered = ({**row, "step": step} for step, row in enumerate(rows))
        return write_csv(self.all_losses, list(LOSS_COLUMNS), [[row[key] for key in LOSS_COLUMNS] for row in numbered])

    def save_model(self, model) -> Path:
        with atomic_path(self.model) as temporary:
            model.save(temporary)
        return self.model

    def backup(self, stage: str) -> Path:
        return self.path / BACKUP / stage

    def saved_epochs(self, stage: str) -> dict[int, Path]:
        """The stage's backups by completed epochs."""
        folder = self.backup(stage)
        if not folder.is_dir():
            return {}
        found = (WEIGHTS.fullmatch(path.name) for path in folder.iterdir())
        return {int(match.group(1)): folder / match.group(0) for match in found if match}

    def save_backup(self, model, stage: str, epochs: int) -> Path:
        """The model's weights and optimizer state after `epochs` completed epochs of `stage`, written whole."""
        return write_bytes(self.backup(stage) / weights_name(epochs), weights_file_bytes(model))

    def drop_backups(self) -> None:
        shutil.rmtree(self.path / BACKUP, ignore_errors=True)

    def kept(self, failure: WriteError) -> str:
        """What the folder keeps after a failed write, and how to go on."""
        again = f"{failure.advice} and run the same command again"
        if self.finished:
            return f"{self.path} holds the finished run; {again}"
        stages = sorted(p.name for p in (self.path / BACKUP).iterdir()) if (self.path / BACKUP).is_dir() else []
        latest = {stage: max(self.saved_epochs(stage)) for stage in stages if self.saved_epochs(stage)}
        if latest:
            described = ", ".join(f"{stage} epoch {epoch}" for stage, epoch in latest.items())
            return f"{self.path} keeps its completed epochs (last: {described}) in {BACKUP}/; {again} to resume"
        if self.config.exists():
            return f"{self.path} holds no completed epoch yet; {again} to start the run"
        return f"nothing was written to {self.path}; {again}"

    @contextlib.contextmanager
    def claimed(self, flag: str = "--output-dir", kept: Callable[[WriteError], str] | None = None
                ) -> Iterator["RunFolder"]:
        """This process's hold on the folder for the block (refused with one line while another
        process holds it); a failed write inside ends in one line that says what is kept."""
        with failed_writes_named(self.path, kept or self.kept), locks.holding(self.path, flag):
            yield self


def weights_file_bytes(model) -> bytes:
    """What model.save_weights writes to a .weights.h5 file, built in memory.

    HDF5 writes its files through its own C I/O, and a write that fails there
    (a full disk) leaves the library with objects it can neither flush nor
    close: the process crashes at exit (in H5_term_library) after the error
    was reported. Built in memory, the file reaches the disk through Python's
    writes, whose failure is an ordinary OSError; model.load_weights reads it
    as it reads any .weights.h5 file."""
    from keras.src.saving import saving_lib

    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set())
    store.close()
    return buffer.getvalue()


@dataclasses.dataclass(frozen=True)
class FolderState:
    """What a folder holds for a given config: 'empty', 'finished', 'unfinished', or 'other' (another
    digitnet run, to move aside), with the reason for 'other'."""

    kind: str
    reason: str = ""


def worker_folder(output_dir: str | Path, worker: int) -> Path:
    return Path(output_dir) if worker == 0 else Path(f"{output_dir}.worker-{worker}")


def config_record(config: TrainConfig, data_source: str, spec=None, **trained_by) -> dict:
    """What a run's config.json holds: its settings, the result fields that decide reuse, the model
    (`spec`, default the registered config.arch), the data, and `trained_by` (library versions; the
    trainer, where not digitnet.train)."""
    from digitnet.models.registry import get_spec

    spec = spec or get_spec(config.arch)
    return {"config": dataclasses.asdict(config), "result_fields": config.result_fields(),
            "model": {"arch": config.arch, "summary": spec.summary, "task": spec.task_name},
            "data_source": data_source, **trained_by}


def member_folder(committee_folder: str | Path, index: int) -> Path:
    """The run folder of a committee's member `index` (seed: the base seed + index)."""
    return Path(committee_folder) / f"member-{index}"


def inspect(folder: Path, config: TrainConfig) -> FolderState:
    """Reads what `folder` holds, changing nothing; refuses a folder that is not a digitnet run."""
    if not (folder / CONFIG).exists():
        if folder.exists() and any(path.name != locks.LOCK_INSIDE for path in folder.iterdir()):
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
        if any(path.name != locks.LOCK_INSIDE for path in folder.iterdir()) and not (folder / CONFIG).exists():
            raise ConfigError(f"{str(folder)!r} is where this worker keeps its state, but it holds files that are "
                              "not a digitnet run; move them away")
        shutil.rmtree(folder)
