"""What LeNet's first call into the compiled train step costs (tracing, graph
optimisation, oneDNN set-up), with TensorFlow's graph optimiser as it is and
with its optional passes off (remapping, which fuses conv + bias + ReLU, kept).
Each measurement is a fresh process (the optimiser's options are per process),
the two settings alternating:

    python benchmarks/first_call.py [--repeats 4]

A child: the registered LeNet built, seeded, fed and compiled by
digitnet.training.loop's own functions, as a run of 12,000 training images
compiles it (Adam over the cosine schedule, the batch-loss log, 10 steps per
call), then trained by the loop's one fit call (loop.fit_epochs) on 10 batches
of 100 (the first call), again (the same calls, traced), then 2 epochs of 120
batches (steady state).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from common import machine, print_table, summary, write_results

SETTINGS = {
    "as it is": {},
    "optional passes off": {name: False for name in (
        "constant_folding", "arithmetic_optimization", "dependency_optimization", "loop_optimization",
        "layout_optimizer", "shape_optimization", "debug_stripper", "function_optimization")},
}

CHILD = """
import json, sys, tempfile, time
import tensorflow as tf
options = json.loads(sys.argv[1])
if options:
    tf.config.optimizer.set_experimental_options(options)
from digitnet.data.sources import load_digits
from digitnet.models.registry import get_spec
from digitnet.training import loop
from digitnet.training.config import TrainConfig
spec = get_spec("lenet")
# The output folder is only validated, never written.
config = TrainConfig(arch="lenet", train_examples=12000, steps_per_execution=10,
                     output_dir=tempfile.gettempdir()).resolved()
loop.seed_everything(config)
datasets = loop.make_datasets(config, spec, load_digits().take_train(config.train_examples))
model = loop.build_model(spec, config)
loop.compile_for_stage(model, spec, loop.stages_for(spec, config)[0], config, 120)
seconds = []
for batches, epochs in ((datasets.train.take(10), 1), (datasets.train.take(10), 1), (datasets.train, 2)):
    start = time.perf_counter()
    loop.fit_epochs(model, batches, epochs)
    seconds.append((time.perf_counter() - start) / epochs)
print(json.dumps(dict(zip(("first_call", "again", "epoch_of_120"), seconds))))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=4, help="fresh processes per setting (default 4)")
    args = parser.parse_args()
    runs = {name: [] for name in SETTINGS}
    for _ in range(args.repeats):
        for name, options in SETTINGS.items():
            done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(options)], capture_output=True,
                                  text=True, check=True)
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    rows = [[name, *(summary([r[key] for r in results]) for key in ("first_call", "again", "epoch_of_120"))]
            for name, results in runs.items()]
    print_table("LeNet's train step, seconds (mean ± std over fresh processes)",
                ["graph optimiser", "first call (10 steps)", "the same again", "epoch of 120 steps"], rows)
    write_results("first_call", {"command": "python benchmarks/first_call.py --repeats " + str(args.repeats),
                                 "machine": machine(), "settings": SETTINGS, "runs": runs})


if __name__ == "__main__":
    main()
