"""Train a committee of one registered model over several seeds and average their probabilities.

    python -m digitnet.committee --arch deep_cnn --members 5
    python -m digitnet.committee --arch deep_cnn --members 5 --export saved_model,tflite
    python -m digitnet.committee --arch deep_cnn --members 5 --views 5 --output-dir runs/committee-deep_cnn-views5
    python -m digitnet.committee --arch deep_cnn --members 7 --digit-widths none,10,12,14,16,18,20

Members are ordinary runs in <output-dir>/member-<k>/ (seed k): an interrupted
member resumes and a finished one is reused, so the same command continues a
committee across sessions. The committee folder gets config.json,
metrics.json (every member and the committee), model.keras, the confusion
matrix and the misclassified test digits; --export publishes it under the
served name 'committee'. --views 5 averages each member over the image
and its four one-pixel shifts (test-time augmentation inside the graph);
--output-dir may point elsewhere while the members stay those of
--members-dir. --digit-widths gives each member a width its digits are
normalised to (--digit-width of digitnet.train; 'none': as they are), as
Ciresan et al. 2011's committee does: one value per member, or one for all.

    python -m digitnet.committee --extend saved_models/committee/1 --add runs/members/styles-s5 --output-dir runs/committee-deep_cnn-6

assembles a committee without training into a new --output-dir: the
members of an exported committee (--extend: recovered from its SavedModel
and checked against it; its views kept unless --views says otherwise) and
finished runs of --arch (--add, repeatable), in that order.
"""
from __future__ import annotations

import argparse
import dataclasses

from digitnet.core import cli
from digitnet.training.flags import add_config_flags, comma_separated, config_from_args, flag_arguments

# TrainConfig's flags that the committee passes on to every member.
MEMBER_FLAGS = ("arch", "epochs", "train_examples", "test_examples", "verbose", "export_formats", "export_dir")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m digitnet.committee", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, help="number of members to train, seeds 0..N-1 (default 5)")
    parser.add_argument("--extend", metavar="SAVED_MODEL",
                        help="a committee exported by this command: its members join, none is trained")
    parser.add_argument("--add", action="append", default=[], metavar="RUN_FOLDER",
                        help="a finished run of --arch that joins as a member (repeatable); none is trained")
    parser.add_argument("--output-dir", help="committee folder (default runs/committee-<arch>)")
    parser.add_argument("--members-dir", help="folder of the member-<k> runs (default: --output-dir)")
    parser.add_argument("--digit-widths", type=comma_separated, default=("none",), metavar="W1,W2,...",
                        help="per member (or one for all): normalise its digits to this width in pixels, "
                             "or 'none' (default none)")
    parser.add_argument("--views", type=int,
                        help="1: each image as it is (default; with --extend, that committee's); "
                             "5: also shifted one pixel each way, averaged")
    arch_help = "registered model of every member (default deep_cnn); " + flag_arguments("arch")["help"]
    add_config_flags(parser, MEMBER_FLAGS, overrides={"arch": {"default": "deep_cnn", "help": arch_help}})
    cli.add_debug_flag(parser)
    return parser


def member_widths(values: tuple[str, ...], members: int) -> list[int | None]:
    """--digit-widths as one width (or None) per member."""
    from digitnet.core.errors import ConfigError

    if len(values) not in (1, members):
        raise ConfigError(f"--digit-widths takes one value per member ({members}) or one for all, "
                          f"received {len(values)}: {','.join(values)}")
    try:
        widths = [None if value == "none" else int(value) for value in values]
    except ValueError:
        raise ConfigError(f"--digit-widths takes whole numbers of pixels or 'none', "
                          f"received {','.join(values)!r}") from None
    return widths * members if len(widths) == 1 else widths


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from digitnet.core import quiet
    from digitnet.core.errors import ConfigError

    assembled = bool(args.extend or args.add)
    if assembled and (args.members is not None or args.digit_widths != ("none",)):
        raise ConfigError("--extend and --add assemble members that are already trained; --members and "
                          "--digit-widths train new ones: train a member with digitnet.train and --add its folder")
    if assembled and not args.output_dir:
        raise ConfigError("--extend and --add need --output-dir: a new folder for the assembled committee")
    members = 5 if args.members is None else args.members
    if members < 1:
        raise ConfigError(f"--members must be a positive integer, received {members}")
    if args.views not in (None, 1, 5):
        raise ConfigError(f"--views must be 1 or 5, received {args.views}")
    widths = member_widths(args.digit_widths, members)
    folder = args.output_dir or f"runs/committee-{args.arch}"
    members_dir = args.members_dir or folder
    base = config_from_args(args, MEMBER_FLAGS, output_dir=folder if assembled else f"{members_dir}/member-0")
    for width in set(widths):  # every flag checked before any training
        dataclasses.replace(base, digit_width=width).resolved()
    from digitnet.data.sources import load_digits
    from digitnet.experiments.committee import NAME, extend_committee, train_committee

    data = load_digits().take_train(args.train_examples).take_test(args.test_examples)
    if assembled:
        with quiet.native_stderr():  # TensorFlow's device notices on loading the members
            result = extend_committee(base, folder, data, args.extend, args.add, views=args.views)
    else:
        result = train_committee(base, widths, folder, data, views=args.views or 1, members_dir=members_dir)
    if base.export_formats:
        from digitnet.serving.exporters import export_model

        with quiet.native_stderr():  # the TFLite converter's and LiteRT's lines
            export_model(result.model_path, base.export_formats, base.export_dir, load_digits(), name=NAME)
    print(f"{result.metrics['headline']}  [committee folder: {result.folder}]")
    return 0


if __name__ == "__main__":
    cli.run_as_process(main, interrupted_hint=(
        "Finished members are kept and the current member's last completed epoch is in its backup/; "
        "run the same command again to continue."))
