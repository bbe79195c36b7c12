"""digitnet.portable and layers.RandomAffine: committee members trained through Keras alone (JAX on a GPU
machine without TensorFlow), reused by digitnet.committee as finished members."""
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import NO_TENSORFLOW, subprocess_env

from digitnet import portable
from digitnet.core.errors import ConfigError
from digitnet.data import augment
from digitnet.data.presets import get_augmentation
from digitnet.models import layers
from digitnet.training.config import TrainConfig

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


def run_module(module, *argv, backend="tensorflow", block_tensorflow_in=None, timeout=600):
    pythonpath = f"{block_tensorflow_in}:{ROOT}" if block_tensorflow_in else str(ROOT)
    if block_tensorflow_in:
        (Path(block_tensorflow_in) / "sitecustomize.py").write_text(NO_TENSORFLOW)
    return subprocess.run([sys.executable, "-m", module, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=subprocess_env(KERAS_BACKEND=backend, PYTHONPATH=pythonpath))


SMALL = ["--train-examples", "1000", "--test-examples", "200", "--epochs", "1"]


@pytest.mark.slow
def test_members_trained_on_jax_without_tensorflow_join_a_committee(tmp_path):
    folder = tmp_path / "committee"
    blocked = tmp_path / "no_tf"
    blocked.mkdir()
    done = run_module("digitnet.portable", "--arch", "lenet", "--members", "2", "--output-dir", str(folder),
                      *SMALL, "--quiet", backend="jax", block_tensorflow_in=blocked)
    assert done.returncode == 0, done.stderr[-3000:]
    for seed in (0, 1):
        member = folder / f"member-{seed}"
        saved = json.loads((member / "config.json").read_text())
        metrics = json.loads((member / "metrics.json").read_text())
        assert (saved["trainer"], saved["keras_backend"], saved["config"]["seed"]) == ("digitnet.portable", "jax", seed)
        assert metrics["seed"] == seed and 0.2 < metrics["test"]["accuracy"] <= 1.0  # chance is 0.1: it learned
    assert not list(folder.glob(".*partial"))

    # Again: both members are reused, nothing is trained.
    again = run_module("digitnet.portable", "--arch", "lenet", "--members", "2", "--output-dir", str(folder),
                       *SMALL, "--quiet", backend="jax", block_tensorflow_in=blocked)
    assert again.returncode == 0 and again.stdout.count("reusing it") == 2, again.stdout + again.stderr[-2000:]

    # digitnet.committee (TensorFlow) reuses them as finished members and averages them.
    committee = run_module("digitnet.committee", "--arch", "lenet", "--members", "2", "--output-dir", str(folder),
                           *SMALL, "--quiet")
    assert committee.returncode == 0, committee.stderr[-3000:]
    assert committee.stdout.count("already holds this finished run") == 2, committee.stdout
    result = json.loads((folder / "metrics.json").read_text())
    assert [m["trainer"] for m in result["members"]] == ["digitnet.portable (Keras on jax)"] * 2
    assert 0.2 < result["committee"]["accuracy"] <= 1.0


@pytest.mark.parametrize("argv, named", [
    (["--arch", "autoencoder"], "received --arch autoencoder"),
    (["--arch", "ae_classifier"], "received --arch ae_classifier"),
    (["--augment", "elastic"], "--augment elastic adds an elastic field"),
    (["--members", "0"], "received 0"),
    (["--first-member", "-1"], "received -1"),
])
def test_portable_refuses_what_it_cannot_train_in_one_line(tmp_path, argv, named):
    done = run_module("digitnet.portable", "--output-dir", str(tmp_path / "c"), *argv, timeout=120)
    assert done.returncode == 2 and named in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "c").exists()


def test_a_member_that_fails_leaves_no_folder_and_other_runs_are_moved_aside(tmp_path, small_mnist, monkeypatch):
    folder = tmp_path / "committee"
    earlier = folder / "member-0"
    earlier.mkdir(parents=True)
    (earlier / "config.json").write_text(json.dumps({"config": {}, "result_fields": {"arch": "bpnn"}}))
    base = TrainConfig(arch="lenet", epochs=1, output_dir=str(earlier), verbose=0).resolved()

    def fail(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(keras.Model, "save", fail)
    with pytest.raises(OSError, match="simulated"):
        portable.train_members(base, 1, folder, small_mnist)
    assert not list(folder.glob(".*partial"))
    moved = [path for path in folder.iterdir() if path.name.startswith("member-0.")]
    assert len(moved) == 1 and json.loads((moved[0] / "config.json").read_text())["result_fields"] == {"arch": "bpnn"}
    assert not (folder / "member-0").exists()


@pytest.mark.slow
def test_deep_cnn_trains_on_jax_with_its_registered_distortions(tmp_path):
    blocked = tmp_path / "no_tf"
    blocked.mkdir()
    done = run_module("digitnet.portable", "--arch", "deep_cnn", "--members", "1", "--output-dir",
                      str(tmp_path / "c"), "--train-examples", "500", "--test-examples", "100", "--epochs", "1",
                      "--validation-split", "0.2", "--quiet", backend="jax", block_tensorflow_in=blocked)
    assert done.returncode == 0, done.stderr[-3000:]
    member = tmp_path / "c" / "member-0"
    saved = json.loads((member / "config.json").read_text())
    assert saved["config"]["augment"] == "affine" and saved["config"]["validation_split"] == 0.2
    history = (member / "history.csv").read_text().splitlines()
    assert history[0] == "stage,epoch,seconds,accuracy,loss,val_accuracy,val_loss" and len(history) == 2
    # The classifier is saved without its training-only distortion layer.
    model = keras.models.load_model(member / "model.keras")
    assert not [layer for layer in model.layers if isinstance(layer, layers.RandomAffine)]
    assert json.loads((member / "metrics.json").read_text())["train_examples"] == 400


def test_ctrl_c_stops_a_member_and_leaves_no_folder(tmp_path):
    import signal
    import time

    folder = tmp_path / "c"
    child = subprocess.Popen([sys.executable, "-m", "digitnet.portable", "--arch", "lenet", "--members", "1",
                              "--epochs", "60", "--train-examples", "2000", "--test-examples", "100",
                              "--output-dir", str(folder)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=subprocess_env(KERAS_BACKEND="tensorflow",
                                                                                   PYTHONPATH=str(ROOT)))
    try:
        for line in child.stdout:
            if line.startswith("Epoch 3/60"):
                break
        child.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130, stderr[-2000:]
    assert time.monotonic() - started < 30 and "interrupted" in stderr and "Traceback" not in stderr
    assert not (folder / "member-0").exists() and not list(folder.glob(".*partial"))


def test_members_from_first_member_on_save_their_optimiser_and_load_without_warnings(tmp_path, small_mnist):
    import warnings

    base = TrainConfig(arch="lenet", epochs=1, seed=10, output_dir=str(tmp_path / "c" / "member-0"),
                       verbose=0).resolved()
    portable.train_members(base, 1, tmp_path / "c", small_mnist, first=2)
    assert [path.name for path in (tmp_path / "c").iterdir()] == ["member-2"]
    assert json.loads((tmp_path / "c" / "member-2" / "metrics.json").read_text())["seed"] == 12
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.models.load_model(tmp_path / "c" / "member-2" / "model.keras")
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert model.optimizer.__class__.__name__ == "Adam"
