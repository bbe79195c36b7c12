"""Images per second that the tf.data pipeline delivers, per task, with no model.

    python benchmarks/pipeline.py [--epochs 5]

Compare with the training benchmark: the pipeline must deliver at least 10x
what the fastest model consumes.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import tensorflow as tf
from common import print_table, write_results

from digitnet.data.pipeline import epoch_variable, make_dataset
from digitnet.data.sources import load_digits
from digitnet.models.registry import REGISTRY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    data = load_digits()
    rows, results = [], {}
    tasks = {spec.task.name: (spec.task, spec.batch_size) for spec in REGISTRY.values()}
    # As training uses it, and tuned for throughput alone (which slowed LeNet's
    # training here: the map's second thread competes with the model's).
    settings = {"training (sequential map, prefetch 2)": {},
                "throughput (map on 2 threads, prefetch 8)": {"map_parallelism": 2, "prefetch_batches": 8}}
    for name, (task, batch_size) in tasks.items():
        for setting, keywords in settings.items():
            dataset = make_dataset(data.train_images, data.train_labels, task, batch_size, epoch=epoch_variable(),
                                   shuffle_seed=0, **keywords)
            rates = []
            # Counted inside TensorFlow (Dataset.reduce), as model.fit consumes it,
            # so Python's per-batch iteration overhead is not measured.
            for _ in range(args.epochs + 1):
                started = time.perf_counter()
                count = int(dataset.reduce(0, lambda total, batch: total + tf.shape(batch[0])[0]))
                rates.append(count / (time.perf_counter() - started))
            rate = float(np.median(rates[1:]))  # the first pass builds the pipeline
            results.setdefault(name, {"batch_size": batch_size})[setting] = rate
            rows.append([name, batch_size, setting, f"{rate:,.0f}"])
    print_table("tf.data pipeline, one full training epoch per pass (median after the first)",
                ["task", "batch", "pipeline settings", "images/s"], rows)
    write_results("pipeline", {"tasks": results})


if __name__ == "__main__":
    main()
