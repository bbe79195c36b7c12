"""A committee: several runs of one model with different seeds, their probabilities averaged.

Each member is an ordinary run folder (`<committee folder>/member-<k>/`,
seed k), trained by training.train: resumable, and reused once finished;
a member trained elsewhere with --feed arrays (digitnet.portable: Keras on
JAX, on a machine without TensorFlow) is reused in the same way.
Members are never chosen by their test accuracy: all N trained members vote.
The committee itself is one Keras model (every member inside one graph,
named 'committee'), so it is saved, exported and served like any other.
With views=5 every member also reads the image shifted by one pixel up,
down, left and right (test-time augmentation, inside the graph), and all
members' probabilities over all views are averaged.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from digitnet.core.figures import figures_for
from digitnet.core.images import EVAL_BATCH, INPUT_SHAPE, to_model_input
from digitnet.data.sources import DigitArrays
from digitnet.models.registry import get_spec
from digitnet.training.config import TrainConfig
from digitnet.training.loop import RunResult, say, train
from digitnet.training.run_folder import RunFolder, member_folder

NAME = "committee"
# (down, right) shifts in pixels of each view: the image itself, then one pixel each way.
VIEW_SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
VIEWS = (1, len(VIEW_SHIFTS))


@dataclasses.dataclass(frozen=True)
class CommitteeResult:
    folder: Path
    metrics: dict

    @property
    def model_path(self) -> Path:
        return RunFolder(self.folder).model


def train_members(base: TrainConfig, widths: list[int | None], folder: Path, data: DigitArrays,
                  first: int = 0) -> list[RunResult]:
    """Trains (or reuses, or resumes) one member per entry of `widths`, members first, first + 1, ...:
    member k with seed base.seed + k, reading digits normalised to widths[k - first] pixels (None: as
    they are)."""
    results = []
    for index, width in enumerate(widths, start=first):
        described = f" on digits {width} pixels wide" if width else ""
        say(f"committee member {index + 1} of {first + len(widths)} (seed {base.seed + index}){described}")
        config = dataclasses.replace(base, seed=base.seed + index, output_dir=str(member_folder(folder, index)),
                                     export_formats=(), digit_width=width)
        results.append(train(config, data=data))
    return results


def shifted_views(inputs: keras.KerasTensor, views: int) -> list[keras.KerasTensor]:
    """The first `views` of VIEW_SHIFTS applied to [batch, 28, 28, 1] images: zero padding
    of one pixel, then a 28x28 window (pad and slice, which TFLite runs in int8 too)."""
    if views not in VIEWS:
        raise ValueError(f"views must be one of {VIEWS}, received {views!r}")
    if views == 1:
        return [inputs]
    padded = keras.layers.ZeroPadding2D(1, name="pad_views")(inputs)
    return [inputs] + [keras.layers.Cropping2D(((1 - down, 1 + down), (1 - right, 1 + right)),
                                               name=f"view_{down}_{right}".replace("-", "m"))(padded)
                       for down, right in VIEW_SHIFTS[1:views]]


def build_committee(members: list[keras.Model], name: str = NAME, views: int = 1) -> keras.Model:
    """One model whose output is the mean of the members' probabilities over the views."""
    inputs = keras.Input(shape=INPUT_SHAPE, name="images")
    images, outputs = shifted_views(inputs, views), []
    for index, member in enumerate(members):
        member.name = f"member_{index}"
        outputs += [member(view) for view in images]
    averaged = keras.layers.Average(name="probabilities")(outputs) if len(outputs) > 1 else outputs[0]
    return keras.Model(inputs, averaged, name=name)


def evaluate(model: keras.Model, data: DigitArrays) -> dict:
    probabilities = model.predict(to_model_input(data.test_images), batch_size=EVAL_BATCH, verbose=0)
    predicted = np.argmax(probabilities, axis=1)
    picked = probabilities[np.arange(len(predicted)), data.test_labels]
    return {"accuracy": float(np.mean(predicted == data.test_labels)),
            "errors": int(np.sum(predicted != data.test_labels)),
            "loss": float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))}


def member_setup(run_folder: Path) -> tuple[int | None, str]:
    """From a member's config.json: the width its digits are normalised to (None: as they are),
    and what trained it (digitnet.train; the arrays feed, or the digitnet.portable of older runs, with its
    Keras backend)."""
    saved = RunFolder(run_folder).read_config()
    trainer = saved.get("trainer", "digitnet.train")
    if "keras_backend" in saved:
        trainer += f" (Keras on {saved['keras_backend']})"
    return saved["config"].get("digit_width"), trainer


def training_seconds(run_folder: Path) -> float:
    """Seconds the run spent in training epochs (history.csv), all stages."""
    return float(sum(float(row["seconds"]) for row in RunFolder(run_folder).history_rows()))


def assemble(base: TrainConfig, results: list[RunResult], folder: Path, data: DigitArrays,
             views: int = 1) -> CommitteeResult:
    """Builds, tests, saves and draws the committee of the trained members."""
    members = [keras.models.load_model(result.model_path) for result in results]
    model = build_committee(members, views=views)
    committee = evaluate(model, data)
    widths, trainers = zip(*(member_setup(r.output_dir) for r in results))
    described = (f"{len(results)} {base.arch}" + (f" x {views} views" if views > 1 else "")
                 + (f" (digit widths {','.join(str(w or 'none') for w in widths)})" if any(widths) else ""))
    metrics = {
        "arch": base.arch,
        "members": [{"folder": str(r.output_dir), "seed": r.metrics["seed"], "digit_width": width,
                     "trainer": trainer, "test": r.metrics["test"], "training_seconds": training_seconds(r.output_dir)}
                    for r, width, trainer in zip(results, widths, trainers)],
        "committee": committee,
        "views": views,
        "training_seconds": sum(training_seconds(r.output_dir) for r in results),
        "test_examples": int(len(data.test_images)),
        "headline": f"committee of {described}: test accuracy {100 * committee['accuracy']:.2f} % "
                    f"({committee['errors']} errors in {len(data.test_images):,})",
    }
    files = RunFolder(folder)
    files.write_config({"config": dataclasses.asdict(base), "members": len(results), "views": views})
    files.save_model(model)
    figures_for(get_spec(base.arch).task)(model, to_model_input(data.test_images), data.test_labels,
                                          folder, f"committee of {len(results)} {base.arch}")
    files.write_metrics(metrics)
    return CommitteeResult(folder, metrics)


def train_committee(base: TrainConfig, widths: list[int | None], folder: str | Path, data: DigitArrays,
                    views: int = 1, members_dir: str | Path | None = None) -> CommitteeResult:
    """Trains (or reuses) one member per entry of `widths` in members_dir (default: folder),
    then assembles the committee in folder."""
    folder, members_dir = Path(folder), Path(members_dir or folder)

    def kept(failure) -> str:
        return (f"the finished members are kept in {members_dir}; {failure.advice} and run the same command "
                "again to go on")

    # One process per committee folder; each member's run folder is claimed by its own run.
    with RunFolder(folder).claimed(kept=kept):
        results = train_members(base, widths, members_dir, data)
        return assemble(base, results, folder, data, views=views)


def read_metrics(folder: Path) -> dict:
    return RunFolder(folder).read_metrics()
