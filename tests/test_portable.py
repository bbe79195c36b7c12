"""digitnet.portable and layers.RandomAffine: committee members trained by the training loop with the arrays
feed (Keras alone, as on a machine with Keras on JAX and no TensorFlow), reused by digitnet.committee as
finished members, resumed after a kill like any run."""
import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import NO_TENSORFLOW, subprocess_env

from digitnet import portable
from digitnet.core import cli
from digitnet.core.errors import ConfigError
from digitnet.data import augment
from digitnet.data.presets import get_augmentation
from digitnet.models import layers

ROOT = Path(__file__).resolve().parents[1]


def digits(mnist, count=64):
    return tf.cast(mnist.test_images[:count], tf.float32)[..., None] / 255.0


def keras_warp(images, draws, preset):
    transforms = layers.affine_transforms(draws, get_augmentation(preset), images.shape[1:3])
    return keras.ops.image.affine_transform(images, transforms, interpolation="bilinear", fill_mode="constant",
                                            fill_value=0.0)


@pytest.mark.parametrize("preset", ["affine", "shift"])
def test_random_affine_draws_the_pipelines_distortions(mnist, preset):
    """The same uniform draws give the same image as augment.py's warp (the tf.data pipeline's)."""
    images = digits(mnist)
    draws = tf.random.stateless_uniform([64, 6], [7, 8], -1.0, 1.0)
    expected = augment.warp(images, *augment.affine_from_draws(draws, get_augmentation(preset), (28, 28)))
    actual = np.asarray(keras_warp(images, draws, preset))
    assert np.abs(actual - np.asarray(expected)).max() < 1e-4
    assert np.abs(actual - np.asarray(images)).mean() > 0.02  # it moved the digits


def test_random_affine_trains_distorted_and_infers_untouched(mnist):
    images = digits(mnist, 32)
    layer, twin = layers.RandomAffine("affine", seed=5), layers.RandomAffine("affine", seed=5)
    first, second = np.asarray(layer(images, training=True)), np.asarray(layer(images, training=True))
    assert first.shape == (32, 28, 28, 1) and first.min() >= 0.0 and first.max() <= 1.0
    assert np.abs(first - second).mean() > 0.02  # new draws every batch
    np.testing.assert_array_equal(first, np.asarray(twin(images, training=True)))  # seeded
    np.testing.assert_array_equal(np.asarray(layer(images)), np.asarray(images))
    np.testing.assert_array_equal(np.asarray(layers.RandomAffine("none")(images, training=True)), np.asarray(images))
    restored = layers.RandomAffine.from_config(layer.get_config())
    assert (restored.preset, restored.seed) == ("affine", 5)


def test_random_affine_refuses_elastic_presets():
    with pytest.raises(ConfigError, match="'elastic'"):
        layers.RandomAffine("elastic")
    with pytest.raises(ConfigError, match="unknown --augment 'twist'"):
        layers.RandomAffine("twist")


def child_env(tmp_path, backend="tensorflow", block_tensorflow=False) -> dict:
    """A child's environment: Keras on `backend`, and TensorFlow unimportable if asked (as on a
    machine with Keras on JAX and no TensorFlow)."""
    pythonpath = str(ROOT)
    if block_tensorflow:
        blocked = Path(tmp_path) / "no_tf"
        blocked.mkdir(exist_ok=True)
        (blocked / "sitecustomize.py").write_text(NO_TENSORFLOW)
        pythonpath = f"{blocked}:{ROOT}"
    return subprocess_env(KERAS_BACKEND=backend, PYTHONPATH=pythonpath)


def run_module(module, *argv, env, timeout=600):
    return subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


SMALL = ["--train-examples", "1000", "--test-examples", "200", "--epochs", "1"]


def saved(folder, name):
    return json.loads((Path(folder) / name).read_text())


