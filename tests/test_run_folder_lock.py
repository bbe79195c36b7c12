"""One process per folder: a second command is refused naming the first; a killed holder never blocks.

The holder in most tests is a small Python process without TensorFlow that
claims the folder as a command does (core/locks.py) and waits; the slow test
starts two real `python -m digitnet.train` commands.
"""
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import quick_train_args, subprocess_env, train_command, write_digit_folder

from digitnet import committee, reproduce
from digitnet.core import cli, locks
from digitnet.core.errors import FolderInUseError
from digitnet.serving import publish
from digitnet.training import run_folder

HOLDER = """
import sys, time
from digitnet.core import locks
locks.acquire(sys.argv[1])
print("held", flush=True)
time.sleep(300)
"""


@pytest.fixture
def holder():
    """Starts a process that claims a folder and keeps it; killed (SIGKILL) at the end."""
    started = []

    def hold(folder):
        process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True,
                                   env=subprocess_env())
        started.append(process)
        assert process.stdout.readline().strip() == "held"
        return process

    yield hold
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    return lines[0]


def _train_argv(folder, epochs=1):
    return ["--arch", "bpnn", *quick_train_args(train=300, test=100, epochs=epochs), "--output-dir", str(folder)]


def _run_train(argv):
    from digitnet import train

    return cli.run_command(train.main, argv)


def test_a_run_folder_in_use_is_refused_naming_its_holder(tmp_path, holder, capsys):
    folder = tmp_path / "run"
    other = holder(folder)
    assert _run_train(_train_argv(folder)) == cli.EXIT_USAGE
    line = _one_error_line(capsys.readouterr().err)
    assert f"--output-dir '{folder}' is in use by another digitnet command (pid {other.pid} on " in line
    assert socket.gethostname() in line and "since 20" in line
    assert not folder.exists()  # nothing was written for the refused command
    assert other.poll() is None  # the holder goes on


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path, holder, capsys):
    folder = tmp_path / "run"
    other = holder(folder)
    other.send_signal(signal.SIGKILL)
    other.wait()
    assert locks.lock_path(folder).exists()  # the file stays behind; its lock went with the process
    assert _run_train(_train_argv(folder)) == 0
    assert (folder / run_folder.METRICS).exists()
    assert not locks.lock_path(folder).exists()  # released and removed at the end of the run


def test_a_folder_is_claimed_once_even_within_one_process_and_released_for_the_next(tmp_path):
    folder = tmp_path / "run"
    with locks.holding(folder) as held:
        assert held.path == tmp_path / ".run.lock"
        with pytest.raises(FolderInUseError, match=f"pid {os.getpid()} on"):
            locks.acquire(folder)
        # A link to the folder is the same folder.
        (tmp_path / "link").symlink_to(folder)
        with pytest.raises(FolderInUseError):
            locks.acquire(tmp_path / "link")
    with locks.holding(tmp_path / "link"):
        pass
    assert not (tmp_path / ".run.lock").exists()


def test_the_workers_of_one_job_claim_their_own_folders(tmp_path):
    """The chief writes <folder>, worker k its own <folder>.worker-k: one job's workers never refuse each other."""
    with locks.holding(run_folder.worker_folder(tmp_path / "run", 0)), \
            locks.holding(run_folder.worker_folder(tmp_path / "run", 1)):
        with pytest.raises(FolderInUseError):  # a second job's worker 1 is refused
            locks.acquire(run_folder.worker_folder(tmp_path / "run", 1))


def test_a_committee_whose_member_is_in_use_is_refused(tmp_path, holder, capsys):
    folder = tmp_path / "committee"
    other = holder(folder / "member-0")
    argv = ["--arch", "bpnn", "--members", "2", *quick_train_args(), "--output-dir", str(folder)]
    assert cli.run_command(committee.main, argv) == cli.EXIT_USAGE
    line = _one_error_line(capsys.readouterr().err)
    assert f"member-0' is in use by another digitnet command (pid {other.pid} on" in line
    assert not (folder / "member-0").exists() and not (folder / "member-1").exists()


def test_a_committee_folder_in_use_is_refused_before_any_member_trains(tmp_path, holder, capsys):
    folder = tmp_path / "committee"
    other = holder(folder)
    argv = ["--arch", "bpnn", "--members", "1", *quick_train_args(), "--output-dir", str(folder)]
    assert cli.run_command(committee.main, argv) == cli.EXIT_USAGE
    assert f"(pid {other.pid} on" in _one_error_line(capsys.readouterr().err)
    assert not folder.exists()


def test_a_reproduction_whose_seed_folder_is_in_use_is_refused(tmp_path, holder, capsys):
    seed_folder = tmp_path / "runs" / "bpnn" / "seed-0"
    other = holder(seed_folder)
    argv = ["--runs", "1", "--models", "bpnn", "--train-examples", "200", "--test-examples", "100", "--epochs", "1",
            "--output-dir", str(tmp_path)]
    assert cli.run_command(reproduce.main, argv) == cli.EXIT_USAGE
    assert f"seed-0' is in use by another digitnet command (pid {other.pid} on" in _one_error_line(
        capsys.readouterr().err)
    assert not seed_folder.exists()


