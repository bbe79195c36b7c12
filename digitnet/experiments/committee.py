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
A committee may also be assembled without training: from finished run
folders, and from the members of a committee already exported as a
SavedModel (recovered from its variables and checked to give the same
probabilities), so a served committee can gain a member whose siblings'
run folders live on another machine.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from digitnet.core.errors import ConfigError
from digitnet.core.figures import figures_for
from digitnet.core.images import EVAL_BATCH, INPUT_SHAPE, to_model_input
from digitnet.data.sources import DigitArrays
from digitnet.models.registry import get_spec
from digitnet.training.config import TrainConfig
from digitnet.training.loop import RunResult, build_model, say, train
from digitnet.training.run_folder import RunFolder, member_folder

NAME = "committee"
# (down, right) shifts in pixels of each view: the image itself, then one pixel each way.
VIEW_SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
VIEWS = (1, len(VIEW_SHIFTS))


@dataclasses.dataclass(frozen=True)
class Member:
    """A trained member and what the committee's metrics.json says of it."""
    model: keras.Model
    record: dict


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


def member_record(run_folder: Path, metrics: dict) -> dict:
    """What the committee lists of a member run: its folder, seed, augmentation, the width its digits are
    normalised to (None: as they are), what trained it (digitnet.train; the arrays feed, or the
    digitnet.portable of older runs, with its Keras backend), its test metrics and training time."""
    saved = RunFolder(run_folder).read_config()
    trainer = saved.get("trainer", "digitnet.train")
    if "keras_backend" in saved:
        trainer += f" (Keras on {saved['keras_backend']})"
    config = saved["config"]
    return {"folder": str(run_folder), "seed": metrics["seed"], "digit_width": config.get("digit_width"),
            "augment": config.get("augment") or get_spec(config["arch"]).augment, "trainer": trainer,
            "test": metrics["test"], "training_seconds": training_seconds(run_folder)}


def finished_member(run_folder: str | Path, arch: str) -> Member:
    """The member in a finished run folder of `arch` (trained by digitnet.train or reused from elsewhere)."""
    files = RunFolder(run_folder)
    if not (files.finished and files.model.exists() and files.config.exists()):
        raise ConfigError(f"--add takes a finished run folder (config.json, metrics.json and model.keras), "
                          f"received {run_folder}")
    saved, metrics = files.read_config(), files.read_metrics()
    if "members" in saved:
        raise ConfigError(f"--add {run_folder} holds a committee, not a run: --extend its SavedModel instead")
    trained = saved.get("config", {}).get("arch")
    if trained != arch:
        raise ConfigError(f"--add {run_folder} holds a {trained} run; this committee's members are {arch}")
    if not {"seed", "test"} <= set(metrics):
        raise ConfigError(f"--add {run_folder}: its metrics.json lacks the seed or the test metrics of a run "
                          f"digitnet.train finished")
    return Member(keras.models.load_model(files.model), member_record(files.path, metrics))


def published_members(base: TrainConfig, saved_model: str | Path, data: DigitArrays) -> tuple[list[Member], int]:
    """The members of a committee exported as a SavedModel by this module, rebuilt from its model card
    (member arch, digit widths, views) and given the SavedModel's variables, in the card's order (the
    order of the members in the exported graph), and the committee's views; their committee must give
    the SavedModel's probabilities on the first 1,000 test digits, or this is a ConfigError."""
    from digitnet.serving.saved_model import read_card, restore_variables

    card = read_card(saved_model)
    described = card.get("model", {})
    if described.get("arch") != NAME or not described.get("member_runs"):
        raise ConfigError(f"--extend takes a committee's SavedModel folder; the card in {saved_model} "
                          f"describes {described.get('arch')!r}, not a committee listing its members")
    if described["member_arch"] != base.arch:
        raise ConfigError(f"--extend {saved_model} holds {described['member_arch']} members; --arch is {base.arch}")
    spec, runs = get_spec(base.arch), described["member_runs"]
    wanted = ("folder", "seed", "digit_width", "trainer", "test_accuracy", "training_seconds")
    if not all(isinstance(run, dict) and all(key in run for key in wanted) for run in runs):
        raise ConfigError(f"--extend {saved_model}: its card's member_runs lack some of {', '.join(wanted)}")
    views = described.get("views", 1)
    models = [build_model(spec, dataclasses.replace(base, digit_width=run["digit_width"])) for run in runs]
    restore_variables(build_committee(models, views=views), saved_model,
                      to_model_input(data.test_images[:1000]))
    augment = card.get("training", {}).get("augment") or spec.augment
    return [Member(model, {"folder": run["folder"], "seed": run["seed"], "digit_width": run["digit_width"],
                           "augment": run.get("augment") or augment, "trainer": run["trainer"],
                           "test": {"accuracy": run["test_accuracy"]}, "training_seconds": run["training_seconds"],
                           "published_in": run.get("published_in", str(saved_model))})
            for model, run in zip(models, runs)], views