@pytest.mark.slow
def test_members_trained_on_jax_without_tensorflow_join_a_committee(tmp_path):
    folder = tmp_path / "committee"
    jax = child_env(tmp_path, "jax", block_tensorflow=True)
    done = run_module("digitnet.portable", "--arch", "lenet", "--members", "2", "--output-dir", str(folder),
                      *SMALL, "--quiet", env=jax)
    assert done.returncode == 0, done.stderr[-3000:]
    for seed in (0, 1):
        member = folder / f"member-{seed}"
        config, metrics = saved(member, "config.json"), saved(member, "metrics.json")
        assert (config["trainer"], config["keras_backend"], config["config"]["feed"], config["config"]["seed"]) == (
            "digitnet.train --feed arrays", "jax", "arrays", seed)
        assert (metrics["trainer"], metrics["keras_backend"]) == ("digitnet.train --feed arrays", "jax")
        assert metrics["seed"] == seed and 0.2 < metrics["test"]["accuracy"] <= 1.0  # chance is 0.1: it learned
        assert len(metrics["weights_sha256"]) == 64 and not (member / "backup").exists()

    # Again: both members are reused, nothing is trained.
    again = run_module("digitnet.portable", "--arch", "lenet", "--members", "2", "--output-dir", str(folder),
                       *SMALL, "--quiet", env=jax)
    assert again.returncode == 0 and again.stdout.count("reusing it") == 2, again.stdout + again.stderr[-2000:]

    # digitnet.committee (TensorFlow, the tf.data feed) reuses them as finished members and averages them.
    committee = run_module("digitnet.committee", "--arch", "lenet", "--members", "2", "--output-dir", str(folder),
                           *SMALL, "--quiet", env=child_env(tmp_path))
    assert committee.returncode == 0, committee.stderr[-3000:]
    assert committee.stdout.count("already holds this finished run") == 2, committee.stdout
    result = saved(folder, "metrics.json")
    assert [m["trainer"] for m in result["members"]] == ["digitnet.train --feed arrays (Keras on jax)"] * 2
    assert 0.2 < result["committee"]["accuracy"] <= 1.0


def test_members_of_older_portable_runs_are_named_as_they_were_trained():
    """The committed selection runs of the earlier digitnet.portable keep their trainer's name."""
    from digitnet.experiments.committee import member_record
    from digitnet.training.run_folder import RunFolder

    run = ROOT / "reports" / "deep_cnn_selection" / "portable-s100"
    record = member_record(run, RunFolder(run).read_metrics())
    assert (record["digit_width"], record["trainer"]) == (None, "digitnet.portable (Keras on tensorflow)")


@pytest.mark.parametrize("argv, named", [
    (["--arch", "autoencoder"], "received --arch autoencoder"),
    (["--arch", "ae_classifier"], "received --arch ae_classifier"),
    (["--augment", "elastic"], "--augment elastic adds an elastic field"),
    (["--members", "0"], "received 0"),
    (["--first-member", "-1"], "received -1"),
    (["--epochs", "0"], "--epochs must be a positive integer, received 0"),
])
def test_portable_refuses_what_it_cannot_train_in_one_line_without_tensorflow(tmp_path, argv, named):
    done = run_module("digitnet.portable", "--output-dir", str(tmp_path / "c"), *argv, timeout=120,
                      env=child_env(tmp_path, "jax", block_tensorflow=True))
    assert done.returncode == 2 and named in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "c").exists()


def test_portable_answers_help_without_tensorflow(tmp_path):
    done = run_module("digitnet.portable", "--help", timeout=120, env=child_env(tmp_path, "jax", block_tensorflow=True))
    assert done.returncode == 0 and "--first-member" in done.stdout and "--deterministic" in done.stdout, done.stderr


def portable_cli(*argv) -> int:
    """python -m digitnet.portable ARGV in this process (Keras on TensorFlow here); its exit code."""
    return cli.run_command(portable.main, list(argv))


