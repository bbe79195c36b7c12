"""Where a training step's time goes: TensorFlow's profiler, summarised as a table.

    python benchmarks/profile_training.py [--arch lenet] [--steps 300] [--steps-per-execution 10]

Traces `--steps` batches of training (after a warm-up that builds the graph)
at the registered settings, built and compiled by digitnet.training.loop's own
functions (compiled_as_trained below) and trained by its one fit call
(loop.fit_epochs), then reads the trace (XPlane protobuf, no TensorBoard
needed) and prints:
- the wall time per batch, and how busy TensorFlow's compute threads were;
- kernel time by kind of op (conv forward, conv gradients, dense, optimizer,
  elementwise), summed over threads, as a share of threads x wall time;
- the tf.data threads' time, to show whether the input pipeline competes.
The trace itself stays in a temporary folder; the summary goes to
benchmarks/results/profile_<arch>_spe<N>_<machine>_<date>.json.
"""
from __future__ import annotations

import argparse
import collections
import glob
import os
import tempfile
import time

from common import print_table, write_results

from digitnet.training.distribute import FAST_STEPS_PER_EXECUTION

PS_PER_SECOND = 1e12
# Kernel type (after the ':' in an event name) -> kind, by substring, first match wins.
KINDS = (
    ("Conv2DBackprop", "conv gradients"),
    ("Conv2D", "conv forward (fused bias+ReLU)"),
    ("MaxPool", "max pooling"),
    ("MatMul", "dense (MatMul)"),
    ("ApplyAdam", "optimizer (Adam)"),
    ("Assign", "optimizer (Adam)"),
    ("Softmax", "loss and softmax"),
    ("Xent", "loss and softmax"),
    ("BiasAddGrad", "bias gradients"),
    ("ReluGrad", "ReLU gradients"),
    ("Sigmoid", "sigmoid"),
    ("Gather", "input gather"),
)


def kind_of(kernel_type: str) -> str:
    return next((kind for key, kind in KINDS if key in kernel_type), "other ops")


def summarize(xplane_path: str, wall_seconds: float, batches: int) -> dict:
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(xplane_path, "rb") as file:
        space.ParseFromString(file.read())
    host = next(plane for plane in space.planes if plane.name == "/host:CPU")
    by_kind, by_kernel = collections.Counter(), collections.Counter()
    compute_threads, data_seconds = 0, 0.0
    for line in host.lines:
        if line.name.startswith("tf_Compute"):
            compute_threads += 1
            for event in line.events:
                name = host.event_metadata[event.metadata_id].name
                # Kernels are 'scope/op:Type'; executor bookkeeping is 'Class::method'.
                if ":" in name and "::" not in name:
                    kernel_type = name.rsplit(":", 1)[1]
                    by_kind[kind_of(kernel_type)] += event.duration_ps / PS_PER_SECOND
                    by_kernel[kernel_type] += event.duration_ps / PS_PER_SECOND
        elif line.name.startswith("tf_data"):
            # Only the outermost events of each thread, so nested spans count once.
            ends = 0
            for event in sorted(line.events, key=lambda e: e.offset_ps):
                if event.offset_ps >= ends:
                    data_seconds += event.duration_ps / PS_PER_SECOND
                    ends = event.offset_ps + event.duration_ps
    capacity = max(compute_threads, 1) * wall_seconds
    kernel_seconds = sum(by_kind.values())
    return {
        "batches": batches,
        "wall_seconds": wall_seconds,
        "ms_per_batch": 1e3 * wall_seconds / batches,
        "compute_threads": compute_threads,
        "kernel_busy_fraction": kernel_seconds / capacity,
        "by_kind_seconds": dict(by_kind.most_common()),
        "by_kernel_seconds": dict(by_kernel.most_common(12)),
        "tf_data_thread_seconds": data_seconds,
    }


def compiled_as_trained(arch: str, steps_per_execution: int):
    """(model, endless training dataset, spec) as digitnet.training.loop builds them for the first
    stage of a run at the registered settings: seeded, the same input pipeline (with the
    model's augmentation), and compiled by training.compile_for_stage (optimizer and
    learning-rate schedule, batch-loss log, steps_per_execution, jit_compile)."""
    from digitnet.data.sources import load_digits
    from digitnet.models.registry import get_spec
    from digitnet.training import loop as training
    from digitnet.training.config import TrainConfig

    spec = get_spec(arch)
    # The output folder is only validated, never written.
    config = TrainConfig(arch=arch, steps_per_execution=steps_per_execution,
                         output_dir=tempfile.gettempdir()).resolved()
    training.seed_everything(config)
    datasets = training.make_datasets(config, spec, load_digits())
    model = training.build_model(spec, config)
    # As training.run_stage counts them (the batch-loss log holds one epoch).
    steps_per_epoch = -(-len(datasets.train_images) // config.batch_size)
    training.compile_for_stage(model, spec, training.stages_for(spec, config)[0], config, steps_per_epoch)
    return model, datasets.train.repeat(), spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="lenet")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--steps-per-execution", type=int, default=FAST_STEPS_PER_EXECUTION)
    args = parser.parse_args()

    import tensorflow as tf

    from digitnet.training.loop import fit_epochs

    model, dataset, spec = compiled_as_trained(args.arch, args.steps_per_execution)
    fit_epochs(model, dataset, 1, steps_per_epoch=100)  # builds and warms the graph
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        started = time.perf_counter()
        fit_epochs(model, dataset, 1, steps_per_epoch=args.steps)
        wall = time.perf_counter() - started
        tf.profiler.experimental.stop()
        summary = summarize(sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1],
                            wall, args.steps)
    capacity = summary["compute_threads"] * wall
    rows = [[kind, f"{1e3 * seconds / args.steps:.3f}", f"{100 * seconds / capacity:.1f} %"]
            for kind, seconds in summary["by_kind_seconds"].items()]
    idle = capacity - sum(summary["by_kind_seconds"].values())
    rows.append(["(threads not in a kernel: scheduling, Python, waiting)", f"{1e3 * idle / args.steps:.3f}",
                 f"{100 * idle / capacity:.1f} %"])
    print_table(f"{args.arch}: {args.steps} batches of {spec.batch_size}, {summary['ms_per_batch']:.2f} ms per batch "
                f"({60000 / spec.batch_size * summary['ms_per_batch'] / 1e3:.2f} s per 60,000-image epoch; "
                f"traced, so slightly slower), {summary['compute_threads']} compute threads, "
                f"steps_per_execution={args.steps_per_execution}",
                ["where", "ms per batch (thread time)", "share of threads x wall"], rows)
    print(f"tf.data threads (not in the shares above): {1e3 * summary['tf_data_thread_seconds'] / args.steps:.3f} ms "
          f"per batch")
    print_table("slowest kernels", ["kernel", "ms per batch"],
                [[k, f"{1e3 * s / args.steps:.3f}"] for k, s in summary["by_kernel_seconds"].items()])
    write_results(f"profile_{args.arch}_spe{args.steps_per_execution}",
                  {"arch": args.arch, "steps_per_execution": args.steps_per_execution, **summary})


if __name__ == "__main__":
    main()