def training_seconds(run_folder: Path) -> float:
    """Seconds the run spent in training epochs (history.csv), all stages."""
    return float(sum(float(row["seconds"]) for row in RunFolder(run_folder).history_rows()))


def assemble(base: TrainConfig, members: list[Member], folder: Path, data: DigitArrays,
             views: int = 1, extends: str | Path | None = None) -> CommitteeResult:
    """Builds, tests, saves and draws the committee of the trained members (the first ones
    recovered from the committee at `extends`, if any)."""
    model = build_committee([member.model for member in members], views=views)
    committee = evaluate(model, data)
    records = [member.record for member in members]
    widths = [record["digit_width"] for record in records]
    augments = sorted({record["augment"] for record in records})
    described = (f"{len(members)} {base.arch}" + (f" x {views} views" if views > 1 else "")
                 + (f" (digit widths {','.join(str(w or 'none') for w in widths)})" if any(widths) else "")
                 + (f" (augment {', '.join(augments)})" if len(augments) > 1 else ""))
    metrics = {
        "arch": base.arch,
        "members": records,
        "committee": committee,
        "views": views,
        "training_seconds": sum(record["training_seconds"] or 0 for record in records),
        "test_examples": int(len(data.test_images)),
        "headline": f"committee of {described}: test accuracy {100 * committee['accuracy']:.2f} % "
                    f"({committee['errors']} errors in {len(data.test_images):,})",
    }
    files = RunFolder(folder)
    files.write_config({"config": dataclasses.asdict(base), "members": len(members), "views": views,
                        **({"extends": str(extends)} if extends else {})})
    files.save_model(model)
    figures_for(get_spec(base.arch).task)(model, to_model_input(data.test_images), data.test_labels,
                                          folder, f"committee of {len(members)} {base.arch}")
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
        members = [Member(keras.models.load_model(r.model_path), member_record(r.output_dir, r.metrics))
                   for r in results]
        return assemble(base, members, folder, data, views=views)


def extend_committee(base: TrainConfig, folder: str | Path, data: DigitArrays, extends: str | Path | None,
                     added: list[str], views: int | None = None) -> CommitteeResult:
    """Assembles, without training, the members of the committee exported at `extends` (if any)
    and the finished runs in `added`, in that order, into `folder`: a new folder or one holding a
    committee, never a run (an added one least of all). `views`: default that committee's (else 1)."""
    folder = Path(folder)
    if any(folder.resolve() == Path(run).resolve() for run in added):
        raise ConfigError(f"--output-dir {folder} is a run that --add joins; assemble into another folder")
    existing = RunFolder(folder)
    if existing.config.exists() and "members" not in existing.read_config():
        raise ConfigError(f"--output-dir {folder} holds a run, not a committee; assemble into another folder")
    with existing.claimed():
        joining = [finished_member(run, base.arch) for run in added]  # each checked before the slow recovery
        published, published_views = published_members(base, extends, data) if extends else ([], 1)
        views = published_views if views is None else views
        return assemble(base, published + joining, folder, data, views=views, extends=extends)


def read_metrics(folder: Path) -> dict:
    return RunFolder(folder).read_metrics()