def test_another_run_in_a_member_folder_is_moved_aside(tmp_path, capsys):
    folder = tmp_path / "committee"
    earlier = folder / "member-0"
    earlier.mkdir(parents=True)
    (earlier / "config.json").write_text(json.dumps({"config": {}, "result_fields": {"arch": "bpnn"}}))
    assert portable_cli("--arch", "lenet", "--members", "1", "--output-dir", str(folder), "--train-examples", "300",
                        "--test-examples", "100", "--epochs", "1", "--quiet") == 0
    assert "moved the earlier contents" in capsys.readouterr().out
    moved = [path for path in folder.iterdir() if path.name.startswith("member-0.")]
    assert len(moved) == 1 and saved(moved[0], "config.json")["result_fields"] == {"arch": "bpnn"}
    assert saved(folder / "member-0", "config.json")["config"]["feed"] == "arrays"


def test_members_from_first_member_on_save_their_optimiser_and_load_without_warnings(tmp_path):
    folder = tmp_path / "c"
    assert portable_cli("--arch", "lenet", "--members", "1", "--first-member", "2", "--seed", "10",
                        "--output-dir", str(folder), "--train-examples", "300", "--test-examples", "100",
                        "--epochs", "1", "--quiet") == 0
    assert [path.name for path in folder.iterdir()] == ["member-2"]
    assert saved(folder / "member-2", "metrics.json")["seed"] == 12
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.models.load_model(folder / "member-2" / "model.keras")
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert model.optimizer.__class__.__name__ == "Adam"


@pytest.mark.slow
def test_deep_cnn_trains_on_jax_with_its_registered_distortions(tmp_path):
    done = run_module("digitnet.portable", "--arch", "deep_cnn", "--members", "1", "--output-dir",
                      str(tmp_path / "c"), "--train-examples", "500", "--test-examples", "100", "--epochs", "1",
                      "--validation-split", "0.2", "--quiet", env=child_env(tmp_path, "jax", block_tensorflow=True))
    assert done.returncode == 0, done.stderr[-3000:]
    member = tmp_path / "c" / "member-0"
    config = saved(member, "config.json")
    assert config["config"]["augment"] == "affine" and config["config"]["validation_split"] == 0.2
    history = (member / "history.csv").read_text().splitlines()
    assert history[0] == "stage,epoch,seconds,accuracy,loss,val_accuracy,val_loss" and len(history) == 2
    # The classifier is saved without its training-only distortion layer.
    model = keras.models.load_model(member / "model.keras")
    assert not [layer for layer in model.layers if isinstance(layer, layers.RandomAffine)]
    assert saved(member, "metrics.json")["train_examples"] == 400


@pytest.mark.slow  # about 50 s on 2 cores
def test_a_member_trains_with_style_edits_on_jax_without_tensorflow(tmp_path):
    """--augment styles on the GPU machine's setup: the style edits drawn by RandomAffine from labelled batches."""
    done = run_module("digitnet.portable", "--arch", "lenet", "--members", "1", "--augment", "styles",
                      "--output-dir", str(tmp_path / "c"), "--train-examples", "256", "--test-examples", "200",
                      "--epochs", "1", "--quiet", env=child_env(tmp_path, "jax", block_tensorflow=True))
    assert done.returncode == 0, done.stderr[-3000:]
    member = tmp_path / "c" / "member-0"
    config, metrics = saved(member, "config.json"), saved(member, "metrics.json")
    assert (config["config"]["augment"], config["config"]["feed"], config["keras_backend"]) == (
        "styles", "arrays", "jax")
    assert metrics["train_examples"] == 256 and metrics["test"]["accuracy"] > 0.15  # above chance (10 %), no more
    model = keras.models.load_model(member / "model.keras")
    assert not [layer for layer in model.layers if isinstance(layer, layers.RandomAffine)]
    # What it trained on, drawn by the same layer without TensorFlow.
    assert (member / "augmentation.png").read_bytes().startswith(b"\x89PNG")


