import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitnet import predict
from digitnet.core import cli
from digitnet.core.errors import DataError
from digitnet.serving import preprocess
from digitnet.serving.preprocess import to_mnist
from digitnet.serving.runtimes import default_model

# From the repository root, wherever pytest starts.
REFERENCE_SAVED_MODEL = str(Path(__file__).resolve().parent.parent / "saved_models" / "lenet" / "1")


def user_style(mnist_image: np.ndarray, scale: int, offset: tuple[int, int], canvas=(300, 260)) -> Image.Image:
    """What a user sends: dark ink on white paper, large, off-centre, in colour."""
    big = Image.fromarray(255 - mnist_image).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
    page = Image.new("L", canvas, 255)
    page.paste(big, offset)
    return page.convert("RGB")


def test_mnist_digits_survive_preprocessing_nearly_unchanged(mnist):
    for image in mnist.test_images[:20]:
        prepared = to_mnist(image.astype(np.float32) / 255.0)
        rows, cols = np.flatnonzero(prepared.any(axis=1)), np.flatnonzero(prepared.any(axis=0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21, 22)  # 20 + anti-aliasing fringe
        assert np.corrcoef(prepared.ravel(), image.ravel())[0, 1] > 0.95
        ys, xs = np.indices(prepared.shape)
        assert abs((ys * prepared).sum() / prepared.sum() - 14.0) < 0.75
        assert abs((xs * prepared).sum() / prepared.sum() - 14.0) < 0.75


@pytest.mark.parametrize("scale, offset, suffix", [(3, (10, 150), ".png"), (6, (100, 0), ".jpg"), (1, (250, 200), ".png")])
def test_user_images_get_the_class_of_the_mnist_digit(mnist, tmp_path, scale, offset, suffix):
    keep = list(range(30))
    paths = []
    for index in keep:
        path = tmp_path / f"digit{index}{suffix}"
        user_style(mnist.test_images[index], scale, offset, canvas=(28 * scale + 300, 28 * scale + 260)).save(path)
        paths.append(str(path))
    results = predict.predict_files(REFERENCE_SAVED_MODEL, paths)
    direct = predict.predict_files(REFERENCE_SAVED_MODEL, [])  # the model loads with no files too
    assert direct == []
    predicted = np.array([r["digit"] for r in results])
    assert np.mean(predicted == mnist.test_labels[keep]) >= 0.95


def test_bad_files_get_their_own_error_and_the_rest_are_answered(mnist, tmp_path, capsys, monkeypatch):
    good = tmp_path / "good.png"
    user_style(mnist.test_images[0], 3, (20, 20)).save(good)
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    Image.new("L", (400, 400), 255).save(tmp_path / "huge.png")
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 100_000)
    files = [str(tmp_path / n) for n in ("text.png", "empty.png", "blank.png", "huge.png", "good.png", "missing.png")]
    code = cli.run_command(predict.main, ["--model", REFERENCE_SAVED_MODEL, *files])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"{good}: 7 (probability" in out
    assert "text.png: not an image file" in err
    assert "empty.png: not an image file" in err
    assert "blank.png: no digit found" in err
    assert "huge.png: image of 400x400 pixels is too large" in err
    assert "missing.png: file not found" in err
    assert "Traceback" not in err


def test_not_a_model(tmp_path):
    with pytest.raises(DataError, match="not a model"):
        predict.predict_files(str(tmp_path), [])


def test_predict_with_a_users_own_keras_classifier(tmp_path):
    """Any Keras model from [28, 28, 1] images to 10 probabilities works, whatever its name."""
    import keras
    from PIL import Image

    from digitnet.predict import predict_files

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)  # named 'functional...', not a registered arch
    model.save(tmp_path / "mine.keras")
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    Image.fromarray(digit).save(tmp_path / "one.png")
    (result,) = predict_files(str(tmp_path / "mine.keras"), [str(tmp_path / "one.png")])
    prepared = result["image"]  # what digitnet's preprocessing made of the file
    expected = model.predict(prepared[None, :, :, None].astype(np.float32) / 255.0, verbose=0)[0]
    assert result["digit"] == int(np.argmax(expected))
    np.testing.assert_allclose(result["probabilities"], expected, atol=1e-5)


def test_without_model_the_newest_committee_answers_else_lenet_and_it_says_which(mnist, tmp_path, capsys, monkeypatch):
    image = tmp_path / "seven.png"
    user_style(mnist.test_images[0], 3, (20, 20)).save(image)
    reference = os.path.abspath(REFERENCE_SAVED_MODEL)
    monkeypatch.chdir(tmp_path)
    assert cli.run_command(predict.main, [str(image)]) == cli.EXIT_USAGE  # nothing exported here yet
    assert "no --model given and no reference model under saved_models/" in capsys.readouterr().err
    (tmp_path / "saved_models" / "lenet").mkdir(parents=True)
    (tmp_path / "saved_models" / "lenet" / "1").symlink_to(reference)
    assert cli.run_command(predict.main, [str(image)]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(f"model: {os.path.join('saved_models', 'lenet', '1')} (the reference LeNet;")
    assert f"{image}: 7 (probability" in out
    (tmp_path / "saved_models" / "committee").mkdir()
    for version in ("2", "10"):  # the newest version, by number, of the committee
        (tmp_path / "saved_models" / "committee" / version).symlink_to(reference)
    assert cli.run_command(predict.main, [str(image)]) == 0
    assert capsys.readouterr().err.startswith(
        f"model: {os.path.join('saved_models', 'committee', '10')} (the reference committee;")


def test_without_model_the_int8_tflite_committee_answers_before_the_saved_model(tmp_path, monkeypatch):
    reference = os.path.abspath(REFERENCE_SAVED_MODEL)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "saved_models" / "committee").mkdir(parents=True)
    (tmp_path / "saved_models" / "committee" / "3").symlink_to(reference)
    tflite = tmp_path / "saved_models" / "tflite" / "committee"
    for version in ("1", "2", "9"):
        (tflite / version).mkdir(parents=True)
    (tflite / "1" / "committee_int8.tflite").write_bytes(b"")
    (tflite / "2" / "committee_int8.tflite").write_bytes(b"")
    (tflite / "9" / "committee_float32.tflite").write_bytes(b"")  # the newest version has no int8 file
    assert default_model() == (os.path.join("saved_models", "tflite", "committee", "2", "committee_int8.tflite"),
                                       "the reference committee, int8 TFLite")
    for version in ("1", "2"):
        (tflite / version / "committee_int8.tflite").unlink()
    assert default_model() == (os.path.join("saved_models", "committee", "3"), "the reference committee")
