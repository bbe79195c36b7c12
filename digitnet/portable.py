"""Train committee members through Keras alone, on any backend: for a GPU machine without TensorFlow.

    KERAS_BACKEND=jax python -m digitnet.portable --arch deep_cnn --members 10 --output-dir runs/committee-deep_cnn-gpu
    python -m digitnet.committee --arch deep_cnn --members 10 --output-dir runs/committee-deep_cnn-gpu
    KERAS_BACKEND=jax python -m digitnet.portable --members 10 --first-member 5 --output-dir runs/committee-deep_cnn

The GPU machine lent to digitnet's sessions has JAX and no TensorFlow, so
`digitnet.train` (tf.data, tf.distribute) cannot run there. This command
trains the same members there: member k of --output-dir, seed --seed + k
(k from --first-member, so that they join members trained elsewhere),
each a run folder that `digitnet.committee` (with TensorFlow, anywhere)
reuses as a finished member, then assembles, tests and exports.

The same as digitnet.train: the registered builder and settings (TrainConfig's
resolved defaults), the optimiser and schedule (optimizer.py), the loss and
metrics, `model.fit`, the embedded MNIST, --validation-split's held-out
images, --digit-width, and the registered augmentation's distortions
(layers.RandomAffine, the model's first layer while training; affine presets
only). What differs: in-memory arrays shuffled by Keras instead of the
tf.data pipeline's (seed, epoch) order, and no resume inside a member: a
member is written whole when it has finished (its folder appears only then)
and a finished one is reused, so an interrupted command continues with the
member it was training. config.json and metrics.json name the trainer and
the Keras backend.
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np

from digitnet.core import cli
from digitnet.core.errors import ConfigError
from digitnet.core.files import write_csv, write_json
from digitnet.core.images import EVAL_BATCH, INPUT_SHAPE, to_model_input
from digitnet.data.sources import DigitArrays, split_validation
from digitnet.models.registry import REGISTRY, get_spec
from digitnet.training import run_folder
from digitnet.training.config import TrainConfig
from digitnet.training.flags import add_config_flags, config_from_args

TRAINER = "digitnet.portable"
CONFIG_FLAGS = ("arch", "epochs", "batch_size", "learning_rate", "seed", "augment", "validation_split",
                "digit_width", "train_examples", "test_examples", "verbose")
STEPS_PER_EXECUTION = 10


def check_portable(config: TrainConfig) -> None:
    """Refuses what only digitnet.train can do, naming what was received."""
    if not get_spec(config.arch).one_stage_classifier:
        choices = ", ".join(name for name, spec in REGISTRY.items() if spec.one_stage_classifier)
        raise ConfigError(f"digitnet.portable trains classifiers trained in one stage ({choices}); "
                          f"received --arch {config.arch}")
    from digitnet.data.presets import get_augmentation

    if get_augmentation(config.augment).has_elastic:
        raise ConfigError(f"digitnet.portable draws affine distortions only; --augment {config.augment} adds an "
                          "elastic field, which only digitnet.train's tf.data pipeline draws")


def build_trainer(config: TrainConfig):
    """(classifier, model trained): the registered classifier (width-normalising if asked), and the
    same classifier behind the training-only RandomAffine of config.augment."""
    import keras

    from digitnet.models.builders import with_digit_width
    from digitnet.models.layers import RandomAffine

    classifier = get_spec(config.arch).build()
    if config.digit_width:
        classifier = with_digit_width(classifier, config.digit_width)
    inputs = keras.Input(INPUT_SHAPE, name="images")
    distorted = RandomAffine(config.augment, seed=config.seed, name="random_affine")(inputs)
    return classifier, keras.Model(inputs, classifier(distorted), name=f"{config.arch}_training")


def train_member(config: TrainConfig, data: DigitArrays, folder: Path) -> dict:
    """Trains one member as `config` says and writes its run folder whole; returns its metrics."""
    import keras

    from digitnet.training.optimizer import adam

    spec = get_spec(config.arch)
    (train_images, train_labels), validation = split_validation(
        data.train_images, data.train_labels, config.validation_split)
    keras.utils.set_random_seed(config.seed)
    classifier, trainer = build_trainer(config)
    steps_per_epoch = -(-len(train_images) // config.batch_size)
    trainer.compile(optimizer=adam(spec, config.learning_rate, config.epochs, config, steps_per_epoch),
                    loss=spec.task.loss, metrics=list(spec.task.metrics), steps_per_execution=STEPS_PER_EXECUTION)
    clock = epoch_clock()
    history = trainer.fit(to_model_input(train_images), train_labels.astype("int32"), batch_size=config.batch_size,
                          epochs=config.epochs, shuffle=True, callbacks=[clock], verbose=config.verbose and 2,
                          validation_data=validation and (to_model_input(validation[0]), validation[1].astype("int32")))
    # The trained optimiser with it, as digitnet.train saves (its state loads without warnings).
    classifier.compile(optimizer=trainer.optimizer, loss=spec.task.loss, metrics=list(spec.task.metrics))
    test = classifier.evaluate(to_model_input(data.test_images), data.test_labels.astype("int32"), batch_size=EVAL_BATCH,
                               return_dict=True, verbose=0)
    test = {key: float(value) for key, value in test.items()}
    trained_by = {"trainer": TRAINER, "keras_backend": keras.backend.backend(), "keras": keras.__version__}
    metrics = {"arch": config.arch, "task": spec.task.name, "test": test, "stages": {"train": test},
               # The median epoch after the first (which compiles), as digitnet.train's.
               "seconds_per_epoch": {"train": float(np.median(clock.seconds[1:] or clock.seconds))},
               "train_examples": len(train_images), "test_examples": len(data.test_images), "seed": config.seed,
               "headline": spec.task.headline(test), **trained_by}
    write_member_folder(folder, config, data, classifier, history.history, clock.seconds, metrics, trained_by)
    return metrics


def write_member_folder(folder: Path, config: TrainConfig, data: DigitArrays, classifier, history: dict,
                        seconds: list[float], metrics: dict, trained_by: dict) -> None:
    """The run folder digitnet.train would leave, built beside `folder` and renamed into place at the end."""
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        fill_member_folder(partial, config, data, classifier, history, seconds, metrics, trained_by)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(folder)


def fill_member_folder(partial: Path, config: TrainConfig, data: DigitArrays, classifier, history: dict,
                       seconds: list[float], metrics: dict, trained_by: dict) -> None:
    write_json(partial / run_folder.CONFIG, run_folder.config_record(config, data.source, **trained_by))
    keys = sorted(history)
    write_csv(partial / "history.csv", ["stage", "epoch", "seconds", *keys],
              [["train", epoch, round(seconds[epoch], 3), *(float(history[key][epoch]) for key in keys)]
               for epoch in range(len(seconds))])
    classifier.save(partial / "model.keras")
    # Written last, as digitnet.train does: its presence marks the run finished.
    write_json(partial / run_folder.METRICS, metrics)


def epoch_clock():
    """A Keras callback whose `seconds` lists each epoch's wall time (Keras loads on first use); it
    also stops training at the next batch after Ctrl-C, however Python delivered the interrupt
    (interrupts.py)."""
    import keras

    from digitnet.core import interrupts

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            interrupts.raise_if_requested()

        def on_epoch_end(self, epoch, logs=None):
            # Keras turns the epoch's logs into numbers before this, which waits for the device.
            self.seconds.append(time.perf_counter() - self._started)

    return EpochClock()


def train_members(base: TrainConfig, members: int, folder: Path, data: DigitArrays, first: int = 0) -> list[dict]:
    """Members first..first+members-1, member k (seed base.seed + k) in folder/member-k: reused when
    finished with these settings; any other run there is moved aside, as digitnet.train does."""
    results = []
    for index in range(first, first + members):
        config = dataclasses.replace(base, seed=base.seed + index,
                                     output_dir=str(run_folder.member_folder(folder, index))).resolved()
        path = Path(config.output_dir)
        state = run_folder.inspect(path, config)
        if state.kind == "finished":
            print(f"[digitnet] member {index} ({path}) is finished with these settings; reusing it", flush=True)
            continue
        if state.kind in ("other", "unfinished"):
            moved = run_folder.move_aside(path, state.reason or "an unfinished run")
            print(f"[digitnet] moved the earlier contents of {path} to {moved}", flush=True)
        print(f"[digitnet] member {index} of {first}..{first + members - 1} (seed {config.seed})", flush=True)
        metrics = train_member(config, data, path)
        results.append(metrics)
        print(f"[digitnet] member {index}: {metrics['headline']}", flush=True)
    return results


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
    base = config_from_args(args, CONFIG_FLAGS, output_dir=str(run_folder.member_folder(folder, 0))).resolved()
    check_portable(base)
    from digitnet.data.sources import load_digits

    data = load_digits().take_train(base.train_examples).take_test(base.test_examples)
    train_members(base, args.members, folder, data, first=args.first_member)
    total = args.first_member + args.members
    print(f"members {args.first_member}..{total - 1} of {base.arch} in {folder}: with members 0..{total - 1} there, "
          f"assemble them with python -m digitnet.committee --arch {base.arch} --members {total} --output-dir {folder}")
    return 0


if __name__ == "__main__":
    cli.run_as_process(main, interrupted_hint=(
        "Finished members are kept; run the same command again to train the rest."))
