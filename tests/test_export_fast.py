"""A model trained here, exported through `python -m digitnet.export`, answers as the Keras model does.

Small on purpose (a BPNN, 500 training digits, one epoch; the export's checks on 200 test digits), so that
the fast suite exports a freshly trained model in every format. The thorough checks on a LeNet and the whole
card are in test_export.py (slow)."""
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_train_cli, subprocess_env, tflite_probabilities, write_mnist_subset

TRAIN, TEST = 500, 200
# Largest difference from Keras' probabilities that each TFLite file may show, and the least share of images
# on which it must pick Keras' class. Measured here: float32 1.2e-7 and all of them; dynamic_range 0.0016
# and 99.5 %; int8 0.0048 (its uint8 output moves in steps of 1/256 = 0.0039) and 97 % (a model one epoch
# old gives close probabilities, so a small shift changes the argmax of a few).
TFLITE_BOUNDS = {"float32": (1e-5, 1.0), "dynamic_range": (0.01, 0.95), "int8": (0.02, 0.9)}


@pytest.fixture(scope="module")
def exported(mnist, tmp_path_factory):
    """(the trained model.keras, the export folder, the test digits): trained in this process, exported by
    the command in a child process."""
    root = tmp_path_factory.mktemp("export-fast")
    data = write_mnist_subset(root / "data", mnist, TRAIN, TEST)
    argv = ["--arch", "bpnn", "--data-dir", data, "--epochs", "1", "--quiet", "--output-dir", str(root / "run")]
    assert run_train_cli(argv) == 0
    command = [sys.executable, "-m", "digitnet.export", "--model", str(root / "run" / "model.keras"),
               "--data-dir", data, "--output-dir", str(root / "exports")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "run" / "model.keras", root / "exports", mnist.test_images[:TEST]


def _keras_probabilities(model_path, images):
    """The trained model's own answers: Keras itself on images scaled to [0, 1], no digitnet code."""
    return keras.models.load_model(model_path).predict(images[..., None].astype(np.float32) / 255, verbose=0)


def test_the_exported_saved_model_has_the_serving_signature_and_answers_as_keras(exported):
    model_path, output, images = exported
    loaded = tf.saved_model.load(str(output / "bpnn" / "1"))
    serving = loaded.signatures["serving_default"]
    _, inputs = serving.structured_input_signature
    assert list(inputs) == ["images"]
    assert inputs["images"].dtype == tf.uint8 and inputs["images"].shape.as_list() == [None, 28, 28]
    assert sorted(serving.structured_outputs) == ["classes", "probabilities"]
    answers = serving(images=tf.constant(images))
    reference = _keras_probabilities(model_path, images)
    np.testing.assert_allclose(answers["probabilities"].numpy(), reference, atol=1e-5)
    np.testing.assert_array_equal(answers["classes"].numpy(), np.argmax(reference, axis=1))


@pytest.mark.parametrize("variant", list(TFLITE_BOUNDS))
def test_each_exported_tflite_file_answers_close_to_keras(exported, variant):
    model_path, output, images = exported
    assert sorted(p.name for p in (output / "tflite" / "bpnn" / "1").glob("*.tflite")) == [
        f"bpnn_{name}.tflite" for name in sorted(TFLITE_BOUNDS)]
    answers = tflite_probabilities(output / "tflite" / "bpnn" / "1" / f"bpnn_{variant}.tflite", images)
    reference = _keras_probabilities(model_path, images)
    largest_difference, least_agreement = TFLITE_BOUNDS[variant]
    assert np.max(np.abs(answers - reference)) <= largest_difference
    assert np.mean(np.argmax(answers, axis=1) == np.argmax(reference, axis=1)) >= least_agreement
    if variant != "float32":  # quantized: close, not the float model itself
        assert np.max(np.abs(answers - reference)) > 1e-6


def test_a_saved_model_over_the_shard_size_is_written_in_several_files_that_load_as_one(exported, tmp_path):
    """The committee's weights pass 20 MiB; write_archive splits them into variables files of at most
    max_shard_bytes (one variable larger than that keeps a file of its own), and the SavedModel loads and
    answers from the shards exactly as from one file."""
    from digitnet.serving.saved_model import serving_endpoints, write_archive

    model_path, _, images = exported
    model = keras.models.load_model(model_path)
    answers = {}
    for name, limit in (("whole", 2**30), ("sharded", 300_000)):  # the BPNN's 784x300 kernel is 940,800 bytes
        write_archive(model, tmp_path / name, serving_endpoints(model), max_shard_bytes=limit)
        answers[name] = tf.saved_model.load(str(tmp_path / name)).signatures["serving_default"](
            images=tf.constant(images))["probabilities"].numpy()
    assert len(list((tmp_path / "whole" / "variables").glob("variables.data-*"))) == 1
    assert_sharded(tmp_path / "sharded", 300_000)
    np.testing.assert_array_equal(answers["sharded"], answers["whole"])


def assert_sharded(folder, limit):
    """At least two variables files, and no more of them over `limit` than there are variables over it."""
    shards = sorted((folder / "variables").glob("variables.data-*"))
    reader = tf.train.load_checkpoint(str(folder / "variables" / "variables"))
    large = [name for name in reader.get_variable_to_shape_map() if np.asarray(reader.get_tensor(name)).nbytes > limit]
    assert len(shards) >= 2
    assert sum(shard.stat().st_size > limit for shard in shards) <= len(large)


def test_resharding_a_saved_model_keeps_its_graph_and_its_answers(exported, tmp_path):
    """reshard_variables splits an existing SavedModel's one variables file (as a committee exported before
    write_archive sharded was written) without touching saved_model.pb; it answers bit for bit as before."""
    import shutil

    from digitnet.serving.saved_model import reshard_variables

    _, output, images = exported
    folder = tmp_path / "bpnn" / "1"
    shutil.copytree(output / "bpnn" / "1", folder)
    graph = (folder / "saved_model.pb").read_bytes()

    def answers():
        return tf.saved_model.load(str(folder)).signatures["serving_default"](
            images=tf.constant(images))["probabilities"].numpy()

    before = answers()
    assert len(list((folder / "variables").glob("variables.data-*"))) == 1
    assert reshard_variables(folder, max_shard_bytes=300_000) >= 2
    assert_sharded(folder, 300_000)
    assert (folder / "saved_model.pb").read_bytes() == graph
    assert [p.name for p in (tmp_path / "bpnn").iterdir()] == ["1"]  # nothing staged is left beside it
    np.testing.assert_array_equal(answers(), before)
    # TensorFlow's fingerprint.pb follows the new files: its checkpoint hash is that of the shards
    from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting

    from tensorflow.core.protobuf import fingerprint_pb2

    stated, computed = fingerprint_pb2.FingerprintDef(), fingerprint_pb2.FingerprintDef()
    stated.ParseFromString((folder / "fingerprint.pb").read_bytes())
    computed.ParseFromString(fingerprinting.CreateFingerprintDef(str(folder)))
    assert stated.checkpoint_hash == computed.checkpoint_hash and stated.saved_model_checksum == computed.saved_model_checksum


def test_a_reshard_that_fails_midway_leaves_the_saved_model_as_it_was(exported, tmp_path, monkeypatch):
    """The swap of the variables folder is undone when what follows it fails (here: fingerprint.pb's
    replacement), so the SavedModel keeps its one variables file and its answers, and nothing staged stays."""
    import shutil

    import digitnet.serving.saved_model as saved_model

    _, output, images = exported
    folder = tmp_path / "bpnn" / "1"
    shutil.copytree(output / "bpnn" / "1", folder)
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert (folder / "fingerprint.pb").is_file()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(saved_model.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        saved_model.reshard_variables(folder, max_shard_bytes=300_000)
    monkeypatch.undo()
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert [p.name for p in (tmp_path / "bpnn").iterdir()] == ["1"]
    tf.saved_model.load(str(folder)).signatures["serving_default"](images=tf.constant(images))
