"""Steady-state training speed of every model at the paper's settings.

    python benchmarks/training.py [--models lenet,bpnn] [--epochs 4] [--steps-per-execution 10]

Trains through digitnet.training.loop.train (the code users run), full data, and
reports the median seconds per epoch after the first (warm-up) epoch, images
per second, and achieved GFLOP/s = training FLOPs per image x images/s, with
training FLOPs taken as 3x the forward pass counted by TensorFlow's profiler,
and that as a share of the machine's practical peak (a large float32 matmul).
"""
from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
from common import matmul_peak_gflops, print_table, write_results

from digitnet.data.sources import load_digits
from digitnet.models.registry import REGISTRY
from digitnet.training.config import TrainConfig
from digitnet.training.distribute import FAST_STEPS_PER_EXECUTION
from digitnet.training.flags import add_config_flags, config_values
from digitnet.training.loop import train

# TrainConfig's flags, with the benchmark's own defaults where it measures something else.
CONFIG_FLAGS = ("epochs", "steps_per_execution", "jit_compile", "augment")
OVERRIDES = {"epochs": {"default": 4, "help": "epochs per model (the first is warm-up)"},
             "steps_per_execution": {"default": FAST_STEPS_PER_EXECUTION,
                                     "help": "default: digitnet's default on one device"}}


def forward_flops(model) -> int:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec([1, 28, 28, 1], tf.float32))
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops)


# TensorFlow's, XLA's and OpenMP's settings that change a step's speed; not every TF_ variable
# (TF_CLI_CONFIG_FILE is Terraform's).
TUNING_VARIABLES = ("TF_ENABLE_", "TF_NUM_", "TF_ONEDNN_", "TF_XLA_", "TF_GPU_", "TF_CPP_", "XLA_", "OMP_", "KMP_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default=",".join(REGISTRY))
    parser.add_argument("--label", default="", help="added to the results file's name (e.g. the environment tried)")
    add_config_flags(parser, CONFIG_FLAGS, OVERRIDES)
    args = parser.parse_args()
    data = load_digits()
    peak = matmul_peak_gflops()
    rows, results = [], {}
    for arch in args.models.split(","):
        spec = REGISTRY[arch]
        with tempfile.TemporaryDirectory() as folder:
            config = TrainConfig(arch=arch, pretrain_epochs=1, output_dir=folder, verbose=0,
                                 **config_values(args, CONFIG_FLAGS))
            result = train(config, data=data)
            import keras

            model = keras.models.load_model(result.model_path)
        seconds = float(np.median([s for s in result.metrics["seconds_per_epoch"].values() if s]))
        images_per_second = len(data.train_images) / seconds
        flops = 3 * forward_flops(model)
        gflops = flops * images_per_second / 1e9
        results[arch] = {"seconds_per_epoch": seconds, "images_per_second": images_per_second,
                         "training_flops_per_image": flops, "achieved_gflops": gflops,
                         "fraction_of_matmul_peak": gflops / peak,
                         "batch_size": spec.batch_size, "epochs": args.epochs,
                         "steps_per_execution": args.steps_per_execution, "jit_compile": args.jit_compile,
                         "augment": args.augment or spec.augment}
        rows.append([arch, spec.batch_size, f"{seconds:.2f}", f"{images_per_second:,.0f}",
                     f"{flops / 1e6:.2f}", f"{gflops:.1f}", f"{100 * gflops / peak:.0f} %"])
    print_table(f"training, full MNIST, median epoch after warm-up "
                f"(steps_per_execution={args.steps_per_execution}, jit_compile={args.jit_compile}); "
                f"peak: a 2048x2048 float32 matmul reaches {peak:.0f} GFLOP/s here",
                ["model", "batch", "s/epoch", "images/s", "train MFLOP/image", "GFLOP/s", "of peak"], rows)
    augment = "" if args.augment is None else f"_augment-{args.augment}"
    label = f"_{args.label}" if args.label else ""
    tuning = {name: value for name, value in os.environ.items() if name.startswith(TUNING_VARIABLES)}
    write_results(f"training_{args.models.replace(',', '-')}_spe{args.steps_per_execution}_jit-{args.jit_compile}"
                  f"{augment}{label}", {"matmul_peak_gflops": peak, "environment": tuning, "models": results})


if __name__ == "__main__":
    main()
