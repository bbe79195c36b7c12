"""The tf.data feed (--feed tfdata): the input pipeline under a tf.distribute strategy.

The methods are those of feeds.ArrayFeed (feeds.py says what the loop asks of
a feed); this one needs TensorFlow. The strategy is created first, before any
other TensorFlow op, as MultiWorkerMirroredStrategy requires; augmentation is
drawn inside the pipeline from (seed, epoch, batch); several workers agree
through one all-reduce, and a lost peer is named in one line.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from digitnet.core.errors import TrainingError
from digitnet.data.pipeline import epoch_variable, make_dataset
from digitnet.models.tasks import Task
from digitnet.training import distribute
from digitnet.training.config import TrainConfig


class TFDataFeed:
    name = "tfdata"

    def __init__(self, config: TrainConfig, strategy: tf.distribute.Strategy | None = None):
        """`strategy` overrides config.strategy (for example a MirroredStrategy over chosen devices)."""
        self.strategy = strategy or distribute.make_strategy(config.strategy)
        self.worker_index = distribute.worker_index(self.strategy)

    def steps_per_execution(self, requested: int | None) -> int:
        return distribute.steps_per_execution_for(self.strategy, requested)

    def gather_rows(self, row: list[float]) -> list[list[float]]:
        return distribute.gather_rows(self.strategy, row)

    def scope(self):
        return self.strategy.scope()

    def naming_lost_peers(self):
        return _NamingLostPeers()

    def seed(self, config: TrainConfig) -> None:
        keras.utils.set_random_seed(config.seed)
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()

    def trained_by(self) -> dict:
        """Nothing beyond the library versions: digitnet.train's feed is the default."""
        return {}

    def library_versions(self) -> dict:
        return {"tensorflow": tf.__version__, "keras": keras.__version__}

    def train_batches(self, images: np.ndarray, labels: np.ndarray, task: Task, config: TrainConfig):
        """(the training dataset, the function that tells it which epoch starts)."""
        epoch = epoch_variable()
        dataset = make_dataset(images, labels, task, config.batch_size, shuffle_seed=config.seed, epoch=epoch,
                               augment=config.augment)
        return dataset, epoch.assign

    def eval_batches(self, images: np.ndarray, labels: np.ndarray, task: Task, config: TrainConfig) -> tf.data.Dataset:
        return make_dataset(images, labels, task, config.batch_size)

    def training_model(self, model: keras.Model, config: TrainConfig) -> keras.Model:
        """`model` itself: the pipeline draws the augmentation."""
        return model

    def draw_augmentation(self, images: np.ndarray, preset: str, path, seed: int, labels: np.ndarray) -> None:
        """The training `images` beside augmented copies; their `labels` let style edits draw each digit's strokes."""
        from digitnet.data.augment_figure import augmentation_grid

        augmentation_grid(images, preset, path, seed=seed, labels=labels)


class _NamingLostPeers:
    """Turns TensorFlow's error for a multi-worker peer that stopped answering into one TrainingError."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if not isinstance(error, tf.errors.OpError):
            return False
        peer = distribute.name_missing_peer(error)
        if peer is None:
            return False
        raise TrainingError(f"{peer} stopped answering, so this worker stops too; the last completed epoch is "
                            "kept: run the same command on every worker again to resume") from None
