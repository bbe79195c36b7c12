"""Images per second that the tf.data pipeline delivers with each augmentation
preset (digitnet/data/augment.py), and what the elastic field's smoothing costs.

    python benchmarks/augmentation.py [--epochs 3]

The pipeline is training's own (make_dataset with a preset: batches of 128
over the 60,000 MNIST training images, shuffled, each batch augmented with a
seed from (run seed, epoch, batch index)). The target: at least 3x what a ~300k
parameter CNN consumes on this machine, i.e. well over 5,000 images/s.
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import tensorflow as tf
from common import print_table, write_results

from digitnet.data.augment import elastic_field, smoothing_matrix
from digitnet.data.pipeline import epoch_variable, make_dataset
from digitnet.data.presets import AUGMENTATIONS
from digitnet.data.sources import load_digits
from digitnet.models.tasks import CLASSIFICATION

BATCH_SIZE = 128
ALPHA, SIGMA = AUGMENTATIONS["elastic"].elastic_alpha, AUGMENTATIONS["elastic"].elastic_sigma
MAP_SETTINGS = {"sequential map": None, "map on 2 threads": 2}


def augmented_dataset(data, preset: str, map_parallelism) -> tf.data.Dataset:
    """digitnet's training pipeline, shuffled and augmented with `preset`."""
    return make_dataset(data.train_images, data.train_labels, CLASSIFICATION, BATCH_SIZE, shuffle_seed=0,
                        epoch=epoch_variable(), augment=preset, map_parallelism=map_parallelism)


def images_per_second(dataset: tf.data.Dataset, epochs: int) -> tuple[float, float]:
    """Images per second of wall time and per CPU second of this process,
    medians over `epochs` full passes after a first one that builds the
    pipeline, counted inside TensorFlow (Dataset.reduce) as model.fit consumes
    it. CPU time is the steadier of the two where other processes share the
    cores; it also says what augmentation takes away from training."""
    wall, cpu = [], []
    for _ in range(epochs + 1):
        started, cpu_started = time.perf_counter(), time.process_time()
        count = int(dataset.reduce(0, lambda total, batch: total + tf.shape(batch[0])[0]))
        wall.append(count / (time.perf_counter() - started))
        cpu.append(count / (time.process_time() - cpu_started))
    return float(np.median(wall[1:])), float(np.median(cpu[1:]))


def per_pixel_conv_field(seed):
    """Simard's field by a separable depthwise convolution (kernel to 3 sigma)."""
    noise = tf.random.stateless_uniform([BATCH_SIZE, 28, 28, 2], seed, -1.0, 1.0)
    radius = math.ceil(3 * SIGMA)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / SIGMA) ** 2)
    kernel = np.tile((kernel / kernel.sum())[:, None, None], (1, 2, 1)).astype(np.float32)
    smooth = tf.nn.depthwise_conv2d(noise, tf.constant(kernel[None]), [1, 1, 1, 1], "SAME")
    return ALPHA * tf.nn.depthwise_conv2d(smooth, tf.constant(kernel[:, None]), [1, 1, 1, 1], "SAME")


def upsampled_field(seed):
    """Noise on a 7x7 grid, smoothed and upsampled by one bicubic resize: the
    low-resolution shortcut. Scaled to about Simard's standard deviation at the
    centre, sqrt(1/3) x the sum of squared 1-D weights squared (the resize
    roughly keeps uniform noise's sqrt(1/3))."""
    noise = tf.random.stateless_uniform([BATCH_SIZE, 7, 7, 2], seed, -1.0, 1.0)
    scale = ALPHA * float((smoothing_matrix(28, SIGMA) ** 2).sum(axis=1).max())
    return scale * tf.image.resize(noise, [28, 28], "bicubic")


FIELDS = {
    "lattice noise, 2 matmuls (used)": lambda seed: elastic_field((BATCH_SIZE, 28, 28), seed, ALPHA, SIGMA),
    "per-pixel noise, 2 matmuls": lambda seed: elastic_field((BATCH_SIZE, 28, 28), seed, ALPHA, SIGMA, spacing=1),
    "per-pixel noise, depthwise conv": per_pixel_conv_field,
    "7x7 noise, bicubic upsampling": upsampled_field,
}


def milliseconds_per_batch(make_field, repeats: int = 7, batches: int = 100) -> tuple[float, float]:
    """Median ms per batch of 128 fields (one tf.function runs `batches` of them,
    so Python's call overhead is not measured), and the field's roughness:
    mean neighbour difference over mean magnitude."""
    @tf.function
    def run():
        total = tf.constant(0.0)
        for index in tf.range(batches):
            total += tf.reduce_sum(make_field(tf.stack([tf.cast(index, tf.int64), tf.constant(1, tf.int64)])))
        return total

    run()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run().numpy()
        seconds.append((time.perf_counter() - started) / batches)
    field = make_field(tf.constant([0, 1], tf.int64)).numpy()
    roughness = np.abs(np.diff(field, axis=1)).mean() / np.abs(field).mean()
    return float(np.median(seconds)) * 1e3, float(roughness)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    data = load_digits()
    load_before = os.getloadavg()[0]  # other processes on the 2 cores slow every number here
    rows, presets = [], {}
    for preset, augmentation in AUGMENTATIONS.items():
        presets[preset] = {"parameters": augmentation.describe()}
        for setting, parallelism in MAP_SETTINGS.items():
            rate, cpu_rate = images_per_second(augmented_dataset(data, preset, parallelism), args.epochs)
            presets[preset][setting] = {"images_per_second": rate, "images_per_cpu_second": cpu_rate}
            rows.append([preset, setting, f"{rate:,.0f}", f"{cpu_rate:,.0f}"])
    print_table(f"tf.data pipeline with augmentation, batches of {BATCH_SIZE}, one epoch per pass "
                f"(median of {args.epochs} after the first)", ["preset", "map", "images/s", "images/CPU s"], rows)
    fields, rows = {}, []
    for name, make_field in FIELDS.items():
        milliseconds, roughness = milliseconds_per_batch(make_field)
        fields[name] = {"ms_per_batch": milliseconds, "neighbour_difference_over_magnitude": roughness}
        rows.append([name, f"{milliseconds:.2f}", f"{roughness:.3f}"])
    print_table(f"elastic field (alpha {ALPHA:g}, sigma {SIGMA:g}) for a batch of {BATCH_SIZE}",
                ["method", "ms/batch", "roughness"], rows)
    write_results("augmentation", {"batch_size": BATCH_SIZE, "epochs": args.epochs, "presets": presets,
                                   "elastic_field": fields,
                                   "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]}})


if __name__ == "__main__":
    main()
