"""How the images reach the training loop: what loop.py asks of a feed, and the arrays feed.

A feed turns uint8 digit arrays into what `model.fit` and `model.evaluate`
read, and owns what depends on where the model runs: the device scope, the
workers and how they agree, seeding for determinism, and what trained the
run. Two feeds implement the same methods:

- tfdata_feed.TFDataFeed (--feed tfdata): the tf.data pipeline under a
  tf.distribute strategy, augmentation inside the pipeline. Needs TensorFlow.
- ArrayFeed (--feed arrays, below): in-memory arrays on one device, for any
  Keras backend, so that digitnet trains where Keras on JAX runs without
  TensorFlow. Imports no TensorFlow.

Both shuffle each epoch by (seed, epoch) alone, so a run killed and resumed in
a new process sees the same order in every epoch as one left alone; their
orders differ from each other (TensorFlow's stateless shuffle here, NumPy's
generator there).
"""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import ContextManager, Protocol

import keras
import numpy as np

from digitnet.core.images import INPUT_SHAPE, to_model_input
from digitnet.data.presets import get_augmentation
from digitnet.models.tasks import Task
from digitnet.training.config import TrainConfig

# Batches per compiled call on one device, when --steps-per-execution is left out:
# the same updates and per-batch losses as 1, fewer Python round trips.
FAST_STEPS_PER_EXECUTION = 10
ARRAYS_TRAINER = "digitnet.train --feed arrays"


@dataclasses.dataclass
class Batches:
    """What one run trains and tests on, in the form its feed gives to model.fit and model.evaluate."""

    train: object
    validation: object | None
    test: object
    # The uint8 training images after the validation split (steps per epoch, the collapse probe).
    train_images: np.ndarray
    # Tells the training batches which epoch starts (callbacks.SetFeedEpoch calls it).
    start_epoch: Callable[[int], None]


class Feed(Protocol):
    """What the training loop asks of a feed (ArrayFeed here, tfdata_feed.TFDataFeed)."""

    name: str
    # This process's place among the run's workers (0: the chief, which writes the run folder).
    worker_index: int

    def steps_per_execution(self, requested: int | None) -> int: ...
    def gather_rows(self, row: list[float]) -> list[list[float]]: ...  # every worker's row (resume.py)
    def scope(self) -> ContextManager: ...  # where variables are made (a strategy's scope)
    def naming_lost_peers(self) -> ContextManager: ...  # a lost multi-worker peer said in one line
    def seed(self, config: TrainConfig) -> None: ...
    def trained_by(self) -> dict: ...  # config.json and metrics.json
    def library_versions(self) -> dict: ...  # config.json
    def train_batches(self, images: np.ndarray, labels: np.ndarray, task: Task,
                      config: TrainConfig) -> tuple[object, Callable[[int], None]]: ...
    def eval_batches(self, images: np.ndarray, labels: np.ndarray, task: Task, config: TrainConfig) -> object: ...
    def training_model(self, model: keras.Model, config: TrainConfig) -> keras.Model: ...
    def draw_augmentation(self, images: np.ndarray, preset: str, path, seed: int, labels: np.ndarray) -> None: ...


def epoch_order(count: int, seed: int, epoch: int) -> np.ndarray:
    """The order of `count` examples in `epoch`: a function of (seed, epoch) only."""
    # SeedSequence takes non-negative entropy; a negative seed maps to its own 64-bit value.
    return np.random.default_rng([seed % 2**64, epoch]).permutation(count)


