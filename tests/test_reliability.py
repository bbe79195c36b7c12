import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import (kill_after_backup, quick_train_args, run_python, run_train, run_train_cli, subprocess_env,
                      train_command)

from digitnet.core import cli
from digitnet.core.files import write_json
from digitnet.serving.publish import publish_version
from digitnet.training import callbacks

BPNN_20K = ["--arch", "bpnn", "--train-examples", "20000", "--test-examples", "100", "--quiet"]


def test_nan_loss_stops_the_run_with_advice(tmp_path, capsys):
    argv = ["--arch", "lenet", "--learning-rate", "1e30", *quick_train_args(train=500, test=50, epochs=2),
            "--output-dir", str(tmp_path)]
    assert run_train_cli(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "the loss became nan at epoch 1" in err and "Try a smaller --learning-rate" in err
    assert not (tmp_path / "model.keras").exists() and not (tmp_path / "metrics.json").exists()


def _history_rows(folder):
    path = folder / "history.csv"
    if not path.exists():
        return []
    with open(path) as file:
        return list(csv.DictReader(file))


def _wait_for(condition, process, seconds=240):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert condition(), "the awaited state never came"


def _weights(folder):
    return json.loads((folder / "metrics.json").read_text())["weights_sha256"]


@pytest.mark.slow
def test_a_killed_deterministic_run_resumes_to_the_uninterrupted_weights(tmp_path):
    """Resuming continues the same run: bit-identical weights, and the epoch done before the kill is not redone."""
    argv = [*BPNN_20K, "--epochs", "4", "--seed", "4", "--deterministic"]
    run_train([*argv, "--output-dir", str(tmp_path / "alone")])

    folder = tmp_path / "killed"
    kill_after_backup(argv, folder, epochs=1)
    assert not (folder / "metrics.json").exists()
    first_epoch = _history_rows(folder)[0]
    resumed = run_train([*argv, "--output-dir", str(folder)])
    assert "resuming the interrupted run" in resumed.stdout
    rows = _history_rows(folder)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert rows[0] == first_epoch  # epoch 0 was kept, not trained again
    assert _weights(folder) == _weights(tmp_path / "alone")
    with open(folder / "all_losses.csv") as file:
        assert [int(r["step"]) for r in csv.DictReader(file)] == list(range(4 * 200))


# `python -c KILLED_AFTER_BACKUP ARGV...`: the training command, which waits once the backup of its epoch 2
# is written, so that the test's SIGKILL lands at that moment: past the epoch's records and its backup, before
# anything else (no clean-up, no finally, no atexit: what a kill or a power cut leaves).
KILLED_AFTER_BACKUP = """
import time
from digitnet import train
from digitnet.core import cli
from digitnet.training import callbacks
original = callbacks.EpochBackup.on_epoch_end
def backup_then_wait(self, epoch, logs=None):
    original(self, epoch, logs)
    if epoch == 1:
        time.sleep(600)
callbacks.EpochBackup.on_epoch_end = backup_then_wait
cli.run_as_process(train.main)
"""


@pytest.mark.slow
def test_a_kill_right_after_the_backup_loses_no_rows_and_resumes_to_the_uninterrupted_weights(tmp_path):
    """The epoch's records are written before its backup: SIGKILL the moment the backup exists, and the
    resumed run has every epoch's and every batch's row once and the weights of a run never killed."""
    argv = ["--arch", "bpnn", *quick_train_args(train=1000, test=50, epochs=3), "--seed", "2", "--deterministic"]
    alone = subprocess.Popen(train_command(*argv, "--output-dir", str(tmp_path / "alone")), env=subprocess_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    folder = tmp_path / "killed"
    killed = subprocess.Popen([sys.executable, "-c", KILLED_AFTER_BACKUP, *argv, "--output-dir", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=subprocess_env())
    try:
        _wait_for(lambda: (folder / "backup" / "train" / "epoch-2.weights.h5").exists(), killed)
        killed.send_signal(signal.SIGKILL)
        assert killed.wait(timeout=30) == -signal.SIGKILL
        _, err = alone.communicate(timeout=300)
    finally:
        for process in (killed, alone):
            if process.poll() is None:
                process.kill()
    assert alone.returncode == 0, err[-2000:]
    assert not (folder / "metrics.json").exists()
    before = _history_rows(folder)
    assert [int(r["epoch"]) for r in before] == [0, 1]  # epoch 2's rows came before its backup
    resumed = run_train([*argv, "--output-dir", str(folder)])
    assert "after its completed epoch 2" in resumed.stdout
    rows = _history_rows(folder)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2] and rows[:2] == before  # kept, not trained again
    with open(folder / "all_losses.csv") as file:
        assert [(int(r["epoch"]), int(r["batch"])) for r in csv.DictReader(file)] == [
            (epoch, batch) for epoch in range(3) for batch in range(10)]
    assert re.fullmatch(r"[0-9a-f]{64}", _weights(folder))
    assert _weights(folder) == _weights(tmp_path / "alone")


def test_the_collapse_guard_stops_before_the_backup_and_saves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(callbacks.CollapseGuard, "MIN_SPREAD", float("inf"))  # every model counts as collapsed
    argv = ["--arch", "lenet", *quick_train_args(test=50, epochs=2), "--output-dir", str(tmp_path)]
    assert run_train_cli(argv) == cli.EXIT_USAGE
    assert "the model collapsed by the end of epoch 1" in capsys.readouterr().err
    assert not (tmp_path / "model.keras").exists() and not (tmp_path / "metrics.json").exists()
    assert not (tmp_path / "backup" / "train" / "epoch-1.weights.h5").exists()
    assert _history_rows(tmp_path) == []


def _busy_cores(count):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


@pytest.mark.slow
@pytest.mark.parametrize("load", [0, 2])
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, load):
    argv = train_command(*BPNN_20K, "--epochs", "60", "--output-dir", str(tmp_path))
    busy = _busy_cores(load)
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        _wait_for(lambda: bool(_history_rows(tmp_path)), process)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        for other in [process, *busy]:
            if other.poll() is None:
                other.kill()
    assert process.returncode == cli.EXIT_INTERRUPTED
    assert "run the same command again to resume" in err and "Traceback" not in err


def test_an_interrupt_swallowed_by_a_finaliser_still_stops_the_run(tmp_path, monkeypatch, capsys):
    """Python drops a KeyboardInterrupt raised inside __del__; the run must stop all the same."""
    original = callbacks.RunLogger.on_epoch_end

    def interrupted_inside_a_finaliser(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 0:
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                pass  # what Python does with an exception in a finaliser

    monkeypatch.setattr(callbacks.RunLogger, "on_epoch_end", interrupted_inside_a_finaliser)
    argv = ["--arch", "bpnn", *quick_train_args(train=500, test=50, epochs=5), "--output-dir", str(tmp_path)]
    try:
        assert run_train_cli(argv, interrupted_hint="resume hint") == cli.EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert "resume hint" in capsys.readouterr().err
    assert len(_history_rows(tmp_path)) == 1


@pytest.mark.parametrize("where", ["mystuff", "."])
def test_a_folder_of_the_users_own_files_is_refused_and_left_alone(tmp_path, monkeypatch, capsys, where):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / where
    folder.mkdir(exist_ok=True)
    (folder / "thesis.txt").write_text("mine")
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["--arch", "bpnn", "--train-examples", "100", "--epochs", "1", "--quiet", "--output-dir", where]
    assert run_train_cli(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "holds files that are not a digitnet run" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (folder / "thesis.txt").read_text() == "mine" and not (folder / "config.json").exists()


def test_a_bad_export_format_is_refused_before_training(tmp_path, capsys):
    started = time.monotonic()
    argv = ["--arch", "bpnn", "--export", "saved_model,onnx_typo", "--output-dir", str(tmp_path / "run")]
    assert run_train_cli(argv) == cli.EXIT_USAGE
    assert "--export takes some of saved_model, tflite" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and time.monotonic() - started < 30


def test_publish_version_steps_over_a_file_named_like_a_version(tmp_path):
    base = tmp_path / "lenet"
    (base / "1").mkdir(parents=True)
    (base / "2").write_text("a file, not a version")
    staging = tmp_path / "staging"
    staging.mkdir()
    published = []
    worker = threading.Thread(target=lambda: published.append(publish_version(staging, base)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert published == [base / "3"] and (base / "2").read_text() == "a file, not a version"


def test_written_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_json(tmp_path / "metrics.json", {"a": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


# The lines TensorFlow's C++ start-up writes to file descriptor 2 (which of them depends on the CPU, the build
# and the drivers): absl's log lines ("I0000 00:00:1796525076.546731   13451 port.cc:153] oneDNN custom
# operations are on...", "... cudart_stub.cc:31] Could not find cuda drivers...", "E0000 ... failed call to
# cuInit") and the notice absl prints before them.
NATIVE_START_UP_LINE = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.-]+:\d+\]|"
                                  r"WARNING: All log messages before absl::InitializeLog\(\) is called)", re.M)


@pytest.mark.slow
def test_tensorflow_start_up_lines_stay_hidden_unless_debug(tmp_path):
    argv = ["--arch", "bpnn", *quick_train_args(train=100, test=20)]
    env = subprocess_env()
    del env["TF_CPP_MIN_LOG_LEVEL"]  # TensorFlow's own default: digitnet must hide its start-up lines itself
    loud = run_train([*argv, "--output-dir", str(tmp_path / "b"), "--debug"], env=env)
    shown = NATIVE_START_UP_LINE.findall(loud.stderr)
    if not shown:
        pytest.skip("this TensorFlow build and machine print no C++ start-up lines, so there is nothing to hide")
    quiet = run_train([*argv, "--output-dir", str(tmp_path / "a")], env=env)
    assert not NATIVE_START_UP_LINE.search(quiet.stderr), quiet.stderr[-2000:]
    assert "Traceback" not in quiet.stderr


def test_help_and_a_bad_flag_answer_without_loading_tensorflow():
    code = ("import sys; from digitnet import train; from digitnet.core import cli; "
            "code = cli.run_command(train.main, ['--batch-size', '0']); "
            "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = run_python(code, timeout=60)
    assert done.stdout.split() == ["2", "False", "False"], done.stderr[-2000:]


# A command whose main imports TensorFlow and reports what Python's garbage collector did meanwhile.
GC_REPORT = """
import atexit, gc, json, sys
from digitnet.core import cli
def main(argv):
    before = [generation["collections"] for generation in gc.get_stats()]
    try:
        import tensorflow
    except ImportError as error:
        print("import failed:", error, file=sys.stderr)
    after = [generation["collections"] for generation in gc.get_stats()]
    print(json.dumps({"collections_during_import": sum(after) - sum(before), "enabled": gc.isenabled(),
                      "frozen": gc.get_freeze_count()}))
    return 3
atexit.register(lambda: print("atexit handlers ran"))
cli.run_as_process(main)
"""


@pytest.mark.slow
def test_commands_import_tensorflow_without_the_garbage_collector_and_exit_with_their_code():
    # Without the pause the import runs about 1,100 collections (7 of them full); without the freeze none of its
    # ~450,000 objects is frozen.
    done = run_python(GC_REPORT, timeout=120)
    report, last = done.stdout.strip().splitlines()
    assert done.returncode == 3, done.stderr[-2000:]
    assert json.loads(report)["collections_during_import"] == 0
    assert json.loads(report)["enabled"] is True
    assert json.loads(report)["frozen"] > 100_000
    assert last == "atexit handlers ran"


def test_a_failed_tensorflow_import_leaves_the_garbage_collector_on(tmp_path):
    broken = tmp_path / "tensorflow"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('this TensorFlow is broken on purpose')\n")
    env = subprocess_env(PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    done = run_python(GC_REPORT, timeout=60, env=env)
    assert "this TensorFlow is broken on purpose" in done.stderr
    assert json.loads(done.stdout.strip().splitlines()[0])["enabled"] is True
