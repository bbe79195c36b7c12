"""Reproduce the paper's Tables 1 and 2 (mean, std, min, max over seeds) with figures.

    python -m digitnet.reproduce                                   # 10 seeds, all models, full data
    python -m digitnet.reproduce --runs 3 --models bpnn,lenet
    python -m digitnet.reproduce --runs 2 --train-examples 200 --epochs 1 --output-dir /tmp/quick

Writes <output-dir>/reproduction.md, reproduction.json and figures/. Runs
that already finished are read back, so an interrupted reproduction resumes.
"""
from __future__ import annotations

import argparse

from digitnet.core import cli
from digitnet.experiments.reproduction import MODELS, ReproduceOptions
from digitnet.training.flags import add_config_flags, config_values

# The flags that mean what they mean to digitnet.train, each run taking them as given.
SHARED_FLAGS = ("train_examples", "test_examples", "epochs", "lr_schedule")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digitnet.reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="seeds per model (the paper averaged 10)")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--output-dir", default="reports")
    add_config_flags(parser, SHARED_FLAGS)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--only-finished", action="store_true",
                        help="report the runs that already finished; train nothing")
    cli.add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = ReproduceOptions(runs=args.runs, models=tuple(m for m in args.models.split(",") if m),
                               output_dir=args.output_dir, first_seed=args.first_seed,
                               only_finished=args.only_finished, **config_values(args, SHARED_FLAGS))
    options.validate()
    from digitnet.data.sources import load_digits
    from digitnet.experiments.report import reproduce

    reproduce(options, load_digits())
    return 0


if __name__ == "__main__":
    cli.run_as_process(main, interrupted_hint="Finished runs are kept; run the same command again to go on.")
