"""Train one registered model on MNIST.

    python -m digitnet.train --arch lenet
    python -m digitnet.train --arch conv_autoencoder --epochs 5 --output-dir runs/cae
    python -m digitnet.train --arch bpnn --train-examples 2000 --seed 1 --deterministic
"""
from __future__ import annotations

import argparse
import sys

from digitnet import cli
from digitnet.config import TrainConfig
from digitnet.data import DATA_SOURCES
from digitnet.config import STRATEGIES
from digitnet.registry import REGISTRY


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m digitnet.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    models = "; ".join(f"{name}: {spec.summary}" for name, spec in REGISTRY.items())
    parser.add_argument("--arch", default="lenet", choices=list(REGISTRY), help=models)
    parser.add_argument("--epochs", type=int, help="default: the paper's (6 for classifiers, 20 for autoencoders)")
    parser.add_argument("--batch-size", type=int, help="global batch size; default: the paper's (100 or 128)")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate; default 0.005")
    parser.add_argument("--seed", type=int, default=0, help="fixes initialisation and shuffling")
    parser.add_argument("--deterministic", action="store_true",
                        help="turn on TensorFlow op determinism: same seed, bit-identical weights")
    parser.add_argument("--output-dir", help="run folder; default runs/<arch>. Rerunning the same command "
                        "resumes an interrupted run there")
    parser.add_argument("--fresh", action="store_true", help="start over: move an earlier run in --output-dir aside")
    parser.add_argument("--data-source", default="embedded", choices=DATA_SOURCES)
    parser.add_argument("--data-dir", help="folder with the four MNIST-format IDX files (default: the embedded MNIST)")
    parser.add_argument("--tfds-data-dir", help="tensorflow-datasets data folder (with --data-source tfds)")
    parser.add_argument("--train-examples", type=int, help="train on the first N training images only")
    parser.add_argument("--test-examples", type=int, help="evaluate on the first N test images only")
    parser.add_argument("--validation-split", type=float, default=0.0,
                        help="hold out this fraction of the training images for validation")
    parser.add_argument("--test-every-epoch", action="store_true",
                        help="evaluate on the test set after every epoch (history.csv gains val_* columns)")
    parser.add_argument("--strategy", default="auto", choices=list(STRATEGIES),
                        help="auto: MirroredStrategy over two or more GPUs, else the default strategy (one GPU or the CPU)")
    parser.add_argument("--steps-per-execution", type=int,
                        help="batches per call into the compiled train step: the same updates and per-batch losses, "
                             "fewer Python round trips (default 10 on one device, 1 under mirrored/multi_worker)")
    parser.add_argument("--jit-compile", default="auto", choices=["auto", "on", "off"],
                        help="XLA compilation; auto: on with GPUs, off on CPU")
    parser.add_argument("--lr-schedule", default="cosine", choices=["constant", "cosine"],
                        help="cosine (default) decays the learning rate to 0 over the run; constant is the paper's")
    parser.add_argument("--warmup-epochs", type=int,
                        help="raise the learning rate linearly from 0 over this many epochs first; "
                             "default: the model's (1 for conv_autoencoder, else 0)")
    parser.add_argument("--augment", help="augmentation of the training images: none, affine, elastic; "
                        "default: the model's (elastic for deep_cnn, none for the paper's models)")
    parser.add_argument("--pretrain-epochs", type=int, help="epochs of the autoencoder pretraining (ae_classifier)")
    parser.add_argument("--encoder", help="trained autoencoder .keras whose encoder ae_classifier uses instead of pretraining")
    parser.add_argument("--export", default="", help="after training, export in these formats (comma-separated: saved_model,tflite)")
    parser.add_argument("--export-dir", default="saved_models", help="where --export writes")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_debug_flag(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        seed=args.seed, deterministic=args.deterministic, output_dir=args.output_dir, fresh=args.fresh,
        data_source=args.data_source, data_dir=args.data_dir, tfds_data_dir=args.tfds_data_dir,
        train_examples=args.train_examples, test_examples=args.test_examples,
        validation_split=args.validation_split, test_every_epoch=args.test_every_epoch, strategy=args.strategy,
        steps_per_execution=args.steps_per_execution, lr_schedule=args.lr_schedule,
        warmup_epochs=args.warmup_epochs, augment=args.augment, jit_compile=args.jit_compile, pretrain_epochs=args.pretrain_epochs,
        encoder=args.encoder,
        export_formats=tuple(f for f in args.export.split(",") if f), export_dir=args.export_dir,
        verbose=0 if args.quiet else 1,
    )


def main(argv: list[str] | None = None) -> int:
    config = config_from_args(build_parser().parse_args(argv)).resolved()
    from digitnet.training import train  # TensorFlow loads only once the flags are known to be good

    result = train(config)
    if config.export_formats:
        from digitnet.data import load_digits
        from digitnet.exporters import export_model

        export_model(result.model_path, config.export_formats, config.export_dir,
                     load_digits(config.data_source, config.data_dir, config.tfds_data_dir))
    # Last line: the figure a user ran this for.
    print(f"{config.arch}: {result.headline}  [run folder: {result.output_dir}]")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_command(main, interrupted_hint=(
        "The last completed epoch is kept in the run folder's backup/; "
        "run the same command again to resume from it.")))
