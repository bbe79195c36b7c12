"""digitnet's own layers: DigitWidth normalises digit widths, is saved, loaded and exported with the model."""
import json
import re

import keras
import numpy as np
import pytest
from conftest import QUICK_TRAIN, quick_train_args, run_python, run_train

from digitnet.core.errors import ConfigError
from digitnet.core.images import to_model_input
from digitnet.models.builders import with_digit_width
from digitnet.models.layers import DigitWidth, resampling_table
from digitnet.models.registry import REGISTRY

INK = 0.2  # DigitWidth's default threshold


def ink_columns(images: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(column) for column in images.max(axis=(1, 3)) > INK]


@pytest.mark.parametrize("width", [8, 12, 20])
def test_every_digit_comes_out_width_pixels_wide_centred_in_range(width, mnist):
    images = to_model_input(mnist.test_images[:200])
    spans_before = [c[-1] - c[0] + 1 for c in ink_columns(images)]
    assert min(spans_before) < width - 2 and max(spans_before) > min(width, 19)  # some stretched, some squeezed
    out = np.asarray(DigitWidth(width)(images))
    assert out.shape == images.shape
    for before, columns in zip(spans_before, ink_columns(out)):
        if before >= width / 2:  # a greater stretch also widens the faint edge past the threshold
            assert abs(columns[-1] - columns[0] + 1 - width) <= 3, (before, columns)
        assert abs((columns[0] + columns[-1]) / 2 - 13.5) <= 1
    assert out.min() >= 0 and np.all(out.max(axis=(1, 2, 3)) <= images.max(axis=(1, 2, 3)) + 1e-6)
    # Rows are not moved: the ink's first and last rows stay where they were.
    rows = lambda x: [np.flatnonzero(r)[[0, -1]] for r in x.max(axis=(2, 3)) > INK]  # noqa: E731
    assert all(np.abs(a - b).max() <= 1 for a, b in zip(rows(images), rows(out)))


def test_an_image_without_ink_passes_unchanged():
    faint = np.full((2, 28, 28, 1), 0.1, np.float32)
    faint[1] = 0
    np.testing.assert_allclose(np.asarray(DigitWidth(14)(faint)), faint, atol=1e-6)


@pytest.mark.parametrize("width", [3, 29, 12.0, True, "14"])
def test_bad_widths_are_refused_with_the_value(width):
    with pytest.raises(ConfigError, match=re.escape(f"width must be an integer from 4 to 28 pixels, received {width!r}")):
        DigitWidth(width)


def test_bad_thresholds_are_refused_and_a_threshold_survives_the_config():
    with pytest.raises(ConfigError, match="threshold must be a number in \\[0, 1\\), received 1.5"):
        DigitWidth(14, threshold=1.5)
    restored = DigitWidth.from_config(DigitWidth(14, threshold=0.5).get_config())
    assert (restored.width, restored.threshold) == (14, 0.5)


def test_the_table_keeps_blank_images_and_mixes_whole_pixels():
    table = resampling_table(14)
    assert table.shape == (28 * 28 + 1, 28, 28)
    np.testing.assert_allclose(table[-1], np.eye(28), atol=1e-6)  # no ink: the identity
    spans_5_to_20 = table[5 * 28 + 20]  # [input column, output column]
    np.testing.assert_allclose(spans_5_to_20.sum(axis=0)[7:21], 1, atol=1e-6)  # 14 output columns, 7..20
    # Those 14 columns read the ink's columns only.
    assert np.all(spans_5_to_20[:5, 7:21] == 0) and np.all(spans_5_to_20[21:, 7:21] == 0)


def test_the_wrapped_model_keeps_its_name_and_a_fresh_process_loads_it(tmp_path, mnist):
    model = with_digit_width(REGISTRY["lenet"].build(), 14)
    assert model.name == "lenet" and model.get_layer("digit_width").width == 14
    path = tmp_path / "model.keras"
    model.save(path)
    images = to_model_input(mnist.test_images[:16])
    np.save(tmp_path / "images.npy", images)
    expected = model.predict(images, verbose=0)
    # A fresh process that has not imported digitnet's layers: the loader must register them.
    done = run_python("import numpy as np; from digitnet.serving.runtimes import load_keras_model; "
                      f"m = load_keras_model({str(path)!r}); "
                      f"np.save({str(tmp_path / 'out.npy')!r}, m.predict(np.load({str(tmp_path / 'images.npy')!r}), verbose=0))")
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)


@pytest.mark.parametrize("arch", ["autoencoder", "ae_classifier"])
def test_digit_width_is_refused_for_models_it_does_not_fit(arch, capsys, tmp_path):
    from conftest import run_train_cli

    # Tiny data: a missing refusal trains for seconds, not minutes, before the assertion fails.
    tiny = [*QUICK_TRAIN, "--train-examples", "8", "--pretrain-epochs", "1", "--output-dir", str(tmp_path)]
    assert run_train_cli(["--arch", arch, "--digit-width", "14", *tiny]) == 2
    assert f"--digit-width applies to classifiers trained in one stage; {arch} is not one" in capsys.readouterr().err


def test_a_bad_width_is_refused_by_the_command(capsys):
    from conftest import run_train_cli

    assert run_train_cli(["--arch", "lenet", "--digit-width", "40"]) == 2
    assert "received 40" in capsys.readouterr().err


@pytest.mark.slow
def test_a_width_normalised_run_trains_and_its_exports_agree(tmp_path, mnist):
    import tensorflow as tf

    from digitnet.serving.exporters import export_model
    from digitnet.serving.runtimes import TFLitePredictor

    # 3,000 digits: answers confident enough that int8's rounding flips few of them
    # (300 digits: 97-100 % kept; the run-time arithmetic this layer replaced kept 87 %).
    run_train(["--arch", "bpnn", "--digit-width", "16", *quick_train_args(train=3000, test=100),
               "--output-dir", str(tmp_path / "run")])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["config"]["digit_width"] == 16
    assert (tmp_path / "run" / "digit_width.png").stat().st_size > 1000  # the digits as the model reads them
    data = mnist.take_test(200)
    written = export_model(tmp_path / "run" / "model.keras", ["saved_model", "tflite"], tmp_path / "out", data,
                           log=lambda *a: None)
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert model.get_layer("digit_width").width == 16
    reference = model.predict(to_model_input(data.test_images), verbose=0)
    served = tf.saved_model.load(str(written["saved_model"])).signatures["serving_default"](
        images=tf.constant(data.test_images))
    np.testing.assert_allclose(served["probabilities"].numpy(), reference, atol=1e-5)
    np.testing.assert_allclose(TFLitePredictor(written["tflite"]["float32"])(data.test_images), reference, atol=1e-5)
    int8 = TFLitePredictor(written["tflite"]["int8"])(data.test_images)
    kept = np.mean(np.argmax(int8, 1) == np.argmax(reference, 1))
    assert kept >= 0.98, kept
