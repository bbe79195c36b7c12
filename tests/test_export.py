import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import quick_train_args, run_train_cli, subprocess_env, tflite_probabilities

from digitnet.core import cli
from digitnet.serving.exporters import export_model
from digitnet.serving.model_card import with_checks
from digitnet.serving.tflite import TFLITE_VARIANTS
from digitnet.serving.runtimes import load_predictor

TEST_SUBSET = 1000


@pytest.fixture(scope="module")
def trained_lenet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lenet-run")
    argv = ["--arch", "lenet", "--output-dir", str(folder), *quick_train_args(train=2000, test=200)]
    assert run_train_cli(argv) == 0
    return folder / "model.keras"


@pytest.fixture(scope="module")
def exported(trained_lenet, mnist, tmp_path_factory):
    output = tmp_path_factory.mktemp("exports")
    written = export_model(trained_lenet, ["saved_model", "tflite"], output, mnist.take_test(TEST_SUBSET))
    return output, written


@pytest.mark.slow  # every user of trained_lenet: whichever runs first trains it (about 10 s)
def test_tf_serving_layout_and_versions_never_overwrite(exported, trained_lenet, mnist):
    output, written = exported
    assert written["saved_model"] == output / "lenet" / "1"
    assert (output / "lenet" / "1" / "saved_model.pb").is_file()
    assert (output / "lenet" / "1" / "variables").is_dir()
    before = (output / "lenet" / "1" / "saved_model.pb").read_bytes()
    again = export_model(trained_lenet, ["saved_model"], output, mnist.take_test(10))
    assert again["saved_model"] == output / "lenet" / "2"
    assert (output / "lenet" / "1" / "saved_model.pb").read_bytes() == before
    assert sorted(p.name for p in (output / "lenet").iterdir()) == ["1", "2"]  # no staging left behind


