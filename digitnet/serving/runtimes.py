"""One interface over the three model formats: .keras, SavedModel, .tflite.

Each predictor takes uint8 images [N, 28, 28] (MNIST polarity) and returns
the model's first output as float32: probabilities [N, 10] for classifiers,
reconstructions for autoencoders. Only the .keras and SavedModel predictors
import TensorFlow; a .tflite file runs on LiteRT alone, which starts in a
fraction of the time. Loading a model is where the native libraries write
their notices (CUDA's cuInit, LiteRT's XNNPACK delegate) straight to file
descriptor 2: commands hide them (digitnet.core.quiet) unless --debug.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from digitnet.core import quiet
from digitnet.core.errors import DataError
from digitnet.core.images import EVAL_BATCH, to_model_input

BATCH = EVAL_BATCH


def load_keras_model(path: str | os.PathLike):
    """A .keras file as a Keras model, or a DataError naming the file and what is wrong."""
    import keras

    import digitnet.models.layers  # noqa: F401 (registers digitnet's own layers, which saved models may hold)

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such model file (expected a .keras file, e.g. runs/lenet/model.keras)")
    try:
        with quiet.native_stderr():
            return keras.models.load_model(path)
    except Exception as error:  # Keras raises many types for a bad archive
        raise DataError(f"{path}: not a loadable Keras model ({type(error).__name__}: {error})") from None


class KerasPredictor:
    def __init__(self, path: Path):
        from digitnet.models.registry import describe_model

        self.model = load_keras_model(path)
        self.task = describe_model(self.model)[0]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        # predict_on_batch per chunk: model.predict sets up a whole input pipeline on
        # each call, about 100 ms, which `predict` would pay for each file.
        images = to_model_input(images)
        return np.concatenate([np.asarray(self.model.predict_on_batch(images[i:i + BATCH]))
                               for i in range(0, len(images), BATCH)])


class SavedModelPredictor:
    def __init__(self, path: Path):
        import tensorflow as tf

        try:
            with quiet.native_stderr():
                self.signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        except (OSError, ValueError, KeyError) as error:
            raise DataError(f"{path}: not a SavedModel with a serving_default signature ({error})") from None
        from digitnet.models.tasks import PRIMARY_OUTPUTS

        outputs = self.signature.structured_outputs
        self.output = next((name for name in PRIMARY_OUTPUTS if name in outputs), None)
        if self.output is None:
            raise DataError(f"{path}: serving_default has outputs {sorted(outputs)}, none of {PRIMARY_OUTPUTS}")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        parts = [self.signature(images=tf.constant(images[i:i + BATCH]))[self.output].numpy()
                 for i in range(0, len(images), BATCH)]
        return np.concatenate(parts)


class TFLitePredictor:
    """Runs a .tflite file with LiteRT, one image at a time (its batch is 1)."""

    def __init__(self, path: Path):
        from ai_edge_litert.interpreter import Interpreter

        try:
            with quiet.native_stderr():
                self.interpreter = Interpreter(model_path=str(path))
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise DataError(f"{path}: not a loadable TFLite model ({error})") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.latencies: list[float] = []
        # A quantised input value depends on the uint8 pixel alone (256 values):
        # computed once here, looked up for each image.
        self._pixel_inputs = (None if self.input["dtype"] == np.float32
                              else self._quantize(np.arange(256, dtype=np.uint8)))

    def _quantize(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels -> the model's input values: [0, 1] floats, quantised by the input's scale and zero point."""
        values = pixels.astype(np.float32) / 255.0
        scale, zero_point = self.input["quantization"]
        if self.input["dtype"] == np.float32:
            return values
        info = np.iinfo(self.input["dtype"])
        return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(self.input["dtype"])

    def _quantize_input(self, image: np.ndarray) -> np.ndarray:
        if self._pixel_inputs is not None and image.dtype == np.uint8:
            return np.take(self._pixel_inputs, image)[None, :, :, None]
        return self._quantize(image)[None, :, :, None]

    def _dequantize_output(self, values: np.ndarray) -> np.ndarray:
        scale, zero_point = self.output["quantization"]
        if self.output["dtype"] == np.float32:
            return values
        return (values.astype(np.float32) - zero_point) * scale

    def io_spec(self) -> dict:
        """{"input"|"output": {"dtype", "scale", "zero_point"}}: how values map to real numbers
        (real = scale * (value - zero_point); float32 tensors have scale 1, zero point 0)."""
        def spec(details: dict) -> dict:
            scale, zero_point = details["quantization"]
            quantized = details["dtype"] != np.float32
            return {"dtype": np.dtype(details["dtype"]).name, "scale": float(scale) if quantized else 1.0,
                    "zero_point": int(zero_point) if quantized else 0}
        return {"input": spec(self.input), "output": spec(self.output)}

    def __call__(self, images: np.ndarray) -> np.ndarray:
        outputs = []
        for image in images:
            self.interpreter.set_tensor(self.input["index"], self._quantize_input(image))
            started = time.perf_counter()
            self.interpreter.invoke()
            self.latencies.append(time.perf_counter() - started)
            outputs.append(self._dequantize_output(self.interpreter.get_tensor(self.output["index"]))[0])
        return np.stack(outputs)


