import csv
import json

import keras
import numpy as np
import pytest
from conftest import quick_train_args, run_train_cli

from digitnet.core.errors import TrainingError
from digitnet.training.callbacks import CollapseGuard
from digitnet.training.config import TrainConfig
from digitnet.training.optimizer import learning_rate_schedule


@pytest.mark.parametrize("lr_schedule, last", [("cosine", 0.0), ("constant", 0.005)])
def test_warmup_rises_linearly_from_zero_then_follows_the_schedule(lr_schedule, last):
    config = TrainConfig(arch="lenet", epochs=3, warmup_epochs=1, lr_schedule=lr_schedule).resolved()
    schedule = learning_rate_schedule(0.005, 3, config, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in range(31)]
    np.testing.assert_allclose(rates[:11], np.linspace(0, 0.005, 11), atol=1e-9)
    assert rates[15] == pytest.approx(0.005 if lr_schedule == "constant" else 0.005 * (1 + np.cos(np.pi / 4)) / 2)
    assert rates[30] == pytest.approx(last, abs=1e-9)


def test_registered_warmup_leaves_a_short_run_at_full_rate():
    assert TrainConfig(arch="conv_autoencoder").resolved().warmup_epochs == 1
    assert TrainConfig(arch="conv_autoencoder", epochs=1).resolved().warmup_epochs == 0
    assert TrainConfig(arch="lenet").resolved().warmup_epochs == 0


def test_a_fractional_warmup_rises_within_the_first_epoch():
    config = TrainConfig(arch="fast").resolved()  # registered: 0.2 of its one epoch
    assert config.warmup_epochs == 0.2
    schedule = learning_rate_schedule(0.01, 1, config, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in range(11)]
    np.testing.assert_allclose(rates[:3], [0.0, 0.005, 0.01], atol=1e-9)
    assert rates[10] == pytest.approx(0.0, abs=1e-9)


def test_a_whole_number_of_warmup_epochs_keeps_the_fingerprint_of_an_int():
    """Runs saved before fractions were allowed hold `"warmup_epochs": 1`; the
    same settings given as 1.0 must match them (resume, reuse, worker agreement)."""
    config = TrainConfig(arch="lenet", epochs=3, warmup_epochs=1.0).resolved()
    assert type(config.warmup_epochs) is int
    assert json.dumps(config.result_fields(), sort_keys=True) == json.dumps(
        TrainConfig(arch="lenet", epochs=3, warmup_epochs=1).resolved().result_fields(), sort_keys=True)


def test_the_registered_adam_betas_reach_the_optimizer():
    from digitnet.models.registry import REGISTRY
    from digitnet.training.loop import Stage, compile_for_stage

    config = TrainConfig(arch="fast").resolved()
    model = REGISTRY["fast"].build()
    compile_for_stage(model, REGISTRY["fast"], Stage("train", 1, 0.01, None), config, steps_per_epoch=10)
    assert (model.optimizer.beta_1, model.optimizer.beta_2) == (0.7, 0.9)
    model = REGISTRY["lenet"].build()
    compile_for_stage(model, REGISTRY["lenet"], Stage("train", 1, 0.005, None), config, steps_per_epoch=10)
    assert (model.optimizer.beta_1, model.optimizer.beta_2) == (0.9, 0.999)


def _probe_model(kernel_initializer):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(8, activation="relu", kernel_initializer=kernel_initializer)(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def test_collapse_guard_stops_a_model_that_answers_every_image_alike():
    images = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    guard = CollapseGuard(images, learning_rate=0.005)
    guard.set_model(_probe_model("glorot_uniform"))
    guard.on_epoch_end(0)  # a model whose output depends on its input passes
    guard.set_model(_probe_model("zeros"))  # every ReLU dead: the same output for every image
    with pytest.raises(TrainingError, match=r"collapsed by the end of epoch 3: .* Try --warmup-epochs 1"):
        guard.on_epoch_end(2)


def test_a_run_saved_by_an_earlier_version_is_still_reused(tmp_path, capsys):
    argv = ["--arch", "bpnn", "--output-dir", str(tmp_path), *quick_train_args(epochs=2)]
    assert run_train_cli(argv) == 0
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["result_fields"]["warmup_epochs"]
    saved["result_fields"]["steps_per_execution"] = 1  # a result field in earlier versions
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert run_train_cli(argv) == 0
    assert "already holds this finished run" in capsys.readouterr().out
    # ... but not when the new field's value differs from what the old run did.
    assert run_train_cli(argv + ["--warmup-epochs", "1"]) == 0
    assert "another configuration" in capsys.readouterr().out


def _run(tmp_path, name, arch, steps_per_execution):
    folder = tmp_path / name
    argv = ["--arch", arch, "--output-dir", str(folder), *quick_train_args(train=1050, epochs=2),
            "--seed", "1", "--deterministic", "--steps-per-execution", steps_per_execution]
    assert run_train_cli(argv) == 0
    with open(folder / "all_losses.csv") as file:
        rows = [(r["epoch"], r["batch"], r["loss"]) for r in csv.DictReader(file)]
    return json.loads((folder / "metrics.json").read_text())["weights_sha256"], rows


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["lenet", "autoencoder"])
def test_steps_per_execution_changes_nothing_but_speed(arch, tmp_path):
    """Why steps_per_execution is not a result field: same weights, same loss of every batch."""
    weights_one, rows_one = _run(tmp_path, "one", arch, "1")
    weights_seven, rows_seven = _run(tmp_path, "seven", arch, "7")
    assert weights_one == weights_seven
    assert rows_one == rows_seven and len(rows_one) == 2 * -(-1050 // (100 if arch == "lenet" else 128))