@pytest.mark.slow
def test_signatures_take_named_uint8_images_and_name_their_outputs(exported):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(exported[1]["saved_model"]))
    default = loaded.signatures["serving_default"]
    _, inputs = default.structured_input_signature
    assert list(inputs) == ["images"]
    assert inputs["images"].dtype == tf.uint8 and inputs["images"].shape.as_list() == [None, 28, 28]
    assert sorted(default.structured_outputs) == ["classes", "probabilities"]
    float_inputs = loaded.signatures["serving_float"].structured_input_signature[1]["images"]
    assert float_inputs.dtype == tf.float32 and float_inputs.shape.as_list() == [None, 28, 28, 1]
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a uint8 tensor but is a float"):
        default(images=tf.zeros([1, 28, 28], tf.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[1,32,32\] is not compatible with expected shape \[\?,28,28\]"):
        default(images=tf.zeros([1, 32, 32], tf.uint8))


@pytest.fixture(scope="module")
def committee_model(tmp_path_factory):
    """The committee's model.keras: two BPNN members, one reading its digits at width 14 (digitnet's
    DigitWidth layer), each over five shifted views, as `python -m digitnet.committee` assembles it."""
    from digitnet import committee

    folder = tmp_path_factory.mktemp("committee")
    argv = ["--arch", "bpnn", "--members", "2", "--digit-widths", "none,14", "--views", "5",
            *quick_train_args(), "--output-dir", str(folder)]
    assert cli.run_command(committee.main, argv) == 0
    return folder / "model.keras"


@pytest.fixture(scope="module")
def committee_saved_model(committee_model, mnist, tmp_path_factory):
    written = export_model(committee_model, ["saved_model"], tmp_path_factory.mktemp("committee-export"),
                           mnist.take_test(200), name="committee", log=lambda *args: None)
    return written["saved_model"]


@pytest.fixture(params=["lenet exported here", "committee exported here"])
def served(request):
    """(SavedModel folder, images -> the probabilities it must give): a LeNet and a committee, each
    trained and exported by the test, each held to the answers of the Keras model it was exported from."""
    if request.param == "committee exported here":
        model = request.getfixturevalue("committee_model")
        return request.getfixturevalue("committee_saved_model"), lambda images: keras_probabilities(model, images)
    trained_lenet = request.getfixturevalue("trained_lenet")
    return request.getfixturevalue("exported")[1]["saved_model"], lambda images: keras_probabilities(trained_lenet, images)


@pytest.mark.slow
def test_saved_model_answers_in_a_fresh_process_without_digitnet(served, mnist, tmp_path):
    path, expected = served
    np.save(tmp_path / "images.npy", mnist.test_images[:50])
    script = (
        "import sys, numpy as np, tensorflow as tf\n"
        f"model = tf.saved_model.load({str(path)!r})\n"
        f"out = model.signatures['serving_default'](images=tf.constant(np.load({str(tmp_path / 'images.npy')!r})))\n"
        "assert not any(m.startswith('digitnet') for m in sys.modules), 'digitnet was imported'\n"
        "print(' '.join(map(str, out['classes'].numpy())))\n"
    )
    env = subprocess_env(PYTHONPATH="")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    classes = np.array(done.stdout.split(), dtype=int)
    np.testing.assert_array_equal(classes, np.argmax(expected(mnist.test_images[:50]), axis=1))


@pytest.mark.slow
def test_saved_model_cli_show_and_run(served, mnist, tmp_path):
    path, expected = str(served[0]), served[1]
    np.save(tmp_path / "two.npy", mnist.test_images[:2])
    show = subprocess.run(["saved_model_cli", "show", "--dir", path, "--all"], capture_output=True, text=True, timeout=300)
    assert show.returncode == 0, show.stderr[-2000:]
    assert "serving_default" in show.stdout and "probabilities" in show.stdout and "images" in show.stdout
    run = subprocess.run(["saved_model_cli", "run", "--dir", path, "--tag_set", "serve", "--signature_def",
                          "serving_default", "--inputs", f"images={tmp_path / 'two.npy'}"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "classes" in run.stdout and "probabilities" in run.stdout
    classes = np.argmax(expected(mnist.test_images[:2]), axis=1)
    assert f"[{classes[0]} {classes[1]}]" in run.stdout.replace("\n", " ")


def keras_probabilities(model_path, images):
    """The trained model's own answers: Keras itself, no digitnet runtime."""
    import keras

    return keras.models.load_model(model_path).predict(images.astype(np.float32)[..., None] / 255.0,
                                                        batch_size=1000, verbose=0)


@pytest.mark.slow
def test_saved_model_and_tflite_agree_with_keras(exported, trained_lenet, mnist):
    import tensorflow as tf

    images, labels = mnist.test_images[:TEST_SUBSET], mnist.test_labels[:TEST_SUBSET]
    reference = keras_probabilities(trained_lenet, images)
    keras_classes = np.argmax(reference, 1)
    keras_accuracy = float(np.mean(keras_classes == labels))
    serving = tf.saved_model.load(str(exported[1]["saved_model"])).signatures["serving_default"]
    served = serving(images=tf.constant(images))
    np.testing.assert_allclose(served["probabilities"].numpy(), reference, atol=1e-5)
    np.testing.assert_array_equal(served["classes"].numpy(), keras_classes)
    # The model card states what this test measured independently, on the same images.
    card = json.loads((exported[1]["saved_model"] / "model_card.json").read_text())
    assert card["data"]["test_examples"] == TEST_SUBSET
    assert card["test_metrics"]["keras"]["accuracy"] == pytest.approx(keras_accuracy, abs=1e-9)
    assert card["test_metrics"]["saved_model"]["accuracy"] == pytest.approx(keras_accuracy, abs=1e-9)
    assert card["test_metrics"]["saved_model"]["argmax_agreement"] == 1.0
    tflite_card = json.loads((exported[1]["tflite"]["int8"].parent / "model_card.json").read_text())["test_metrics"]
    # The TFLite card, written last, holds the SavedModel's checks too; export_model returns that card.
    assert tflite_card["saved_model"] == card["test_metrics"]["saved_model"]
    assert exported[1]["card"]["test_metrics"] == tflite_card
    assert set(exported[1]["tflite"]) == set(TFLITE_VARIANTS)
    for variant in TFLITE_VARIANTS:
        path = exported[1]["tflite"][variant]
        predictor = load_predictor(path)
        outputs = tflite_probabilities(path, images)
        np.testing.assert_array_equal(predictor(images), outputs)  # digitnet's runtime runs it the same way
        agreement = float(np.mean(np.argmax(outputs, 1) == keras_classes))
        accuracy = float(np.mean(np.argmax(outputs, 1) == labels))
        if variant == "float32":
            assert agreement >= 0.999
            np.testing.assert_allclose(outputs, reference, atol=1e-4)
        else:  # quantized: close to the Keras model, not equal
            assert agreement >= 0.97 and abs(accuracy - keras_accuracy) <= 0.01, (variant, agreement, accuracy)
        if variant == "int8":
            assert predictor.input["dtype"] == np.uint8 and predictor.output["dtype"] == np.uint8
            # The card states the quantization, for runtimes that do not show it (LiteRT.js).
            stated = exported[1]["card"]["tflite_io"]["int8"]
            for side, details in (("input", predictor.input), ("output", predictor.output)):
                assert (stated[side]["scale"], stated[side]["zero_point"]) == details["quantization"]
        assert tflite_card[f"tflite_{variant}"]["accuracy"] == pytest.approx(accuracy, abs=1e-9)
        assert tflite_card[f"tflite_{variant}"]["argmax_agreement"] == pytest.approx(agreement, abs=1e-9)


def test_checks_join_a_copy_of_the_card_after_its_own_metrics():
    card = {"name": "toy", "test_metrics": {"keras": {"accuracy": 0.9}}, "input_contract": {}, "files": {}}
    checks = {"test_metrics": {"saved_model": {"accuracy": 0.9}}, "files": {"saved_model_bytes": 3}}
    checked = with_checks(card, checks)
    assert list(checked) == list(card)  # the card's sections keep their order (model_card.md follows it)
    assert list(checked["test_metrics"]) == ["keras", "saved_model"]
    assert checked["files"] == {"saved_model_bytes": 3}
    assert card["test_metrics"] == {"keras": {"accuracy": 0.9}} and card["files"] == {}
    with_io = with_checks(checked, {"tflite_io": {"int8": {"output": {"scale": 0.5}}}})
    assert list(with_io) == list(card) + ["tflite_io"]  # a new section comes after the card's own


def test_export_cli_refuses_bad_input(tmp_path, capsys):
    assert cli.run_command(__import__("digitnet.export", fromlist=["main"]).main,
                           ["--model", str(tmp_path / "none.keras"), "--output-dir", str(tmp_path)]) == 2
    assert "no such model file" in capsys.readouterr().err
    (tmp_path / "junk.keras").write_text("not a zip")
    assert cli.run_command(__import__("digitnet.export", fromlist=["main"]).main,
                           ["--model", str(tmp_path / "junk.keras"), "--output-dir", str(tmp_path)]) == 2
    assert "not a loadable Keras model" in capsys.readouterr().err
