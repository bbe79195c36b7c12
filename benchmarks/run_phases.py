"""Where a whole `python -m digitnet.train` run's time goes, step by step.

    python benchmarks/run_phases.py                  # the default LeNet command
    python benchmarks/run_phases.py --arch fast --runs 3
    python benchmarks/run_phases.py --startup --runs 5   # import and exit only: digitnet's commands vs plain Python

Each run is a fresh process that runs as `python -m digitnet.train` does
(`cli.run_as_process`): it times `import digitnet.training.loop` (TensorFlow and
Keras), then calls `digitnet.train.main` with every step of
`training.run` wrapped in a timer (the wrappers replace the module's
functions, which `run` looks up by name when it calls them), so the steps
are digitnet's own code, unchanged. The whole process is also timed from
outside.

`--startup` times only a command's import of digitnet.training.loop and its exit,
alternating two kinds of fresh process: as digitnet's commands run
(`cli.run_as_process`, which keeps Python's garbage collector off TensorFlow's
objects) and as plain Python runs the same import (`import digitnet.training.loop`,
then a normal exit).

Epoch seconds come from the run's history.csv: the first epoch
(tracing and graph building included) apart from the others. What no step
accounts for (interpreter start, flag parsing, exit) is "the rest".
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from common import print_table, summary, timed_process, write_results

# training.run's steps, in the order it calls them (load_digits is train()'s own first step).
STEPS = ("load_digits", "start_folder", "make_datasets", "build_model", "run_stage", "summarize", "save_model",
         "draw_figures")


def one_run(arch: str, seed: int, output_dir: str) -> dict:
    """In this process: the import, then the command with its steps timed; returns seconds by phase."""
    started = time.perf_counter()
    import digitnet.training.loop as training

    seconds = {"import digitnet.training.loop (TensorFlow, Keras)": time.perf_counter() - started}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            begun = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - begun
        return wrapper

    for name in STEPS:
        setattr(training, name, timed(name, getattr(training, name)))
    from digitnet import train
    from digitnet.training.run_folder import RunFolder

    train.main(["--arch", arch, "--seed", str(seed), "--output-dir", output_dir, "--quiet"])
    epochs = [float(row["seconds"]) for row in RunFolder(output_dir).history_rows()]
    seconds["run_stage: first epoch"] = epochs[0]
    seconds["run_stage: other epochs"] = sum(epochs[1:])
    seconds["run_stage: test evaluation and the rest"] = (seconds.pop("run_stage") - sum(epochs))
    return seconds


STARTUP = {
    "as digitnet's commands run (cli.run_as_process)":
        "from digitnet.core import cli; cli.run_as_process(lambda _: __import__('digitnet.training.loop') and 0)",
    "as plain Python runs it": "import digitnet.training.loop",
}


def startup(runs: int) -> dict:
    """Seconds from start to exit of processes that import digitnet.training.loop, each kind `runs` times, alternating."""
    seconds = {kind: [] for kind in STARTUP}
    for _ in range(runs):
        for kind, code in STARTUP.items():
            seconds[kind].append(timed_process([sys.executable, "-c", code])[0])
    print_table(f"import digitnet.training.loop and exit: seconds, {runs} fresh processes each, alternating (mean ± std)",
                ["process", "seconds"], [[kind, summary(values)] for kind, values in seconds.items()])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="lenet")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--startup", action="store_true", help="time only the import and the exit")
    parser.add_argument("--one-run", type=int, metavar="SEED", help=argparse.SUPPRESS)
    parser.add_argument("--output-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run is not None:
        from digitnet.core import cli

        cli.run_as_process(lambda _: print(json.dumps(one_run(args.arch, args.one_run, args.output_dir))) or 0)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.startup:
        write_results("run_phases_startup", {"seconds": startup(args.runs)})
        return
    runs = []
    for seed in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            process, stdout = timed_process([sys.executable, __file__, "--arch", args.arch, "--one-run", str(seed),
                                             "--output-dir", folder])
        seconds = json.loads(stdout.strip().splitlines()[-1])
        seconds["the rest (interpreter, flags, exit)"] = process - sum(seconds.values())
        seconds["whole process"] = process
        runs.append(seconds)
        print(f"run {seed}: {process:.2f} s", flush=True)
    phases = list(runs[0])
    print_table(f"python -m digitnet.train --arch {args.arch}: seconds by step, {args.runs} fresh processes "
                "(mean ± std)", ["step", "seconds", "share of the process"],
                [[phase, summary([r[phase] for r in runs]),
                  f"{100 * sum(r[phase] for r in runs) / sum(r['whole process'] for r in runs):.0f} %"]
                 for phase in phases])
    write_results(f"run_phases_{args.arch}", {"arch": args.arch, "runs": runs})


if __name__ == "__main__":
    main()
