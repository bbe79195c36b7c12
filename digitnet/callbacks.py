"""Callbacks that record a run: per-epoch history and the loss of every batch."""
from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import numpy as np

from digitnet.errors import TrainingError
from digitnet.files import read_csv_rows, write_csv


class RunLogger(keras.callbacks.Callback):
    """Writes history.csv and all_losses.csv at the end of every epoch.

    Keras reports a running mean of the loss over the epoch, weighted by batch
    size; the loss of each batch is recovered exactly from two successive
    means. With steps_per_execution > 1 each row covers that many batches.
    On a resumed run, rows of epochs that are being redone are dropped, so a
    kill mid-epoch neither loses nor duplicates rows.
    A NaN loss stops the run with a TrainingError naming the epoch and batch.
    """

    HISTORY = "history.csv"
    ALL_LOSSES = "all_losses.csv"

    def __init__(self, output_dir: Path, batch_size: int, num_examples: int, learning_rate: float, stage: str = "train"):
        super().__init__()
        self.output_dir = Path(output_dir)
        self.batch_size = batch_size
        self.num_examples = num_examples
        self.learning_rate = learning_rate
        self.stage = stage
        self.history_rows: list[dict] | None = None
        self.loss_rows: list[dict] = []

    def _load_kept_rows(self, first_epoch: int) -> None:
        def keep(row):
            return row["stage"] != self.stage or int(row["epoch"]) < first_epoch

        self.history_rows = [r for r in read_csv_rows(self.output_dir / self.HISTORY) if keep(r)]
        self.loss_rows = [r for r in read_csv_rows(self.output_dir / self.ALL_LOSSES) if keep(r)]

    def on_epoch_begin(self, epoch, logs=None):
        if self.history_rows is None:
            self._load_kept_rows(epoch)
        self._seen = 0
        self._mean = 0.0
        self._epoch = epoch
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        seen = min((batch + 1) * self.batch_size, self.num_examples)
        if not math.isfinite(mean):
            raise TrainingError(
                f"the loss became {mean} at epoch {self._epoch + 1}, batch {batch + 1} "
                f"(learning rate {self.learning_rate:g}); the model is not saved. "
                f"Try a smaller --learning-rate, e.g. {self.learning_rate / 10:g}"
            )
        batch_loss = (mean * seen - self._mean * self._seen) / max(seen - self._seen, 1)
        self.loss_rows.append(
            {"stage": self.stage, "epoch": self._epoch, "batch": batch, "step": len(self.loss_rows), "loss": batch_loss}
        )
        self._seen, self._mean = seen, mean

    def on_epoch_end(self, epoch, logs=None):
        row = {"stage": self.stage, "epoch": epoch, "seconds": round(time.perf_counter() - self._started, 3)}
        row.update({key: float(value) for key, value in sorted((logs or {}).items())})
        self.history_rows.append(row)
        history_header = list(dict.fromkeys(key for r in self.history_rows for key in r))
        write_csv(self.output_dir / self.HISTORY, history_header,
                  [[r.get(key, "") for key in history_header] for r in self.history_rows])
        loss_header = ["stage", "epoch", "batch", "step", "loss"]
        for step, r in enumerate(self.loss_rows):
            r["step"] = step
        write_csv(self.output_dir / self.ALL_LOSSES, loss_header, [[r[key] for key in loss_header] for r in self.loss_rows])


class CollapseGuard(keras.callbacks.Callback):
    """Stops a run whose output no longer depends on its input.

    When every ReLU of a layer dies, the model answers every image the same
    (an autoencoder outputs the mean image) and cannot recover; the loss stays
    finite, so only the outputs show it. Checked at each epoch's end on a few
    training images: one forward pass, no cost worth measuring.
    """

    # A trained model's outputs vary by tenths across images; a collapsed one's by float noise.
    MIN_SPREAD = 1e-4

    def __init__(self, probe_images, learning_rate: float):
        super().__init__()
        self.probe_images = probe_images
        self.learning_rate = learning_rate

    def on_epoch_end(self, epoch, logs=None):
        outputs = np.asarray(self.model(self.probe_images, training=False))
        spread = float(outputs.std(axis=0).max())
        if spread < self.MIN_SPREAD:
            raise TrainingError(
                f"the model collapsed by the end of epoch {epoch + 1}: its output is the same for every image "
                f"(largest spread across {len(outputs)} images: {spread:.1e}), usually because all units of a "
                f"ReLU layer died; the model is not saved. Try --warmup-epochs 1 or a smaller --learning-rate "
                f"than {self.learning_rate:g}"
            )