def test_two_publishers_racing_for_one_version_number_get_two_whole_versions(tmp_path, monkeypatch):
    """Both read the same next number before either renames (forced by a barrier): each gets its own version."""
    base = tmp_path / "lenet"
    (base / "1").mkdir(parents=True)
    counted = publish.next_version
    barrier = threading.Barrier(2, timeout=10)
    first_reads = set()

    def next_version_together(folder):
        number = counted(folder)
        if threading.get_ident() not in first_reads:
            first_reads.add(threading.get_ident())
            barrier.wait()  # both have read the same number
        return number

    monkeypatch.setattr(publish, "next_version", next_version_together)
    published, failures = {}, []

    def export(name):
        try:
            with publish.staging_folder(base) as staging:
                (staging / "model").mkdir()
                (staging / "model" / "saved_model.pb").write_text(f"graph of {name}")
                (staging / "model" / "model_card.json").write_text(json.dumps({"exporter": name}))
                published[name] = publish.publish_version(staging / "model", base)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=export, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == [] and sorted(p.name for p in published.values()) == ["2", "3"]
    for name, version in published.items():
        assert json.loads((version / "model_card.json").read_text()) == {"exporter": name}
        assert (version / "saved_model.pb").read_text() == f"graph of {name}"
    assert sorted(p.name for p in base.iterdir()) == ["1", "2", "3"]  # no staging folder left


def _history_epochs(folder):
    with open(folder / run_folder.HISTORY) as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


@pytest.mark.slow
def test_a_second_train_command_is_refused_while_the_first_trains_undisturbed(tmp_path):
    folder, epochs = tmp_path / "run", 20
    argv = ["--arch", "bpnn", "--train-examples", "20000", "--test-examples", "100", "--epochs", str(epochs),
            "--quiet", "--output-dir", str(folder)]
    first = subprocess.Popen(train_command(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=subprocess_env())
    try:
        deadline = time.monotonic() + 240
        while not (folder / run_folder.HISTORY).exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        second = subprocess.run(train_command(*argv), capture_output=True, text=True, timeout=240,
                                env=subprocess_env())
        first_still_training = first.poll() is None
        out, err = first.communicate(timeout=240)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == cli.EXIT_USAGE, second.stdout[-2000:]
    assert f"is in use by another digitnet command (pid {first.pid} on" in _one_error_line(second.stderr)
    assert "resuming" not in second.stdout
    assert first_still_training, "the first command ended before the second was answered: use more epochs"
    assert first.returncode == 0, err[-2000:]
    assert _history_epochs(folder) == list(range(epochs))  # each epoch once
    with open(folder / run_folder.ALL_LOSSES) as file:
        assert [int(row["step"]) for row in csv.DictReader(file)] == list(range(epochs * 200))


@pytest.mark.slow
def test_two_exports_of_one_model_at_once_publish_two_whole_versions(tmp_path):
    from digitnet.models.registry import get_spec

    model = get_spec("bpnn").build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(tmp_path / "model.keras")
    data = write_digit_folder(tmp_path / "digits", train_count=60, test_count=40)
    command = [sys.executable, "-m", "digitnet.export", "--model", str(tmp_path / "model.keras"), "--formats",
               "saved_model", "--data-dir", data, "--output-dir", str(tmp_path / "served")]
    exports = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=subprocess_env()) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in exports]
    for process, (_, err) in zip(exports, outputs):
        assert process.returncode == 0, err[-2000:]
    base = tmp_path / "served" / "bpnn"
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]
    for version in ("1", "2"):
        assert (base / version / "saved_model.pb").exists()
        assert json.loads((base / version / "model_card.json").read_text())["name"] == "bpnn"


def test_the_run_folder_writes_its_rows_and_backups_whole_and_says_what_it_keeps(tmp_path):
    import keras
    import numpy as np

    from digitnet.core.errors import WriteError

    folder = run_folder.RunFolder(tmp_path / "run")
    folder.write_history([{"stage": "train", "epoch": 0, "loss": 0.5}, {"stage": "train", "epoch": 1, "loss": 0.25,
                                                                         "val_loss": 0.3}])
    assert folder.history_rows() == [{"stage": "train", "epoch": "0", "loss": "0.5", "val_loss": ""},
                                     {"stage": "train", "epoch": "1", "loss": "0.25", "val_loss": "0.3"}]
    folder.write_losses([{"stage": "train", "epoch": 1, "batch": b, "step": 99, "loss": 0.1} for b in range(3)])
    assert [row["step"] for row in folder.loss_rows()] == ["0", "1", "2"]  # counted over the whole run
    failure = WriteError("x in y", "no space left on the device", "make room")
    assert folder.kept(failure) == f"nothing was written to {folder.path}; make room and run the same command again"

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 4)), np.zeros((8, 3)), verbose=0)
    path = folder.save_backup(model, "train", 2)
    assert path == tmp_path / "run" / "backup" / "train" / "epoch-2.weights.h5"
    assert folder.saved_epochs("train") == {2: path} and not list(folder.path.rglob(".tmp-*"))
    restored = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    restored.compile(optimizer="adam", loss="mse")
    restored.optimizer.build(restored.trainable_variables)
    restored.load_weights(path)  # what model.save_weights would have written, read the usual way
    for saved, loaded in zip(model.variables + model.optimizer.variables,
                             restored.variables + restored.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(loaded))
    folder.write_config({"config": {}})
    assert folder.kept(failure).startswith(f"{folder.path} keeps its completed epochs (last: train epoch 2) in backup/")
