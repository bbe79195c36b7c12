"""The committee: its output is the mean of its members', and its exports agree with it."""
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import QUICK_TRAIN

from digitnet import committee
from digitnet.core import cli
from digitnet.core.images import to_model_input
from digitnet.serving.exporters import export_model
from digitnet.serving.runtimes import TFLitePredictor


@pytest.fixture(scope="module")
def tiny_committee(tmp_path_factory):
    folder = tmp_path_factory.mktemp("committee")
    argv = ["--arch", "bpnn", "--members", "2", *QUICK_TRAIN, "--output-dir", str(folder)]
    assert cli.run_command(committee.main, argv) == 0
    return folder


@pytest.mark.slow  # trains a committee of two members
def test_committee_output_is_the_mean_of_its_members(tiny_committee, mnist):
    images = to_model_input(mnist.test_images[:64])
    members = [keras.models.load_model(tiny_committee / f"member-{k}" / "model.keras") for k in range(2)]
    model = keras.models.load_model(tiny_committee / "model.keras")
    expected = np.mean([m.predict(images, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-6)
    assert not np.allclose(expected, members[0].predict(images, verbose=0), atol=1e-3)  # the members differ
    metrics = json.loads((tiny_committee / "metrics.json").read_text())
    assert [m["seed"] for m in metrics["members"]] == [0, 1] and model.name == "committee"
    predicted = np.argmax(model.predict(to_model_input(mnist.test_images[:100]), verbose=0), axis=1)
    assert metrics["committee"]["errors"] == int(np.sum(predicted != mnist.test_labels[:100]))


@pytest.mark.slow  # trains a committee of two members
def test_committee_exports_agree_with_the_keras_committee(tiny_committee, mnist, tmp_path):
    data = mnist.take_test(200)
    written = export_model(tiny_committee / "model.keras", ["saved_model", "tflite"], tmp_path, data,
                           name="committee", log=lambda *a: None)
    assert written["saved_model"] == tmp_path / "committee" / "1"
    card = json.loads((written["saved_model"] / "model_card.json").read_text())["model"]  # every member, by seed
    metrics = json.loads((tiny_committee / "metrics.json").read_text())
    assert [(m["seed"], m["test_accuracy"]) for m in card["member_runs"]] == [
        (m["seed"], m["test"]["accuracy"]) for m in metrics["members"]] and len(card["member_runs"]) == 2
    reference = keras.models.load_model(tiny_committee / "model.keras").predict(
        to_model_input(data.test_images), verbose=0)
    served = tf.saved_model.load(str(written["saved_model"])).signatures["serving_default"](
        images=tf.constant(data.test_images))
    np.testing.assert_allclose(served["probabilities"].numpy(), reference, atol=1e-5)
    np.testing.assert_array_equal(served["classes"].numpy(), np.argmax(reference, axis=1))
    float32 = TFLitePredictor(written["tflite"]["float32"])(data.test_images)
    np.testing.assert_allclose(float32, reference, atol=1e-5)
    int8 = TFLitePredictor(written["tflite"]["int8"])(data.test_images)
    accuracy = lambda p: np.mean(np.argmax(p, axis=1) == data.test_labels)  # noqa: E731
    assert abs(accuracy(int8) - accuracy(float32)) <= 0.003 + 1 / len(data.test_images)


def _shifted(images: np.ndarray, down: int, right: int) -> np.ndarray:
    """images [batch, 28, 28, 1] moved by (down, right) pixels, zeros coming in."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return padded[:, 1 - down:29 - down, 1 - right:29 - right]


@pytest.mark.slow  # trains a committee of two members
def test_a_committee_with_views_averages_every_member_over_the_shifted_images(tiny_committee, mnist, tmp_path):
    argv = ["--arch", "bpnn", "--members", "2", *QUICK_TRAIN, "--views", "5",
            "--members-dir", str(tiny_committee), "--output-dir", str(tmp_path)]
    assert cli.run_command(committee.main, argv) == 0
    assert not (tmp_path / "member-0").exists()  # the members were reused, not trained again
    images = to_model_input(mnist.test_images[:64])
    members = [keras.models.load_model(tiny_committee / f"member-{k}" / "model.keras") for k in range(2)]
    views = [_shifted(images, down, right) for down, right in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))]
    expected = np.mean([m.predict(v, verbose=0) for m in members for v in views], axis=0)
    model = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-6)
    plain = keras.models.load_model(tiny_committee / "model.keras").predict(images, verbose=0)
    assert not np.allclose(expected, plain, atol=1e-3)  # the shifted views count
    assert json.loads((tmp_path / "metrics.json").read_text())["views"] == 5
    exported = export_model(tmp_path / "model.keras", ["saved_model"], tmp_path / "served", mnist.take_test(100),
                            name="committee", log=lambda *a: None)["saved_model"]
    extended = ["--arch", "bpnn", "--extend", str(exported), "--test-examples", "100", "--output-dir", str(tmp_path / "x")]
    assert cli.run_command(committee.main, extended) == 0
    assert json.loads((tmp_path / "x" / "metrics.json").read_text())["views"] == 5  # the committee's own views kept


def test_assembling_needs_its_own_output_folder(capsys):
    assert cli.run_command(committee.main, ["--extend", "saved_models/committee/1"]) == 2
    assert "--extend and --add need --output-dir" in capsys.readouterr().err


def test_views_other_than_1_or_5_are_refused(capsys):
    assert cli.run_command(committee.main, ["--views", "3", "--members", "1"]) == 2
    assert "--views must be 1 or 5, received 3" in capsys.readouterr().err


@pytest.mark.slow  # trains a committee of two members
def test_members_with_digit_widths_normalise_their_own_digits(mnist, tmp_path):
    argv = ["--arch", "bpnn", "--members", "2", *QUICK_TRAIN, "--digit-widths", "none,14", "--output-dir", str(tmp_path)]
    assert cli.run_command(committee.main, argv) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [m["digit_width"] for m in metrics["members"]] == [None, 14] and "digit widths none,14" in metrics["headline"]
    members = [keras.models.load_model(tmp_path / f"member-{k}" / "model.keras") for k in range(2)]
    assert members[1].get_layer("digit_width").width == 14
    assert "digit_width" not in [layer.name for layer in members[0].layers]
    images = to_model_input(mnist.test_images[:64])
    expected = np.mean([m.predict(images, verbose=0) for m in members], axis=0)
    model = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-6)


@pytest.mark.parametrize("widths, message", [
    ("12,14", "one value per member (3) or one for all, received 2: 12,14"),
    ("none,wide,12", "whole numbers of pixels or 'none', received 'none,wide,12'"),
    ("3", "--digit-width must be a whole number of pixels from 4 to 28, received 3"),
])
def test_bad_digit_widths_are_refused(widths, message, capsys):
    assert cli.run_command(committee.main, ["--members", "3", "--digit-widths", widths]) == 2
    assert message in capsys.readouterr().err


def test_one_digit_width_serves_every_member():
    assert committee.member_widths(("14",), 3) == [14, 14, 14]
    assert committee.member_widths(("none",), 2) == [None, None]
    assert committee.member_widths(("none", "12"), 2) == [None, 12]


@pytest.mark.slow  # trains a committee of two members
def test_an_exported_committee_gains_a_member_without_training(tiny_committee, mnist, tmp_path, capsys):
    data = mnist.take_test(200)
    exported = export_model(tiny_committee / "model.keras", ["saved_model"], tmp_path / "served", data,
                            name="committee", log=lambda *a: None)["saved_model"]
    argv = ["--arch", "bpnn", "--extend", str(exported), "--add", str(tiny_committee / "member-0"),
            "--test-examples", "200", "--output-dir", str(tmp_path / "grown")]
    import digitnet.experiments.committee as library

    load = keras.models.load_model

    def only_the_added_run(path, *args, **kwargs):  # the published members come from the SavedModel alone
        assert Path(path).parent == tiny_committee / "member-0", path
        return load(path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(library.keras.models, "load_model", only_the_added_run)
        assert cli.run_command(committee.main, argv) == 0
    assert not list((tmp_path / "grown").glob("member-*"))  # nothing trained
    images = to_model_input(mnist.test_images[:64])
    members = [keras.models.load_model(tiny_committee / f"member-{k}" / "model.keras") for k in (0, 1, 0)]
    expected = np.mean([m.predict(images, verbose=0) for m in members], axis=0)
    grown = keras.models.load_model(tmp_path / "grown" / "model.keras")
    np.testing.assert_allclose(grown.predict(images, verbose=0), expected, atol=1e-6)
    metrics = json.loads((tmp_path / "grown" / "metrics.json").read_text())
    assert [(m["seed"], m.get("published_in")) for m in metrics["members"]] == [
        (0, str(exported)), (1, str(exported)), (0, None)]
    assert {m["augment"] for m in metrics["members"]} == {"none"}  # bpnn's registered preset
    card = json.loads((export_model(tmp_path / "grown" / "model.keras", ["saved_model"], tmp_path / "served", data,
                                    name="committee", log=lambda *a: None)["saved_model"] / "model_card.json"
                       ).read_text())["model"]
    assert card["members"] == 3 and [m.get("published_in") for m in card["member_runs"]] == [
        str(exported), str(exported), None]
    member = tiny_committee / "member-0"
    refused = {
        ("--arch", "lenet", "--add", str(member), "--output-dir", str(tmp_path / "other")):
            f"--add {member} holds a bpnn run; this committee's members are lenet",
        ("--arch", "bpnn", "--add", str(tiny_committee), "--output-dir", str(tmp_path / "other")):
            f"--add {tiny_committee} holds a committee, not a run",
        ("--arch", "bpnn", "--add", str(member), "--output-dir", str(member)):
            f"--output-dir {member} is a run that --add joins",
        ("--arch", "bpnn", "--add", str(member), "--output-dir", str(tiny_committee / "member-1")):
            f"--output-dir {tiny_committee / 'member-1'} holds a run, not a committee",
    }
    before = (member / "metrics.json").read_bytes()
    for argv, message in refused.items():
        assert cli.run_command(committee.main, list(argv)) == 2
        assert message in capsys.readouterr().err
    assert (member / "metrics.json").read_bytes() == before  # no run overwritten


@pytest.mark.slow  # trains a committee of two members
def test_recovered_members_are_checked_against_the_saved_model(tiny_committee, mnist, tmp_path):
    from digitnet.core.errors import ConfigError
    from digitnet.experiments.committee import build_committee
    from digitnet.models.registry import get_spec
    from digitnet.serving.saved_model import restore_variables

    data = mnist.take_test(100)
    exported = export_model(tiny_committee / "model.keras", ["saved_model"], tmp_path, data,
                            name="committee", log=lambda *a: None)["saved_model"]
    images = to_model_input(data.test_images)
    members = [get_spec("bpnn").build() for _ in range(2)]  # untrained: only the restored variables can agree
    assert restore_variables(build_committee(members), exported, images) <= 1e-5
    # The same variables in a committee that reads shifted views too: the check must refuse it.
    with pytest.raises(ConfigError, match="differs from it by up to"):
        restore_variables(build_committee(members, views=5), exported, images)
    with pytest.raises(ConfigError, match="variables that do not match"):
        restore_variables(build_committee(members[:1]), exported, images)


@pytest.mark.parametrize("argv, message", [
    (["--extend", "saved_models/lenet/1"], "describes 'lenet', not a committee listing its members"),
    (["--extend", "tests"], "expected a SavedModel folder exported by digitnet (saved_model.pb and model_card.json), "
                            "received tests"),
    (["--add", "tests"], "--add takes a finished run folder (config.json, metrics.json and model.keras), "
                         "received tests"),
    (["--extend", "saved_models/committee/1", "--members", "2"], "--extend and --add assemble members"),
    (["--arch", "bpnn", "--extend", "saved_models/committee/1"], "holds deep_cnn members; --arch is bpnn"),
])
def test_bad_extend_and_add_are_refused_in_one_line(argv, message, capsys, tmp_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(Path(__file__).resolve().parents[1])
        assert cli.run_command(committee.main, [*argv, "--output-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
