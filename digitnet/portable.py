"""Train committee members with the arrays feed: for a machine with Keras on JAX and no TensorFlow.

    KERAS_BACKEND=jax python -m digitnet.portable --arch deep_cnn --members 10 --output-dir runs/committee-deep_cnn-gpu
    python -m digitnet.committee --arch deep_cnn --members 10 --output-dir runs/committee-deep_cnn-gpu
    KERAS_BACKEND=jax python -m digitnet.portable --members 10 --first-member 5 --output-dir runs/committee-deep_cnn

digitnet.train's default feed (tf.data under tf.distribute) needs TensorFlow.
This command trains committee members through the same training loop with
--feed arrays: in-memory arrays shuffled by (seed, epoch), the registered
affine augmentation (or --augment styles, with the style edits) drawn by a
training-only first layer (elastic presets need the tf.data feed). Member k
of --output-dir has seed --seed + k (k from
--first-member, so that members join those trained elsewhere); each is an
ordinary run folder: an interrupted member resumes after its last completed
epoch (bit-identically with --deterministic where the backend allows), a
finished one is reused, and `digitnet.committee` (with TensorFlow, anywhere)
reuses it as a finished member, then assembles, tests and exports.
config.json and metrics.json name the trainer and the Keras backend.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from digitnet.core import cli
from digitnet.core.errors import ConfigError
from digitnet.models.registry import REGISTRY, get_spec
from digitnet.training import run_folder
from digitnet.training.config import TrainConfig
from digitnet.training.flags import add_config_flags, config_from_args

CONFIG_FLAGS = ("arch", "epochs", "batch_size", "learning_rate", "seed", "deterministic", "augment",
                "validation_split", "digit_width", "train_examples", "test_examples", "steps_per_execution", "fresh",
                "verbose")


def check_member_arch(config: TrainConfig) -> None:
    """Refuses a model that is not a committee member: a classifier trained in one stage."""
    if not get_spec(config.arch).one_stage_classifier:
        choices = ", ".join(name for name, spec in REGISTRY.items() if spec.one_stage_classifier)
        raise ConfigError(f"digitnet.portable trains committee members, classifiers trained in one stage "
                          f"({choices}); received --arch {config.arch}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digitnet.portable", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=5, help="number of members, seeds --seed + 0..N-1 (default 5)")
    parser.add_argument("--first-member", type=int, default=0,
                        help="train members K.. (member-K has seed --seed + K), beside members trained elsewhere")
    parser.add_argument("--output-dir", help="committee folder of the member-<k> runs (default runs/committee-<arch>)")
    add_config_flags(parser, CONFIG_FLAGS, overrides={"arch": {"default": "deep_cnn",
                                                               "help": "registered classifier (default deep_cnn)"}})
    cli.add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.members < 1:
        raise ConfigError(f"--members must be a positive integer, received {args.members}")
    if args.first_member < 0:
        raise ConfigError(f"--first-member must be 0 or more, received {args.first_member}")
    folder = Path(args.output_dir or f"runs/committee-{args.arch}")
    base = config_from_args(args, CONFIG_FLAGS, output_dir=str(run_folder.member_folder(folder, 0)),
                            feed="arrays").resolved()
    check_member_arch(base)
    # Keras (and its backend) loads only once the flags are known to be good.
    from digitnet.data.sources import load_digits
    from digitnet.experiments.committee import train_members

    results = train_members(base, [base.digit_width] * args.members, folder, load_digits(), first=args.first_member)
    for result in results:
        print(f"[digitnet] {result.output_dir}: {result.headline}", flush=True)
    total = args.first_member + args.members
    print(f"members {args.first_member}..{total - 1} of {base.arch} in {folder}: with members 0..{total - 1} there, "
          f"assemble them with python -m digitnet.committee --arch {base.arch} --members {total} --output-dir {folder}")
    return 0


if __name__ == "__main__":
    cli.run_as_process(main, interrupted_hint=(
        "Finished members are kept and the current member's last completed epoch is in its backup/; "
        "run the same command again to continue."))
