import json

import pytest

from digitnet import reproduce
from digitnet.core import cli
from digitnet.experiments.reproduction import MODELS

QUICK = ["--runs", "2", "--train-examples", "200", "--test-examples", "100", "--epochs", "1"]
FIGURES = ["accuracy_vs_epoch.png", "confusion_matrix_lenet.png", "misclassified_lenet.png",
           *[f"all_losses_{arch}.png" for arch in MODELS],
           "reconstructions_autoencoder.png", "reconstructions_conv_autoencoder.png"]


@pytest.mark.slow
def test_reproduce_writes_the_report_and_every_figure_then_resumes(tmp_path, capsys):
    argv = [*QUICK, "--output-dir", str(tmp_path)]
    assert cli.run_command(reproduce.main, argv) == 0
    out = capsys.readouterr().out
    assert "[reproduce] run 10/10: conv_autoencoder seed 1" in out
    report = json.loads((tmp_path / "reproduction.json").read_text())
    labels = {row["label"]: row for row in report["rows"]}
    assert len(labels) == 6 and all(row["runs"] == 2 for row in labels.values())
    assert labels["BPNN"]["paper"] == 97.65 and labels["Conv autoencoder, test BCE"]["paper"] == 0.1129
    for row in labels.values():
        assert row["min"] <= row["mean"] <= row["max"]
    assert report["machine"]["cores"] >= 1 and report["machine"]["tensorflow"]
    assert report["warmup_epochs"] == {}  # 1-epoch runs keep every epoch at the full rate
    markdown = (tmp_path / "reproduction.md").read_text()
    assert "| BPNN | 97.65 |" in markdown and "python -m digitnet.reproduce" in markdown
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == sorted(FIGURES)  # nothing more
    for name in FIGURES:
        assert (tmp_path / "figures" / name).stat().st_size > 0, name
        assert f"figures/{name}" in markdown

    assert cli.run_command(reproduce.main, argv) == 0  # everything is read back, nothing retrained
    out = capsys.readouterr().out
    assert "already holds this finished run" in out and "moved the earlier contents" not in out, out
    assert json.loads((tmp_path / "reproduction.json").read_text())["rows"] == report["rows"]


def test_report_says_which_models_warmed_up(tmp_path):
    argv = ["--runs", "1", "--models", "conv_autoencoder", "--train-examples", "200", "--test-examples", "50",
            "--epochs", "2", "--output-dir", str(tmp_path)]
    assert cli.run_command(reproduce.main, argv) == 0
    assert json.loads((tmp_path / "reproduction.json").read_text())["warmup_epochs"] == {"conv_autoencoder": 1}
    assert "conv_autoencoder first rises linearly from 0 over 1 epoch(s)" in (tmp_path / "reproduction.md").read_text()


def test_reproduce_refuses_bad_options(tmp_path, capsys):
    assert cli.run_command(reproduce.main, ["--runs", "0", "--output-dir", str(tmp_path)]) == 2
    assert "--runs must be a positive integer, received 0" in capsys.readouterr().err
    assert cli.run_command(reproduce.main, ["--models", "resnet", "--output-dir", str(tmp_path)]) == 2
    assert "--models must name some of" in capsys.readouterr().err
