"""The feeds of the training loop (digitnet/training/feeds.py): the arrays feed's order, what a feed may
resume, and a loop that imports without TensorFlow."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import NO_TENSORFLOW, quick_train_args, run_train, subprocess_env

from digitnet.core.errors import ConfigError
from digitnet.models.registry import get_spec
from digitnet.models.tasks import CLASSIFICATION
from digitnet.training import run_folder
from digitnet.training.callbacks import seed_states
from digitnet.training.config import TrainConfig
from digitnet.training.feeds import ArrayBatches, ArrayFeed, LabelledTrainer
from digitnet.training.loop import open_feed, stages_for
from digitnet.training.resume import agree_on_start

ROOT = Path(__file__).resolve().parents[1]


def numbered_digits(count):
    """uint8 images whose first pixel is their index, labels index % 10: a batch shows which examples it holds."""
    images = np.zeros((count, 28, 28), np.uint8)
    images[:, 0, 0] = np.arange(count)
    return images, (np.arange(count) % 10).astype(np.uint8)


def epoch_batches(batches, epoch):
    batches.start_epoch(epoch)
    return [batches[index] for index in range(len(batches))]


def indices(batch_list):
    return np.concatenate([np.rint(inputs[:, 0, 0, 0] * 255).astype(int) for inputs, _ in batch_list])


def test_the_arrays_feed_order_depends_only_on_seed_and_epoch():
    images, labels = numbered_digits(250)
    walked = ArrayBatches(images, labels, CLASSIFICATION, 32, seed=7)
    for epoch in range(3):
        epoch_batches(walked, epoch)
    fresh = ArrayBatches(images, labels, CLASSIFICATION, 32, seed=7)
    # Epoch 3 after epochs 0-2 in one object is epoch 3 of a new one (a resumed process's).
    after_walk, straight = epoch_batches(walked, 3), epoch_batches(fresh, 3)
    for (inputs, targets), (fresh_inputs, fresh_targets) in zip(after_walk, straight, strict=True):
        np.testing.assert_array_equal(inputs, fresh_inputs)
        np.testing.assert_array_equal(targets, fresh_targets)
    order = indices(after_walk)
    assert sorted(order) == list(range(250)) and list(order) != list(range(250))  # each example once, shuffled
    assert [len(inputs) for inputs, _ in after_walk] == [32] * 7 + [26]
    np.testing.assert_array_equal(np.concatenate([t for _, t in after_walk]), order % 10)  # labels stay with images
    assert list(indices(epoch_batches(fresh, 4))) != list(order)  # another epoch, another order
    other_seed = ArrayBatches(images, labels, CLASSIFICATION, 32, seed=8)
    assert list(indices(epoch_batches(other_seed, 3))) != list(order)


def test_evaluation_batches_keep_the_arrays_order():
    images, labels = numbered_digits(70)
    batches = ArrayBatches(images, labels, CLASSIFICATION, 32)
    assert list(indices(epoch_batches(batches, 5))) == list(range(70))


def test_the_arrays_feed_refuses_what_only_tfdata_does_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="--augment elastic adds an elastic field"):
        TrainConfig(arch="deep_cnn", feed="arrays", augment="elastic", output_dir=str(tmp_path)).resolved()
    with pytest.raises(ConfigError, match="--strategy mirrored needs --feed tfdata"):
        TrainConfig(arch="lenet", feed="arrays", strategy="mirrored", output_dir=str(tmp_path)).resolved()
    with pytest.raises(ConfigError, match="unknown --feed 'disk'"):
        TrainConfig(arch="lenet", feed="disk", output_dir=str(tmp_path)).resolved()
    config = TrainConfig(arch="lenet", feed="arrays", output_dir=str(tmp_path)).resolved()
    with pytest.raises(ConfigError, match="received MirroredStrategy"):
        open_feed(config, strategy=type("MirroredStrategy", (), {})())


def test_the_arrays_feed_draws_style_edits_from_labelled_batches(tmp_path):
    """--augment styles: the training batches carry each image's label to the training model's
    RandomAffine (a LabelledTrainer), which leaves evaluation's unlabelled images alone."""
    config = TrainConfig(arch="lenet", feed="arrays", augment="styles", output_dir=str(tmp_path)).resolved()
    images, labels = numbered_digits(70)
    batches, start_epoch = ArrayFeed().train_batches(images, labels, CLASSIFICATION, config)
    start_epoch(2)
    (inputs, batch_labels), targets = batches[0]
    np.testing.assert_array_equal(batch_labels, targets)
    np.testing.assert_array_equal(batch_labels, np.rint(inputs[:, 0, 0, 0] * 255).astype(int) % 10)
    evaluation = ArrayFeed().eval_batches(images, labels, CLASSIFICATION, config)
    assert evaluation[0][0].shape == (70, 28, 28, 1)  # images alone

    model = get_spec("lenet").build()
    trainer = ArrayFeed().training_model(model, config)
    assert isinstance(trainer, LabelledTrainer)
    assert len(seed_states(trainer)) == 1  # the layer's random state goes into each epoch's backup
    digits = np.asarray(inputs)
    np.testing.assert_array_equal(np.asarray(trainer(digits)), np.asarray(model(digits)))
    trained_on = np.asarray(trainer((digits, batch_labels), training=True))
    assert trained_on.shape == (70, 10) and not np.allclose(trained_on, np.asarray(model(digits)))
    # Presets without style edits keep their label-free training model and batches.
    affine = TrainConfig(arch="lenet", feed="arrays", augment="affine", output_dir=str(tmp_path)).resolved()
    assert not isinstance(ArrayFeed().training_model(model, affine), LabelledTrainer)
    assert ArrayFeed().train_batches(images, labels, CLASSIFICATION, affine)[0][0][0].shape == (70, 28, 28, 1)


