import csv
import json

import keras
import numpy as np
import pytest
from conftest import QUICK_TRAIN, run_train_cli

from digitnet.core import cli
from digitnet.models.registry import REGISTRY

QUICK = [*QUICK_TRAIN, "--pretrain-epochs", "1"]
COMMON_FILES = ["config.json", "history.csv", "all_losses.csv", "all_losses.png", "metrics.json", "model.keras"]
TASK_FILES = {"classification": ["confusion_matrix.png", "misclassified.png"], "reconstruction": ["reconstructions.png"]}
SLOW_ARCHS = {"ae_classifier", "deep_cnn"}  # over 10 s: pretraining and two stages; augmentation


@pytest.mark.parametrize("arch", [pytest.param(arch, marks=pytest.mark.slow) if arch in SLOW_ARCHS else arch
                                  for arch in REGISTRY])
def test_cli_run_writes_every_file(arch, tmp_path, capsys):
    assert run_train_cli(["--arch", arch, "--output-dir", str(tmp_path), *QUICK]) == 0
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    spec = REGISTRY[arch]
    assert ("test accuracy" if spec.task.name == "classification" else "test reconstruction loss") in last_line
    augmented = ["augmentation.png"] if spec.augment != "none" else []
    for name in COMMON_FILES + TASK_FILES[spec.task.name] + augmented:
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "augmentation.png").exists() == bool(augmented)
    assert not (tmp_path / "backup").exists()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train_examples"] == 300 and metrics["test_examples"] == 100
    with open(tmp_path / "all_losses.csv") as file:
        rows = list(csv.DictReader(file))
    stages = len(metrics["stages"])
    assert len(rows) == stages * 300 // spec.batch_size + stages * (300 % spec.batch_size > 0)
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    model = keras.models.load_model(tmp_path / "model.keras")
    assert model.name == arch


@pytest.mark.parametrize("steps_per_execution", ["1", "3"])
def test_all_losses_are_the_losses_of_each_batch(steps_per_execution, tmp_path):
    """The logged per-batch losses average back to Keras' epoch loss, at any steps_per_execution."""
    assert run_train_cli(["--arch", "bpnn", "--output-dir", str(tmp_path), *QUICK, "--batch-size", "64",
                          "--steps-per-execution", steps_per_execution]) == 0
    with open(tmp_path / "all_losses.csv") as file:
        losses = [float(r["loss"]) for r in csv.DictReader(file)]
    with open(tmp_path / "history.csv") as file:
        epoch_loss = float(next(csv.DictReader(file))["loss"])
    sizes = [64, 64, 64, 64, 44]
    assert np.average(losses, weights=sizes) == pytest.approx(epoch_loss, rel=1e-5)
    assert len(set(losses)) == 5


def _same(first, second):
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


@pytest.mark.slow
def test_ae_classifier_starts_from_the_pretrained_encoder_frozen_then_fine_tunes_it(tmp_path, monkeypatch):
    """The classifier's encoder is the pretrained autoencoder's, untouched by the frozen stage (while the head
    learns), and trained by the fine-tuning stage: the weights around each stage, not just the stage names."""
    from digitnet.training import loop

    around = {}  # stage name -> (encoder before, encoder after, head before, head after)
    original = loop.run_stage

    def recording(model, *args, **kwargs):
        stage = next(value for value in [*args, *kwargs.values()] if isinstance(value, loop.Stage))
        encoder = model.get_layer("encoder")
        head = [w for layer in model.layers if layer is not encoder for w in layer.weights]
        before = (encoder.get_weights(), [w.numpy().copy() for w in head])
        result = original(model, *args, **kwargs)
        around[stage.name] = (before[0], encoder.get_weights(), before[1], [w.numpy() for w in head])
        return result

    monkeypatch.setattr(loop, "run_stage", recording)
    assert run_train_cli(["--arch", "ae_classifier", "--output-dir", str(tmp_path), *QUICK]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics["stages"]) == {"frozen", "fine_tuned"} and set(around) == {"train", "frozen", "fine_tuned"}
    assert "frozen: test accuracy" in metrics["headline"] and "fine_tuned: test accuracy" in metrics["headline"]
    pretrained = keras.models.load_model(tmp_path / "pretrain-autoencoder" / "model.keras").get_layer("encoder")
    encoder_in, encoder_out, head_in, head_out = around["frozen"]
    assert _same(encoder_in, pretrained.get_weights())  # the pretrained autoencoder's encoder, as trained
    assert _same(encoder_out, encoder_in)  # frozen ...
    assert not _same(head_out, head_in)  # ... while the head learns
    fine_in, fine_out, _, _ = around["fine_tuned"]
    assert _same(fine_in, encoder_out) and not _same(fine_out, fine_in)  # fine-tuning trains the encoder
    final = keras.models.load_model(tmp_path / "model.keras").get_layer("encoder")
    assert _same(final.get_weights(), fine_out)


def test_same_command_reuses_a_finished_run_and_fresh_moves_it_aside(tmp_path, capsys):
    folder = tmp_path / "run"
    argv = ["--arch", "bpnn", "--output-dir", str(folder), *QUICK]
    assert run_train_cli(argv) == 0
    first = (folder / "metrics.json").read_text()
    assert run_train_cli(argv) == 0
    assert "already holds this finished run" in capsys.readouterr().out
    assert (folder / "metrics.json").read_text() == first
    assert run_train_cli(argv + ["--fresh"]) == 0
    archived = [p for p in tmp_path.iterdir() if p.name.startswith("run.")]
    assert len(archived) == 1 and (archived[0] / "metrics.json").read_text() == first


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch-size", "0"], "--batch-size must be a positive integer, received 0"),
        (["--epochs", "-3"], "--epochs must be a positive integer, received -3"),
        (["--learning-rate", "0"], "--learning-rate must be a positive number, received 0.0"),
        (["--train-examples", "0"], "--train-examples must be a positive integer, received 0"),
        (["--validation-split", "1.5"], "--validation-split must be in"),
        (["--data-dir", "/nonexistent/mnist"], "/nonexistent/mnist: data folder not found"),
        (["--encoder", "/nonexistent/ae.keras"], "--encoder: no such file"),
        (["--test-every-epoch", "--validation-split", "0.1"], "give one (received --validation-split 0.1)"),
        (["--warmup-epochs", "-1"], "--warmup-epochs must be a non-negative number, received -1"),
        (["--epochs", "2", "--warmup-epochs", "2"], "--warmup-epochs must be fewer than --epochs (2), received 2"),
    ],
)
def test_bad_values_give_one_clear_line_and_exit_2(argv, message, tmp_path, capsys):
    assert run_train_cli(["--output-dir", str(tmp_path / "run"), "--quiet", *argv]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_output_dir_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    assert run_train_cli(["--output-dir", str(target)]) == cli.EXIT_USAGE
    assert "is a file, expected a folder" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_unknown_arch_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as raised:
        run_train_cli(["--arch", "resnet"])
    assert raised.value.code == 2
    assert "invalid choice: 'resnet'" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path, capsys):
    assert run_train_cli(["--output-dir", str(tmp_path / "run"), "--batch-size", "0", "--debug"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "Traceback" in err and "--batch-size must be a positive integer" in err
