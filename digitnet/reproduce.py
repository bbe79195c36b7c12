"""Reproduce the paper's Tables 1 and 2 (mean, std, min, max over seeds) with figures.

    python -m digitnet.reproduce                                   # 10 seeds, all models, full data
    python -m digitnet.reproduce --runs 3 --models bpnn,lenet
    python -m digitnet.reproduce --runs 2 --train-examples 200 --epochs 1 --output-dir /tmp/quick

Writes <output-dir>/reproduction.md, reproduction.json and figures/. Runs
that already finished are read back, so an interrupted reproduction resumes.
"""
from __future__ import annotations

import argparse
import sys

from digitnet import cli
from digitnet.reproduction import MODELS, ReproduceOptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m digitnet.reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="seeds per model (the paper averaged 10)")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--output-dir", default="reports")
    parser.add_argument("--train-examples", type=int, help="train on the first N images (a quick look)")
    parser.add_argument("--test-examples", type=int, help="test on the first N images")
    parser.add_argument("--epochs", type=int, help="override the paper's epochs (a quick look)")
    parser.add_argument("--lr-schedule", default="cosine", choices=["constant", "cosine"])
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--only-finished", action="store_true",
                        help="report the runs that already finished; train nothing")
    cli.add_debug_flag(parser)
    args = parser.parse_args(argv)
    options = ReproduceOptions(runs=args.runs, models=tuple(m for m in args.models.split(",") if m),
                               output_dir=args.output_dir, train_examples=args.train_examples,
                               test_examples=args.test_examples, epochs=args.epochs,
                               lr_schedule=args.lr_schedule, first_seed=args.first_seed,
                               only_finished=args.only_finished)
    options.validate()
    from digitnet.data import load_digits
    from digitnet.reproduction import reproduce

    reproduce(options, load_digits())
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_command(main, interrupted_hint="Finished runs are kept; run the same command again to go on."))