# Runs `python -m digitnet.portable ARGV` and SIGKILLs itself after the first batches of epoch index
# KILL_EPOCH: a real kill (no clean-up runs), at a point the test chooses rather than a race with a timer.
KILLED_IN_EPOCH = """
import os, runpy, signal, sys
from digitnet.training import callbacks
original = callbacks.RunLogger.on_train_batch_end
def killed_in_epoch(self, batch, logs=None):
    original(self, batch, logs)
    if self._epoch == int(os.environ["KILL_EPOCH"]):
        os.kill(os.getpid(), signal.SIGKILL)
callbacks.RunLogger.on_train_batch_end = killed_in_epoch
sys.argv = ["digitnet.portable", *sys.argv[1:]]
runpy.run_module("digitnet.portable", run_name="__main__")
"""


@pytest.mark.slow
@pytest.mark.parametrize("augment", ["affine", "styles"])
def test_a_killed_member_resumes_to_the_uninterrupted_weights_on_jax(tmp_path, augment):
    """Resume inside a member: after a SIGKILL in its third epoch, the rerun continues after epoch 2 and
    ends with the weights, history and batch losses of the member left alone (the preset's distortions,
    style edits drawn from labelled batches, and shuffling included)."""
    argv = ["--arch", "lenet", "--augment", augment, "--members", "1", "--train-examples", "1000",
            "--test-examples", "100", "--epochs", "4", "--seed", "5", "--deterministic", "--quiet"]
    jax = child_env(tmp_path, "jax", block_tensorflow=True)
    alone = run_module("digitnet.portable", *argv, "--output-dir", str(tmp_path / "alone"), env=jax)
    assert alone.returncode == 0, alone.stderr[-3000:]

    folder = tmp_path / "killed"
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_EPOCH, *argv, "--output-dir", str(folder)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600, env={**jax, "KILL_EPOCH": "2"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    member = folder / "member-0"
    assert not (member / "metrics.json").exists()
    assert (member / "backup" / "train" / "epoch-2.weights.h5").exists()

    resumed = run_module("digitnet.portable", *argv, "--output-dir", str(folder), env=jax)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "after its completed epoch 2" in resumed.stdout, resumed.stdout
    expected = tmp_path / "alone" / "member-0"
    weights = [saved(path, "metrics.json")["weights_sha256"] for path in (expected, member)]
    assert len(weights[0]) == 64 and weights[0] == weights[1]
    for name in ("history.csv", "all_losses.csv"):
        rows = [[line.split(",")[:2] + line.split(",")[3:] for line in (path / name).read_text().splitlines()]
                for path in (expected, member)]  # all but the seconds
        assert rows[0] == rows[1] and len(rows[0]) > 4


@pytest.mark.slow
def test_ctrl_c_stops_a_member_at_the_next_batch_and_keeps_its_last_epoch(tmp_path):
    folder = tmp_path / "c"
    backup = folder / "member-0" / "backup" / "train"
    argv = ["--arch", "lenet", "--members", "1", "--epochs", "60", "--train-examples", "2000",
            "--test-examples", "100", "--output-dir", str(folder), "--quiet"]
    # Output goes to files: a pipe nobody reads could fill and stall the child.
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        child = subprocess.Popen([sys.executable, "-m", "digitnet.portable", *argv], cwd=ROOT, stdout=out,
                                 stderr=err, env=child_env(tmp_path, "jax", block_tensorflow=True))
        try:
            deadline = time.monotonic() + 300
            while not (backup / "epoch-2.weights.h5").exists() and child.poll() is None:
                assert time.monotonic() < deadline, "no second epoch in 300 s"
                time.sleep(0.05)
            child.send_signal(signal.SIGINT)
            child.wait(timeout=300)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    stderr = (tmp_path / "err").read_text()
    assert child.returncode == cli.EXIT_INTERRUPTED, stderr[-2000:]
    assert "interrupted" in stderr and "Traceback" not in stderr and "backup/" in stderr
    # Stopped within the epoch it was in (not after the 60), its last completed epoch kept to resume from.
    epochs = [int(path.name.split("-")[1].split(".")[0]) for path in backup.glob("epoch-*.weights.h5")]
    assert 2 <= max(epochs) <= 3 and not (folder / "member-0" / "metrics.json").exists()