def load_predictor(path: str | os.PathLike):
    """Picks the runtime from what `path` is: a folder with saved_model.pb, a .keras or a .tflite file."""
    path = Path(path)
    if path.is_dir() and (path / "saved_model.pb").exists():
        return SavedModelPredictor(path)
    loaders = {".keras": KerasPredictor, ".tflite": TFLitePredictor}
    if path.is_file() and path.suffix in loaders:
        return loaders[path.suffix](path)
    raise DataError(f"{path}: not a model: expected a SavedModel folder (holding saved_model.pb), "
                    f"a .keras file or a .tflite file")


# The reference models tried without --model, best first: (folder under saved_models/,
# the file in each <version>/ folder, or "" for a SavedModel, how the command names it).
# The int8 TFLite committee gives the SavedModel's answer on every MNIST test digit
# (benchmarks/predict_latency.py --agreement) and needs no TensorFlow.
REFERENCE_MODELS = (
    ("tflite/committee", "committee_int8.tflite", "the reference committee, int8 TFLite"),
    ("committee", "", "the reference committee"),
    ("tflite/lenet", "lenet_int8.tflite", "the reference LeNet, int8 TFLite"),
    ("lenet", "", "the reference LeNet"),
)


def _newest(base: Path, file: str) -> Path | None:
    """base/<highest version>/file (the version folder itself for a SavedModel), among the versions that have it."""
    if not base.is_dir():
        return None
    found = [(int(p.name), p / file if file else p) for p in base.iterdir() if p.name.isdigit() and p.is_dir()]
    found = [(version, path) for version, path in found
             if (path.is_file() if file else (path / "saved_model.pb").exists())]
    return max(found)[1] if found else None


# A source checkout's reference models: its digitnet/ sits beside its saved_models/.
CHECKOUT_MODELS = Path(__file__).resolve().parents[2] / "saved_models"


def reference_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """Where reference models are looked for, in order: `root` alone when given; else
    ./saved_models, then the saved_models/ of the checkout that digitnet runs from (`pip install
    -e .` leaves it there), so that `predict` finds them from any folder."""
    if root is not None:
        return [Path(root)]
    here = Path("saved_models")
    return [here] + ([CHECKOUT_MODELS] if CHECKOUT_MODELS.is_dir() and CHECKOUT_MODELS != here.resolve() else [])


def default_model(root: str | os.PathLike | None = None) -> tuple[str, str]:
    """(path, description) of the newest version of the best reference model in the first of
    reference_roots(root) that holds one."""
    roots = reference_roots(root)
    for base in roots:
        for folder, file, description in REFERENCE_MODELS:
            path = _newest(base / folder, file)
            if path is not None:
                return str(path), description
    raise DataError(f"no --model given and no reference model under {' or '.join(f'{r}/' for r in roots)} "
                    f"({' or '.join(f'{folder}/<version>/{file}' for folder, file, _ in REFERENCE_MODELS)}): give "
                    "--model, or export one with `python -m digitnet.train --arch lenet --export saved_model,tflite`")
