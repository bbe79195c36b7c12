"""The models committed in saved_models/ load and reach what their cards state.

Each model is run here directly (TensorFlow's SavedModel signature, LiteRT's
interpreter), not through the code that wrote the cards, and the cards are
checked against what these runs measure: on the whole test set, except a
superseded committee's TFLite files, which are run on a slice and held to
their SavedModel and to their card's size and differences."""
import functools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import tflite_probabilities

from digitnet.serving.runtimes import BATCH, load_predictor

ROOT = Path(__file__).resolve().parent.parent / "saved_models"
VARIANTS = ("float32", "dynamic_range", "int8")
# Test images on which digitnet's runtimes are compared with the direct runs: two batches, the last partial.
AGREEMENT_SLICE = BATCH + BATCH // 2


def _versions(name: str) -> list[str]:
    return sorted((v.name for v in (ROOT / name).iterdir() if v.name.isdigit()), key=int)


def _newest(name: str) -> str:
    return _versions(name)[-1]


# A committee's five to nine members make its runs the slow ones (35-80 s each on 2 cores for the whole test
# set). Every version's SavedModel is run on the whole test set; the TFLite files are, for LeNet and for the
# newest committee (what `predict` and the page use). A superseded committee's TFLite files are frozen with
# their SavedModel: test_superseded_committee_tflite_files_agree_with_their_saved_model runs them on a slice.
COMMITTEES = _versions("committee")
WITH_TFLITE = [*[("lenet", version) for version in _versions("lenet")],
               pytest.param("committee", _newest("committee"), marks=pytest.mark.slow)]
MODELS = [
    *[(ROOT / "lenet" / version, "saved_model") for version in _versions("lenet")],
    (ROOT / "bpnn" / "1", "saved_model"),
    *[(ROOT / "tflite" / "lenet" / version / f"lenet_{variant}.tflite", f"tflite_{variant}")
      for version in _versions("lenet") for variant in VARIANTS],
    *[pytest.param(ROOT / "committee" / version, "saved_model", marks=pytest.mark.slow) for version in COMMITTEES],
    *[pytest.param(ROOT / "tflite" / "committee" / _newest("committee") / f"committee_{variant}.tflite",
                   f"tflite_{variant}", marks=pytest.mark.slow) for variant in VARIANTS],
]
SUPERSEDED_TFLITE = [ROOT / "tflite" / "committee" / version / f"committee_{variant}.tflite"
                     for version in COMMITTEES[:-1] for variant in VARIANTS]


def _values(entry):
    return entry.values if hasattr(entry, "values") else entry


def _float_model(path: Path) -> Path:
    """saved_models/tflite/<name>/<v>/<file> -> saved_models/<name>/<v>, the SavedModel it was converted with."""
    return ROOT / path.parent.parent.name / path.parent.name


def saved_model_probabilities(folder, images):
    import tensorflow as tf

    serving = tf.saved_model.load(str(folder)).signatures["serving_default"]
    return np.concatenate([serving(images=tf.constant(images[i:i + 1000]))["probabilities"].numpy()
                           for i in range(0, len(images), 1000)])


@pytest.fixture(scope="module")
def probabilities(mnist):
    """Each committed model's outputs on the whole test set, computed once."""
    @functools.cache
    def run(path):
        runner = tflite_probabilities if path.suffix == ".tflite" else saved_model_probabilities
        return runner(path, mnist.test_images)
    return run


@pytest.mark.parametrize("path, key", MODELS, ids=[f"{k}:{p.parent.parent.name if p.suffix else p.parent.name}"
                                                     for p, k in map(_values, MODELS)])