def test_the_labelled_trainer_hands_each_label_to_the_style_edits(mnist, tmp_path):
    """Real 1s, the same draws: told they are 1s, some get the continental up-stroke; told they are
    3s (no stroke edit), none does; so the model reads different images."""
    from digitnet.core.images import to_model_input

    config = TrainConfig(arch="lenet", feed="arrays", augment="styles", output_dir=str(tmp_path)).resolved()
    ones = to_model_input(mnist.train_images[mnist.train_labels == 1][:16])
    model = get_spec("lenet").build()

    def trained_on(label):
        trainer = ArrayFeed().training_model(model, config)  # a new layer, the same seed: the same draws
        return np.asarray(trainer((ones, np.full(16, label, np.int32)), training=True))

    np.testing.assert_allclose(trained_on(1), trained_on(1))
    assert not np.allclose(trained_on(1), trained_on(3))


@pytest.mark.slow  # about 20 s on 2 cores
def test_a_tiny_arrays_feed_run_with_style_edits(tmp_path):
    folder = tmp_path / "run"
    run_train(["--arch", "lenet", "--feed", "arrays", "--augment", "styles", *quick_train_args(256, 200, 1),
               "--output-dir", str(folder)])
    config = json.loads((folder / run_folder.CONFIG).read_text())
    assert (config["config"]["feed"], config["config"]["augment"]) == ("arrays", "styles")
    metrics = json.loads((folder / run_folder.METRICS).read_text())
    assert metrics["train_examples"] == 256 and len(metrics["weights_sha256"]) == 64
    assert metrics["test"]["accuracy"] > 0.15  # 256 digits, one epoch: above chance (10 %), no more
    import keras

    saved = keras.models.load_model(folder / "model.keras")  # without the training-only layer
    assert saved.input_shape == (None, 28, 28, 1) and "random_affine" not in [layer.name for layer in saved.layers]
    assert (folder / "augmentation.png").read_bytes().startswith(b"\x89PNG")


