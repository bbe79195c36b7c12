"""A failed write (no space, read-only, no permission) ends in one line naming the file, its folder and what
is kept, exit code 2, no half-written file; the same command then resumes.

Where this process may mount file systems (root), a real tmpfs of a few MB is
filled or remounted read-only; elsewhere those tests are skipped, and the
tests that fail a write in the one place that writes (files.py) still run.
Permission bits do not stop root, so no permission is always simulated.
"""
import csv
import errno
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import quick_train_args, subprocess_env, train_command

from digitnet.core import cli, files
from digitnet.core.errors import WriteError
from digitnet.serving import publish
from digitnet.training import callbacks, run_folder


def _mount(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def _remount(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True, capture_output=True)


def _tmpfs(tmp_path, size: str):
    """A tmpfs of `size`, used as the run folder itself (its lock file lies beside it, outside the tmpfs)."""
    disk = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    if not _mount(disk, f"size={size}"):
        pytest.skip("mounting a tmpfs needs root")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    yield from _tmpfs(tmp_path, "4m")


@pytest.fixture
def disk(tmp_path):
    yield from _tmpfs(tmp_path, "64m")


def _train(argv) -> int:
    from digitnet import train

    return cli.run_command(train.main, argv)


def _argv(folder, epochs=2):
    return ["--arch", "bpnn", *quick_train_args(train=600, test=200, epochs=epochs), "--output-dir", str(folder)]


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-3000:]
    return lines[0]


def _temporary_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob(".tmp-*")]


def _history_epochs(folder: Path) -> list[int]:
    with open(folder / run_folder.HISTORY) as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


def _resumes_and_finishes(folder: Path, capsys, after: int, epochs: int = 2) -> None:
    """The same command again continues after completed epoch `after` (all done: it only saves)."""
    kept_rows = run_folder.RunFolder(folder).history_rows()
    assert _train(_argv(folder, epochs)) == 0
    out = capsys.readouterr().out
    if after < epochs:
        assert f"resuming the interrupted run in {folder} after its completed epoch {after}" in out, out
    assert run_folder.RunFolder(folder).history_rows()[:after] == kept_rows[:after]  # not trained again
    assert _history_epochs(folder) == list(range(epochs))  # each epoch once
    assert (folder / run_folder.METRICS).exists() and not _temporary_files(folder)


@pytest.mark.slow
def test_a_full_disk_during_training_is_one_line_and_the_rerun_resumes(small_disk, capsys):
    """The command itself, in its own process: exit code 2 and one line, also after HDF5 saw the disk full."""
    # bpnn's backup (weights and Adam's two moments) is about 2.9 MB: the first fits in 4 MB, the second does not.
    done = subprocess.run(train_command(*_argv(small_disk)), capture_output=True, text=True, timeout=300,
                          env=subprocess_env())
    assert done.returncode == cli.EXIT_USAGE, done.stderr[-3000:]
    line = _one_error_line(done.stderr)
    assert line == (f"error: could not write epoch-2.weights.h5 in {small_disk}/backup/train: no space left on the "
                    f"device; {small_disk} keeps its completed epochs (last: train epoch 1) in backup/; make room "
                    "and run the same command again to resume")
    assert not _temporary_files(small_disk) and not (small_disk / run_folder.METRICS).exists()
    assert sorted(run_folder.RunFolder(small_disk).saved_epochs("train")) == [1]
    _remount(small_disk, "size=64m")
    _resumes_and_finishes(small_disk, capsys, after=1)