def test_reference_model_reaches_its_card(path, key, mnist, probabilities):
    card_folder = path if path.is_dir() else path.parent
    card = json.loads((card_folder / "model_card.json").read_text())
    assert card["data"]["test_examples"] == len(mnist.test_images)  # the card's numbers are for the whole test set
    outputs = probabilities(path)
    # digitnet's runtimes agree with the direct runs; a slice is enough for that (the card's figures use them all)
    np.testing.assert_allclose(load_predictor(path)(mnist.test_images[:AGREEMENT_SLICE]), outputs[:AGREEMENT_SLICE],
                               atol=1e-6)
    accuracy = float(np.mean(np.argmax(outputs, axis=1) == mnist.test_labels))
    assert accuracy == pytest.approx(card["test_metrics"][key]["accuracy"], abs=1e-9)
    assert accuracy > 0.97
    if key.startswith("tflite"):  # its agreement with the float model it was converted from
        agreement = np.mean(np.argmax(outputs, 1) == np.argmax(probabilities(_float_model(path)), 1))
        assert agreement == pytest.approx(card["test_metrics"][key]["argmax_agreement"], abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("path", SUPERSEDED_TFLITE, ids=lambda p: f"{p.parent.name}:{p.stem}")
def test_superseded_committee_tflite_files_agree_with_their_saved_model(path, mnist, probabilities):
    """The file has the size its card states, and on the agreement slice, run directly by LiteRT, its outputs
    stay as close to the SavedModel's (whose whole-test-set figure test_reference_model_reaches_its_card
    checks) as the two cards' largest differences from the Keras model over the whole test set allow
    together; the card states an agreement of at least 0.99 and an accuracy within 0.3 points of the
    SavedModel's (figures of the whole test set that this slice does not measure)."""
    card = json.loads((path.parent / "model_card.json").read_text())
    variant = path.stem.removeprefix("committee_")
    assert path.stat().st_size == card["files"][f"tflite_{variant}_bytes"]
    images = mnist.test_images[:AGREEMENT_SLICE]
    outputs = tflite_probabilities(path, images)
    saved = probabilities(_float_model(path))[:AGREEMENT_SLICE]
    stated = card["test_metrics"][f"tflite_{variant}"]
    float_card = json.loads((_float_model(path) / "model_card.json").read_text())
    bound = stated["max_abs_difference"] + float_card["test_metrics"]["saved_model"]["max_abs_difference"]
    assert np.max(np.abs(outputs - saved)) <= bound + 1e-6
    assert np.mean(np.argmax(outputs, 1) == np.argmax(saved, 1)) >= 0.99
    assert stated["argmax_agreement"] >= 0.99
    assert abs(stated["accuracy"] - float_card["test_metrics"]["saved_model"]["accuracy"]) <= 0.003


@pytest.mark.parametrize("name,version", WITH_TFLITE)
def test_int8_stays_within_0_3_points_of_float32(name, version, mnist, probabilities):
    tflite = ROOT / "tflite" / name / version
    float32, int8 = (probabilities(tflite / f"{name}_{variant}.tflite") for variant in ("float32", "int8"))
    float_model = np.argmax(probabilities(ROOT / name / version), 1)
    assert np.mean(np.argmax(float32, 1) == float_model) >= 0.999

    def accuracy(outputs):
        return float(np.mean(np.argmax(outputs, 1) == mnist.test_labels))

    assert abs(accuracy(int8) - accuracy(float32)) <= 0.003


@pytest.mark.parametrize("path", [p for p, key in map(_values, MODELS) if p.suffix == ".tflite"] + SUPERSEDED_TFLITE,
                         ids=lambda p: f"{p.parent.parent.name}{p.parent.name}:{p.name}")
def test_the_card_states_each_tflite_files_quantization(path):
    """The web demo quantizes inputs and dequantizes outputs with the card's figures (LiteRT.js shows none)."""
    from digitnet.serving.runtimes import TFLitePredictor

    card = json.loads((path.parent / "model_card.json").read_text())
    variant = path.stem.removeprefix(card["name"] + "_")
    interpreter = TFLitePredictor(path).interpreter
    for side, details in (("input", interpreter.get_input_details()[0]), ("output", interpreter.get_output_details()[0])):
        stated = card["tflite_io"][variant][side]
        assert stated["dtype"] == np.dtype(details["dtype"]).name
        if details["dtype"] != np.float32:
            assert (stated["scale"], stated["zero_point"]) == pytest.approx(details["quantization"], abs=0)


def test_every_model_that_tf_serving_is_told_to_serve_is_committed():
    """export/models.config names base paths under /models (saved_models/ mounted there):
    each must hold a numbered version with a SavedModel, or TF Serving starts without that model."""
    import re

    config = (ROOT.parent / "export" / "models.config").read_text()
    served = re.findall(r'name: "(\w+)"\s+base_path: "/models/(\w+)"', config)
    assert {name for name, _ in served} >= {"committee", "lenet", "bpnn"}
    for name, folder in served:
        assert name == folder
        versions = [v for v in (ROOT / folder).iterdir() if v.name.isdigit()]
        assert versions and all((v / "saved_model.pb").is_file() for v in versions), folder


def test_every_committed_model_file_stays_small_enough_for_git():
    """A committee's variables are written in shards (saved_model.MAX_SHARD_BYTES): no file under
    saved_models/ reaches 20 MiB, the size at which a repository stops being easy to clone and mirror."""
    files = [path for path in ROOT.rglob("*") if path.is_file()]
    assert any(path.name == "saved_model.pb" for path in files), f"no SavedModel under {ROOT}"
    assert {str(path.relative_to(ROOT)): path.stat().st_size for path in files if path.stat().st_size >= 20 * 2**20} == {}
