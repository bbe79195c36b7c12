"""What the style edits (--augment styles, digitnet/data/styles.py) cost: the images/s
the tf.data pipeline delivers with them against the images/s the model consumes.

    python benchmarks/styles.py [--models lenet] [--epochs 3] [--model-epochs 3]

The pipeline is training's own (make_dataset over the 60,000 MNIST training
images, shuffled, each batch augmented with a seed from (run seed, epoch,
batch), the map as training runs it), counted inside TensorFlow as model.fit
consumes it (augmentation.py's images_per_second), for "none", "affine" and
"styles". The model's consumption: digitnet.training.loop.train on full data
without augmentation, the median epoch after the first; then the same with
--augment styles, which says what the edits take away from training on these
cores. The target: the pipeline with styles delivers at least 3x what the
model consumes.
"""
from __future__ import annotations

import argparse
import os
import tempfile

from augmentation import images_per_second
from common import print_table, write_results

from digitnet.data.pipeline import epoch_variable, make_dataset
from digitnet.data.presets import get_augmentation
from digitnet.data.sources import load_digits
from digitnet.models.registry import get_spec
from digitnet.models.tasks import CLASSIFICATION
from digitnet.training.config import TrainConfig
from digitnet.training.loop import train

PRESETS = ("none", "affine", "styles")
TARGET = 3.0


def pipeline_rates(data, batch_size: int, passes: int) -> dict:
    """{preset: (images/s, images/CPU s)} of training's pipeline with each preset."""
    rates = {}
    for preset in PRESETS:
        dataset = make_dataset(data.train_images, data.train_labels, CLASSIFICATION, batch_size, shuffle_seed=0,
                               epoch=epoch_variable(), augment=preset)
        rates[preset] = images_per_second(dataset, passes)
    return rates


def training_rate(arch: str, augment: str, epochs: int, data) -> tuple[float, float]:
    """(median seconds per epoch after the first, images/s) of a full-data training run."""
    with tempfile.TemporaryDirectory() as folder:
        config = TrainConfig(arch=arch, epochs=epochs, augment=augment, output_dir=folder, verbose=0)
        result = train(config, data=data)
    # One stage: its median epoch after the first (loop.seconds_per_epoch).
    median = next(s for s in result.metrics["seconds_per_epoch"].values() if s)
    return median, len(data.train_images) / median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="lenet", help="comma-separated registered models")
    parser.add_argument("--epochs", type=int, default=3, help="pipeline passes timed (after one warm-up pass)")
    parser.add_argument("--model-epochs", type=int, default=3, help="training epochs per run (the first is warm-up)")
    args = parser.parse_args()
    if args.model_epochs < 2:
        parser.error(f"--model-epochs must be at least 2 (the first is warm-up), got {args.model_epochs}")
    data = load_digits()
    load_before = os.getloadavg()[0]
    results, rows = {}, []
    for arch in args.models.split(","):
        spec = get_spec(arch)
        rates = pipeline_rates(data, spec.batch_size, args.epochs)
        plain_seconds, consumed = training_rate(arch, "none", args.model_epochs, data)
        styled_seconds, _ = training_rate(arch, "styles", args.model_epochs, data)
        ratio = rates["styles"][0] / consumed
        results[arch] = {
            "batch_size": spec.batch_size,
            "pipeline_images_per_second": {p: {"wall": w, "cpu": c} for p, (w, c) in rates.items()},
            "model_images_per_second": consumed, "seconds_per_epoch": {"none": plain_seconds,
                                                                      "styles": styled_seconds},
            "styles_over_model": ratio, "target": TARGET, "met": bool(ratio >= TARGET)}
        rows.append([arch, *(f"{rates[p][0]:,.0f}" for p in PRESETS), f"{consumed:,.0f}", f"{ratio:.1f}x",
                     f"{plain_seconds:.2f} / {styled_seconds:.2f}"])
    print_table(f"pipeline images/s by preset (median of {args.epochs} passes) against the model's training "
                f"images/s (median of {args.model_epochs - 1} epochs after the first); target styles >= "
                f"{TARGET:g}x the model",
                ["model", *(f"pipeline {p}" for p in PRESETS), "model", "styles / model",
                 "s/epoch none / styles"], rows)
    write_results("styles", {"parameters": get_augmentation("styles").describe(), "models": results,
                             "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]}})


if __name__ == "__main__":
    main()