def test_the_arrays_feed_draws_its_augmentation_figure_with_the_training_layer(tmp_path, monkeypatch):
    """The run folder's augmentation.png shows copies drawn by RandomAffine, the layer that distorts
    the arrays feed's batches: seeded, each copy new, the up-strokes drawn from the labels."""
    from digitnet.data import augment_figure
    from digitnet.data.sources import load_digits

    drawn = {}
    monkeypatch.setattr(augment_figure, "augmentation_grid",
                        lambda images, preset, path, **kwargs: drawn.setdefault(path, kwargs["augmented"]))
    data = load_digits()
    images, labels = data.train_images[:8], data.train_labels[:8]
    for name in ("a", "b"):
        ArrayFeed().draw_augmentation(images, "styles", tmp_path / name, seed=5, labels=labels)
    copies = drawn[tmp_path / "a"]
    assert copies.shape == (8, 6, 28, 28) and copies.min() >= 0 and copies.max() <= 1
    np.testing.assert_array_equal(copies, drawn[tmp_path / "b"])  # seeded
    originals = images / 255.0
    assert (np.abs(copies - originals[:, None]).max(axis=(2, 3)) > 0.5).all()  # every copy distorted
    assert (np.abs(copies[:, 0] - copies[:, 1]).max(axis=(1, 2)) > 0.5).all()  # and each one anew
    # Told every digit is a 3 (no stroke edit), only the digits whose own label has one change.
    ArrayFeed().draw_augmentation(images, "styles", tmp_path / "c", seed=5, labels=np.full(8, 3))
    changed = np.abs(copies - drawn[tmp_path / "c"]).max(axis=(1, 2, 3)) > 0
    np.testing.assert_array_equal(changed, np.isin(labels, (1, 2, 4, 7, 9)))


def unfinished_run(folder, config, saved_epochs=()):
    folder.mkdir(parents=True)
    (folder / run_folder.CONFIG).write_text(json.dumps(run_folder.config_record(config, "embedded")))
    for epoch in saved_epochs:
        backup = folder / run_folder.BACKUP / "train"
        backup.mkdir(parents=True, exist_ok=True)
        (backup / f"epoch-{epoch}.weights.h5").write_bytes(b"")


def test_an_unfinished_run_resumes_only_under_the_feed_that_started_it(tmp_path):
    arrays = TrainConfig(arch="lenet", epochs=3, feed="arrays", output_dir=str(tmp_path / "a")).resolved()
    tfdata = TrainConfig(arch="lenet", epochs=3, output_dir=str(tmp_path / "a")).resolved()
    unfinished_run(tmp_path / "a", arrays, saved_epochs=(1, 2))
    stages = stages_for(get_spec("lenet"), arrays)
    start = agree_on_start(arrays, tmp_path / "a", stages, ArrayFeed())
    assert start.after == (0, 2) and not start.move_aside
    start = agree_on_start(tfdata, tmp_path / "a", stages, ArrayFeed())
    assert start.after is None and start.move_aside == "it holds an unfinished run of --feed arrays"
    # Finished, the same recipe is reused whichever feed trained it (a committee's members).
    (tmp_path / "a" / run_folder.METRICS).write_text("{}")
    assert agree_on_start(tfdata, tmp_path / "a", stages, ArrayFeed()).finished


def test_the_training_loop_imports_and_answers_without_tensorflow(tmp_path):
    """On a machine with Keras on JAX and no TensorFlow: the loop, the arrays feed, resume and the commands
    that train with them import, and digitnet.train answers --help and a bad flag."""
    (tmp_path / "sitecustomize.py").write_text(NO_TENSORFLOW)
    env = subprocess_env(KERAS_BACKEND="jax", PYTHONPATH=f"{tmp_path}:{ROOT}")
    code = ("import sys, digitnet.training.loop, digitnet.training.feeds, digitnet.training.resume, "
            "digitnet.experiments.committee, digitnet.portable; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] == 'tensorflow'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr[-2000:]
    helped = subprocess.run([sys.executable, "-m", "digitnet.train", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=env)
    assert helped.returncode == 0 and "--feed {tfdata,arrays}" in helped.stdout, helped.stderr[-2000:]
    refused = subprocess.run([sys.executable, "-m", "digitnet.train", "--feed", "disk"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode == 2 and "invalid choice: 'disk'" in refused.stderr, refused.stderr[-2000:]