def test_a_folder_turned_read_only_during_training_is_one_line_and_the_rerun_resumes(disk, capsys, monkeypatch):
    original = callbacks.EpochBackup.on_epoch_end

    def back_up_then_turn_read_only(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 0:
            _remount(disk, "ro")  # as a disk with errors is remounted by the kernel

    monkeypatch.setattr(callbacks.EpochBackup, "on_epoch_end", back_up_then_turn_read_only)
    assert _train(_argv(disk)) == cli.EXIT_USAGE
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: could not write history.csv in {disk}: the file system is read-only; ")
    assert line.endswith(f"{disk} keeps its completed epochs (last: train epoch 1) in backup/; make it "
                         "writable and run the same command again to resume")
    monkeypatch.setattr(callbacks.EpochBackup, "on_epoch_end", original)
    _remount(disk, "rw")
    _resumes_and_finishes(disk, capsys, after=1)


def _failing_writes(monkeypatch, code: int, name_ends: str) -> None:
    """Every temporary file made for a name ending in `name_ends` fails as the disk would refuse it."""
    create = files._create_exclusive

    def refuse(folder, suffix):
        if suffix.endswith(name_ends):
            raise OSError(code, os.strerror(code), str(Path(folder) / f".tmp-x{suffix}"))
        return create(folder, suffix)

    monkeypatch.setattr(files, "_create_exclusive", refuse)


def test_a_refused_backup_is_one_line_and_the_rerun_resumes(tmp_path, monkeypatch, capsys):
    """The same as the full tmpfs where none can be mounted: the write fails in files.py, where every write goes."""
    folder = tmp_path / "run"
    _failing_writes(monkeypatch, errno.ENOSPC, "epoch-2.weights.h5")
    assert _train(_argv(folder)) == cli.EXIT_USAGE
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: could not write epoch-2.weights.h5 in {folder}/backup/train: no space left")
    assert "keeps its completed epochs (last: train epoch 1) in backup/; make room and run the same" in line
    monkeypatch.undo()
    _resumes_and_finishes(folder, capsys, after=1)


def test_no_permission_to_write_the_model_is_one_line_and_the_rerun_only_saves(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "run"
    _failing_writes(monkeypatch, errno.EACCES, run_folder.MODEL)
    assert _train(_argv(folder)) == cli.EXIT_USAGE
    line = _one_error_line(capsys.readouterr().err)
    assert line == (f"error: could not write model.keras in {folder}: permission denied; {folder} keeps its "
                    "completed epochs (last: train epoch 2) in backup/; make it writable and run the same command "
                    "again to resume")
    assert not (folder / run_folder.MODEL).exists() and not (folder / run_folder.METRICS).exists()
    monkeypatch.undo()
    _resumes_and_finishes(folder, capsys, after=2)


def test_a_refused_figure_is_one_line_and_the_rerun_finishes(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "run"
    _failing_writes(monkeypatch, errno.EDQUOT, "confusion_matrix.png")
    assert _train(_argv(folder)) == cli.EXIT_USAGE
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: could not write confusion_matrix.png in {folder}: the disk quota is used up; ")
    assert not (folder / "confusion_matrix.png").exists() and not (folder / run_folder.METRICS).exists()
    monkeypatch.undo()
    _resumes_and_finishes(folder, capsys, after=2)


def test_a_refused_export_publishes_nothing_and_says_so(tmp_path, monkeypatch):
    base = tmp_path / "served" / "lenet"
    (base / "1").mkdir(parents=True)
    _failing_writes(monkeypatch, errno.ENOSPC, "model_card.json")
    with pytest.raises(WriteError) as raised:
        with publish.staging_folder(base) as staging:
            (staging / "model").mkdir()
            files.write_json(staging / "model" / "model_card.json", {"name": "lenet"})
            publish.publish_version(staging / "model", base)
    assert str(raised.value).startswith("could not write model_card.json in ")
    assert str(raised.value).endswith(f"no version was published under {base} (its versions are as they were); "
                                      "make room and export again")
    assert sorted(p.name for p in base.iterdir()) == ["1"]  # no new version, no staging folder


def test_a_refused_read_is_not_called_a_failed_write(tmp_path):
    """Permission errors are the same for reads: only those of files in the folder being written count."""
    refused_read = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "data" / "train.gz"))
    assert files.write_failure(refused_read, inside=tmp_path / "run") is None
    refused_write = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "run" / "history.csv"))
    assert files.write_failure(refused_write, inside=tmp_path / "run") == errno.EACCES
    assert files.write_failure(RuntimeError("write failed: No space left on device")) == errno.ENOSPC
    assert files.write_failure(RuntimeError("the loss became nan")) is None