class ArrayBatches(keras.utils.PyDataset):
    """(inputs, targets) batches of uint8 arrays, converted per batch: in order, or, with
    `seed`, in epoch_order(seed, epoch) for the epoch set by start_epoch (the last batch smaller).
    With `labelled`, the inputs are (images, labels), for a LabelledTrainer."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, task: Task, batch_size: int, seed: int | None = None,
                 labelled: bool = False):
        # One worker, no processes: batches are made in order, on demand, in this thread.
        super().__init__(workers=1, use_multiprocessing=False)
        self.images, self.labels = images, labels.astype(np.int32)
        self.task, self.batch_size, self.seed, self.labelled = task, batch_size, seed, labelled
        self.order = np.arange(len(images))

    def start_epoch(self, epoch: int) -> None:
        if self.seed is not None:
            self.order = epoch_order(len(self.images), self.seed, epoch)

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index: int):
        chosen = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        inputs, targets = self.task.make_targets(to_model_input(self.images[chosen]), self.labels[chosen])
        return ((inputs, self.labels[chosen]), targets) if self.labelled else (inputs, targets)


class LabelledTrainer(keras.Model):
    """`model` behind a training-only RandomAffine whose preset has style edits, which depend
    on each digit's label (an up-stroke on 1s only): called on (images, labels) while it
    trains (labelled ArrayBatches), on images alone otherwise (evaluation, validation, the
    callbacks' probes), where the layer passes the images unchanged.

    The edits run here rather than in the feed's batch making: inside the compiled
    training step on the device, with the model's seeded random state (saved with each
    epoch's backup), on every backend. Never saved itself: the model saved is `model`."""

    def __init__(self, model: keras.Model, distortion: keras.layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.inner, self.distortion = model, distortion

    def call(self, inputs, training=None):
        images, labels = inputs if isinstance(inputs, (tuple, list)) else (inputs, None)
        return self.inner(self.distortion(images, labels, training=training), training=training)


class ArrayFeed:
    """In-memory arrays on the one device Keras finds, on any backend; no TensorFlow imported.

    The registered augmentation is drawn by layers.RandomAffine, a training-only
    first layer of the model that is trained (training_model); the model saved
    is the one inside it. With style edits the training batches carry the labels
    to it (LabelledTrainer). Elastic presets are refused (TrainConfig.validate)."""

    name = "arrays"
    worker_index = 0

    def steps_per_execution(self, requested: int | None) -> int:
        return FAST_STEPS_PER_EXECUTION if requested is None else requested

    def gather_rows(self, row: list[float]) -> list[list[float]]:
        """Every worker's row: on one device, this one's."""
        return [list(row)]

    def scope(self):
        return contextlib.nullcontext()

    def naming_lost_peers(self):
        return contextlib.nullcontext()

    def seed(self, config: TrainConfig) -> None:
        keras.utils.set_random_seed(config.seed)
        if config.deterministic:
            make_backend_deterministic()

    def trained_by(self) -> dict:
        """What config.json and metrics.json say trained the run."""
        return {"trainer": ARRAYS_TRAINER, "keras_backend": keras.backend.backend(), "keras": keras.__version__}

    def library_versions(self) -> dict:
        return {}

    def train_batches(self, images: np.ndarray, labels: np.ndarray, task: Task, config: TrainConfig):
        """(the training batches, the function that tells them which epoch starts)."""
        batches = ArrayBatches(images, labels, task, config.batch_size, seed=config.seed,
                               labelled=get_augmentation(config.augment).has_styles)
        return batches, batches.start_epoch

    def eval_batches(self, images: np.ndarray, labels: np.ndarray, task: Task, config: TrainConfig) -> ArrayBatches:
        return ArrayBatches(images, labels, task, config.batch_size)

    def training_model(self, model: keras.Model, config: TrainConfig) -> keras.Model:
        """`model` behind the training-only RandomAffine of config.augment (`model` itself without one);
        a LabelledTrainer where the preset's style edits read the labels."""
        if config.augment == "none":
            return model
        from digitnet.models.layers import RandomAffine

        distortion = RandomAffine(config.augment, seed=config.seed, name="random_affine")
        if get_augmentation(config.augment).has_styles:
            return LabelledTrainer(model, distortion, name=f"{model.name}_training")
        inputs = keras.Input(INPUT_SHAPE, name="images")
        return keras.Model(inputs, model(distortion(inputs)), name=f"{model.name}_training")

    def draw_augmentation(self, images: np.ndarray, preset: str, path, seed: int, labels: np.ndarray,
                          versions: int = 6) -> None:
        """The training `images` beside copies drawn by a RandomAffine of the preset seeded
        with `seed`, the layer that distorts this feed's training batches (any backend)."""
        from digitnet.data.augment_figure import augmentation_grid
        from digitnet.models.layers import RandomAffine

        layer = RandomAffine(preset, seed=seed)
        inputs, label_tensor = to_model_input(images), keras.ops.convert_to_tensor(labels.astype(np.int32))
        copies = [keras.ops.convert_to_numpy(layer(inputs, label_tensor, training=True))[..., 0]
                  for _ in range(versions)]
        augmentation_grid(images, preset, path, seed=seed, labels=labels, augmented=np.stack(copies, axis=1))


def make_backend_deterministic() -> None:
    """Bit-identical results for the same seed where the backend offers a switch: TensorFlow's op
    determinism, XLA's deterministic GPU ops for JAX (before JAX first uses a device; JAX on a CPU
    is deterministic), PyTorch's deterministic algorithms."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "jax":
        import os

        flag = "--xla_gpu_deterministic_ops=true"
        if flag not in os.environ.get("XLA_FLAGS", ""):
            os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True)
