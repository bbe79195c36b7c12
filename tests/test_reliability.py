import csv
import os
import signal
import subprocess
import sys
import time

from digitnet import cli, train

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_nan_loss_stops_the_run_with_advice(tmp_path, capsys):
    argv = ["--arch", "lenet", "--learning-rate", "1e30", "--train-examples", "500", "--test-examples", "50",
            "--epochs", "2", "--quiet", "--output-dir", str(tmp_path)]
    assert cli.run_command(train.main, argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "the loss became nan at epoch 1" in err and "Try a smaller --learning-rate" in err
    assert not (tmp_path / "model.keras").exists() and not (tmp_path / "metrics.json").exists()


def _history_epochs(folder):
    path = folder / "history.csv"
    if not path.exists():
        return []
    with open(path) as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


def test_killed_run_resumes_from_the_last_completed_epoch(tmp_path):
    argv = [sys.executable, "-m", "digitnet.train", "--arch", "bpnn", "--train-examples", "20000",
            "--test-examples", "100", "--epochs", "4", "--quiet", "--output-dir", str(tmp_path)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    try:
        deadline = time.monotonic() + 240
        while not _history_epochs(tmp_path) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert _history_epochs(tmp_path), "the first epoch never finished"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    completed = _history_epochs(tmp_path)
    assert len(completed) < 4 and not (tmp_path / "metrics.json").exists()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming the interrupted run" in done.stdout
    assert _history_epochs(tmp_path) == [0, 1, 2, 3]
    with open(tmp_path / "all_losses.csv") as file:
        rows = list(csv.DictReader(file))
    assert [int(r["step"]) for r in rows] == list(range(4 * 200))


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    argv = [sys.executable, "-m", "digitnet.train", "--arch", "bpnn", "--train-examples", "20000",
            "--test-examples", "100", "--epochs", "30", "--quiet", "--output-dir", str(tmp_path)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 240
        while not _history_epochs(tmp_path) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == cli.EXIT_INTERRUPTED
    assert "run the same command again to resume" in err and "Traceback" not in err
