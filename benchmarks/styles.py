"""What the style edits (--augment styles, digitnet/data/styles.py) cost: the images/s
each feed delivers with them against the images/s the model consumes.

    python benchmarks/styles.py [--models lenet] [--feeds tfdata,arrays] [--epochs 3] [--model-epochs 3]
    KERAS_BACKEND=jax python benchmarks/styles.py --feeds arrays --output styles_jax   # no TensorFlow needed

tfdata: training's own pipeline (make_dataset over the 60,000 MNIST training
images, shuffled, each batch augmented with a seed from (run seed, epoch,
batch), the map as training runs it), counted inside TensorFlow as model.fit
consumes it (augmentation.py's images_per_second), for "none", "affine" and
"styles".

arrays: the arrays feed's training batches (uint8 arrays converted per batch,
with their labels) through its training-only layers.RandomAffine drawing in
training mode, compiled as Keras compiles the training step (the same JIT
choice and steps per execution), each batch reduced to one number per image
on the device, so nothing but the edits and the feed is timed; for "affine"
and "styles", on this process' Keras backend.

The model's consumption: digitnet.training.loop.train on full data without
augmentation through the same feed, the median epoch after the first; then
the same with --augment styles, which says what the edits take away from
training on these cores. The target, per feed: the feed with styles delivers
at least 3x what the model consumes.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import keras
import numpy as np
from common import print_table, write_results

from digitnet.data.presets import get_augmentation
from digitnet.data.sources import load_digits
from digitnet.models.registry import get_spec
from digitnet.models.tasks import CLASSIFICATION
from digitnet.training.config import JIT_CHOICES, TrainConfig
from digitnet.training.feeds import FAST_STEPS_PER_EXECUTION, ArrayBatches
from digitnet.training.loop import train

FEEDS = {"tfdata": ("none", "affine", "styles"), "arrays": ("affine", "styles")}
TARGET = 3.0


def pipeline_rates(data, batch_size: int, passes: int) -> dict:
    """{preset: (images/s, images/CPU s)} of training's tf.data pipeline with each preset."""
    from augmentation import images_per_second  # TensorFlow loads here

    from digitnet.data.pipeline import epoch_variable, make_dataset

    rates = {}
    for preset in FEEDS["tfdata"]:
        dataset = make_dataset(data.train_images, data.train_labels, CLASSIFICATION, batch_size, shuffle_seed=0,
                               epoch=epoch_variable(), augment=preset)
        rates[preset] = images_per_second(dataset, passes)
    return rates


class Distortions(keras.Model):
    """The arrays feed's training-only RandomAffine alone, drawing as in training; one number per image out."""

    def __init__(self, preset: str):
        super().__init__()
        from digitnet.models.layers import RandomAffine

        self.distortion = RandomAffine(preset, seed=0)

    def call(self, inputs, training=None):
        images, labels = inputs
        return keras.ops.mean(self.distortion(images, labels, training=True), axis=(1, 2, 3))


def arrays_rates(data, batch_size: int, passes: int) -> dict:
    """{preset: (images/s, images/CPU s)} of the arrays feed's batches through its RandomAffine,
    medians over `passes` passes after a first one that compiles."""
    batches = ArrayBatches(data.train_images, data.train_labels, CLASSIFICATION, batch_size, seed=0, labelled=True)
    rates = {}
    for preset in FEEDS["arrays"]:
        model = Distortions(preset)
        model.compile(jit_compile=JIT_CHOICES[TrainConfig().jit_compile],
                      steps_per_execution=FAST_STEPS_PER_EXECUTION)
        wall, cpu = [], []
        for epoch in range(passes + 1):
            batches.start_epoch(epoch)
            started, cpu_started = time.perf_counter(), time.process_time()
            count = len(model.predict(batches, verbose=0))
            wall.append(count / (time.perf_counter() - started))
            cpu.append(count / (time.process_time() - cpu_started))
        rates[preset] = (float(np.median(wall[1:])), float(np.median(cpu[1:])))
    return rates


def training_rate(arch: str, augment: str, epochs: int, data, feed: str) -> tuple[float, float]:
    """(median seconds per epoch after the first, images/s) of a full-data training run through `feed`."""
    with tempfile.TemporaryDirectory() as folder:
        config = TrainConfig(arch=arch, epochs=epochs, augment=augment, feed=feed, output_dir=folder, verbose=0)
        result = train(config, data=data)
    # One stage: its median epoch after the first (loop.seconds_per_epoch).
    median = next(s for s in result.metrics["seconds_per_epoch"].values() if s)
    return median, len(data.train_images) / median


def measure(arch: str, feed: str, data, passes: int, model_epochs: int) -> dict:
    spec = get_spec(arch)
    rates = (pipeline_rates if feed == "tfdata" else arrays_rates)(data, spec.batch_size, passes)
    plain_seconds, consumed = training_rate(arch, "none", model_epochs, data, feed)
    styled_seconds, _ = training_rate(arch, "styles", model_epochs, data, feed)
    ratio = rates["styles"][0] / consumed
    return {"batch_size": spec.batch_size,
            "feed_images_per_second": {p: {"wall": w, "cpu": c} for p, (w, c) in rates.items()},
            "model_images_per_second": consumed, "seconds_per_epoch": {"none": plain_seconds, "styles": styled_seconds},
            "styles_over_model": ratio, "target": TARGET, "met": bool(ratio >= TARGET)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="lenet", help="comma-separated registered models")
    parser.add_argument("--feeds", default="tfdata,arrays", help="comma-separated feeds: tfdata, arrays")
    parser.add_argument("--epochs", type=int, default=3, help="feed passes timed (after one warm-up pass)")
    parser.add_argument("--model-epochs", type=int, default=3, help="training epochs per run (the first is warm-up)")
    parser.add_argument("--output", default="styles", help="results name (default styles)")
    args = parser.parse_args()
    if args.model_epochs < 2:
        parser.error(f"--model-epochs must be at least 2 (the first is warm-up), got {args.model_epochs}")
    feeds = args.feeds.split(",")
    if not feeds or any(feed not in FEEDS for feed in feeds):
        parser.error(f"--feeds takes {', '.join(FEEDS)}, got {args.feeds!r}")
    data = load_digits()
    load_before = os.getloadavg()[0]
    results, rows = {}, []
    for arch in args.models.split(","):
        results[arch] = {}
        for feed in feeds:
            found = results[arch][feed] = measure(arch, feed, data, args.epochs, args.model_epochs)
            rates = found["feed_images_per_second"]
            rows.append([arch, feed, *(f"{rates[p]['wall']:,.0f}" if p in rates else "-" for p in FEEDS["tfdata"]),
                         f"{found['model_images_per_second']:,.0f}", f"{found['styles_over_model']:.1f}x",
                         " / ".join(f"{s:.2f}" for s in found["seconds_per_epoch"].values())])
    print_table(f"feed images/s by preset (median of {args.epochs} passes) against the model's training images/s "
                f"through the same feed (median of {args.model_epochs - 1} epochs after the first), Keras on "
                f"{keras.backend.backend()}; target styles >= {TARGET:g}x the model",
                ["model", "feed", *(f"feed {p}" for p in FEEDS["tfdata"]), "model", "styles / model",
                 "s/epoch none / styles"], rows)
    write_results(args.output, {"parameters": get_augmentation("styles").describe(),
                                "keras_backend": keras.backend.backend(), "models": results,
                                "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]}})


if __name__ == "__main__":
    main()
