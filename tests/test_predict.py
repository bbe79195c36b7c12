import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import digitnet
from digitnet import predict
from digitnet.core import cli
from digitnet.core.errors import DataError
from digitnet.serving import preprocess, runtimes
from digitnet.serving.judge import default_judge_folder
from digitnet.serving.preprocess import to_mnist
from digitnet.serving.runtimes import default_model

# From the repository root, wherever pytest starts.
REFERENCE_SAVED_MODEL = str(Path(__file__).resolve().parent.parent / "saved_models" / "lenet" / "1")


def user_style(mnist_image: np.ndarray, scale: int, offset: tuple[int, int], canvas=(300, 260)) -> Image.Image:
    """What a user sends: dark ink on white paper, large, off-centre, in colour."""
    big = Image.fromarray(255 - mnist_image).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
    page = Image.new("L", canvas, 255)
    page.paste(big, offset)
    return page.convert("RGB")


def test_mnist_digits_survive_preprocessing_nearly_unchanged(mnist):
    for image in mnist.test_images[:20]:
        prepared = to_mnist(image.astype(np.float32) / 255.0)
        rows, cols = np.flatnonzero(prepared.any(axis=1)), np.flatnonzero(prepared.any(axis=0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21, 22)  # 20 + anti-aliasing fringe
        assert np.corrcoef(prepared.ravel(), image.ravel())[0, 1] > 0.95
        ys, xs = np.indices(prepared.shape)
        assert abs((ys * prepared).sum() / prepared.sum() - 14.0) < 0.75
        assert abs((xs * prepared).sum() / prepared.sum() - 14.0) < 0.75


@pytest.mark.parametrize("scale, offset, suffix", [(3, (10, 150), ".png"), (6, (100, 0), ".jpg"), (1, (250, 200), ".png")])
def test_user_images_get_the_class_of_the_mnist_digit(mnist, tmp_path, scale, offset, suffix):
    keep = list(range(30))
    paths = []
    for index in keep:
        path = tmp_path / f"digit{index}{suffix}"
        user_style(mnist.test_images[index], scale, offset, canvas=(28 * scale + 300, 28 * scale + 260)).save(path)
        paths.append(str(path))
    results = predict.predict_files(REFERENCE_SAVED_MODEL, paths)
    direct = predict.predict_files(REFERENCE_SAVED_MODEL, [])  # the model loads with no files too
    assert direct == []
    predicted = np.array([r["digit"] for r in results])
    assert np.mean(predicted == mnist.test_labels[keep]) >= 0.95


def test_bad_files_get_their_own_error_and_the_rest_are_answered(mnist, tmp_path, capsys, monkeypatch):
    good = tmp_path / "good.png"
    user_style(mnist.test_images[0], 3, (20, 20)).save(good)
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    Image.new("L", (400, 400), 255).save(tmp_path / "huge.png")
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 100_000)
    files = [str(tmp_path / n) for n in ("text.png", "empty.png", "blank.png", "huge.png", "good.png", "missing.png")]
    code = cli.run_command(predict.main, ["--model", REFERENCE_SAVED_MODEL, *files])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"{good}: 7 (probability" in out
    assert "text.png: not an image file" in err
    assert "empty.png: not an image file" in err
    assert "blank.png: no digit found" in err
    assert "huge.png: image of 400x400 pixels is too large" in err
    assert "missing.png: file not found" in err
    assert "Traceback" not in err


def test_not_a_model(tmp_path):
    with pytest.raises(DataError, match="not a model"):
        predict.predict_files(str(tmp_path), [])


def test_predict_with_a_users_own_keras_classifier(tmp_path):
    """Any Keras model from [28, 28, 1] images to 10 probabilities works, whatever its name."""
    import keras
    from PIL import Image

    from digitnet.predict import predict_files

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)  # named 'functional...', not a registered arch
    model.save(tmp_path / "mine.keras")
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    Image.fromarray(digit).save(tmp_path / "one.png")
    (result,) = predict_files(str(tmp_path / "mine.keras"), [str(tmp_path / "one.png")])
    prepared = result["image"]  # what digitnet's preprocessing made of the file
    expected = model.predict(prepared[None, :, :, None].astype(np.float32) / 255.0, verbose=0)[0]
    assert result["digit"] == int(np.argmax(expected))
    np.testing.assert_allclose(result["probabilities"], expected, atol=1e-5)


def test_without_model_the_newest_committee_answers_else_lenet_and_it_says_which(mnist, tmp_path, capsys, monkeypatch):
    image = tmp_path / "seven.png"
    user_style(mnist.test_images[0], 3, (20, 20)).save(image)
    reference = os.path.abspath(REFERENCE_SAVED_MODEL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runtimes, "CHECKOUT_MODELS", tmp_path / "no_checkout" / "saved_models")
    assert cli.run_command(predict.main, [str(image)]) == cli.EXIT_USAGE  # nothing exported here yet
    assert "no --model given and no reference model under saved_models/" in capsys.readouterr().err
    (tmp_path / "saved_models" / "lenet").mkdir(parents=True)
    (tmp_path / "saved_models" / "lenet" / "1").symlink_to(reference)
    assert cli.run_command(predict.main, [str(image)]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(f"model: {os.path.join('saved_models', 'lenet', '1')} (the reference LeNet;")
    assert f"{image}: 7 (probability" in out
    (tmp_path / "saved_models" / "committee").mkdir()
    for version in ("2", "10"):  # the newest version, by number, of the committee
        (tmp_path / "saved_models" / "committee" / version).symlink_to(reference)
    assert cli.run_command(predict.main, [str(image)]) == 0
    assert capsys.readouterr().err.startswith(
        f"model: {os.path.join('saved_models', 'committee', '10')} (the reference committee;")


def test_from_another_folder_the_checkouts_reference_models_answer(mnist, tmp_path, capsys, monkeypatch):
    image = tmp_path / "seven.png"
    user_style(mnist.test_images[0], 3, (20, 20)).save(image)
    checkout = Path(digitnet.__file__).resolve().parents[1] / "saved_models"
    monkeypatch.chdir(tmp_path)  # no saved_models/ here, then one without models: the checkout's answer
    for _ in range(2):
        path, description = default_model()
        assert Path(path).is_relative_to(checkout) and description == "the reference committee, int8 TFLite"
        judges = [p for p in (checkout / "not_a_digit").iterdir() if (p / "judge.json").is_file()]
        assert default_judge_folder() == max(judges, key=lambda p: int(p.name))
        code, out, err = run_predict(capsys, "--not-a-digit", str(image))
        assert code == 0 and out.startswith(f"{image}: 7")
        assert err.strip() == f"model: {path} ({description}; --model chooses another)"
        (tmp_path / "saved_models" / "lenet").mkdir(parents=True, exist_ok=True)


def test_without_model_the_int8_tflite_committee_answers_before_the_saved_model(tmp_path, monkeypatch):
    reference = os.path.abspath(REFERENCE_SAVED_MODEL)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "saved_models" / "committee").mkdir(parents=True)
    (tmp_path / "saved_models" / "committee" / "3").symlink_to(reference)
    tflite = tmp_path / "saved_models" / "tflite" / "committee"
    for version in ("1", "2", "9"):
        (tflite / version).mkdir(parents=True)
    (tflite / "1" / "committee_int8.tflite").write_bytes(b"")
    (tflite / "2" / "committee_int8.tflite").write_bytes(b"")
    (tflite / "9" / "committee_float32.tflite").write_bytes(b"")  # the newest version has no int8 file
    assert default_model() == (os.path.join("saved_models", "tflite", "committee", "2", "committee_int8.tflite"),
                                       "the reference committee, int8 TFLite")
    for version in ("1", "2"):
        (tflite / version / "committee_int8.tflite").unlink()
    assert default_model() == (os.path.join("saved_models", "committee", "3"), "the reference committee")


# --not-a-digit: the judge on every piece (digitnet/serving/judged_reading.py), with the default model.
PLAIN_FIELDS, PLAIN_DIGIT_FIELDS = {"file", "number", "digits"}, {"digit", "confidence", "box", "probabilities"}
JUDGE_FIELDS, JUDGE_DIGIT_FIELDS = {"judged_number", "not_a_digit"}, \
    {"not_a_digit", "not_a_digit_probability", "calibrated_confidence", "reason"}
# benchmarks/not_a_digit.py: 96.4 % of 3,000 generated non-digits refused (as drawn), 0.30 % of 3,000 photographed
# MNIST test digits refused.
MEASURED_REFUSED_NEGATIVES, MEASURED_REFUSED_PHOTOS = 0.964, 0.003


def run_predict(capsys, *args) -> tuple[int, str, str]:
    code = cli.run_command(predict.main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out: str) -> list[dict]:
    import json

    return [json.loads(line) for line in out.splitlines()]


def negative_files(mnist, folder: Path, count: int) -> list[str]:
    """Generated non-digits of the one-piece kinds (seed no fit used), dark ink on white, 3x enlarged."""
    from digitnet.data.negatives import generate

    drawn = generate(count, seed=4243, kinds=("letter", "shape", "scribble", "crossed_out"),
                     digits=mnist.test_images[5000:], labels=mnist.test_labels[5000:])
    paths = []
    for index, image in enumerate(drawn.images):
        paths.append(str(folder / f"{drawn.kinds[index]}_{index}.png"))
        Image.fromarray(255 - np.kron(image, np.ones((3, 3), np.uint8))).save(paths[-1])
    return paths


def digit_files(mnist, folder: Path, count: int) -> list[str]:
    paths = []
    for index in range(count):
        paths.append(str(folder / f"digit{index}.png"))
        user_style(mnist.test_images[index], 3, (20 + index, 30)).save(paths[-1])
    return paths


def test_not_a_digit_refuses_generated_non_digits_at_the_measured_rate(mnist, tmp_path, capsys):
    """The bound: the benchmark's measured rate less four binomial standard deviations for this
    sample (about 81 % of 24); a judge that refuses nothing, or only one kind, fails it."""
    paths = negative_files(mnist, tmp_path, 24)
    code, out, _ = run_predict(capsys, "--not-a-digit", *paths)
    assert code == 0
    refused = [line.startswith(f"{path}: not a digit: ") for path, line in zip(paths, out.splitlines())]
    p, n = MEASURED_REFUSED_NEGATIVES, len(paths)
    assert np.mean(refused) >= p - 4 * np.sqrt(p * (1 - p) / n), out
    code, out, _ = run_predict(capsys, "--not-a-digit", "--json", *paths)
    records = json_lines(out)
    assert [r["not_a_digit"] for r in records] == refused
    assert all(r["judged_number"] == "?" * len(r["digits"]) for r, no in zip(records, refused) if no)


def test_not_a_digit_reads_mnist_digits_as_without_the_flag(mnist, tmp_path, capsys):
    """At most 1 of 30 MNIST test digits refused (the benchmark's 0.30 % of photos makes 0.09 of 30),
    and every digit read is the digit read without the flag, with its calibrated probability."""
    paths = digit_files(mnist, tmp_path, 30)
    plain = json_lines(run_predict(capsys, "--json", *paths)[1])
    judged = json_lines(run_predict(capsys, "--json", "--not-a-digit", *paths)[1])
    refused = [r["not_a_digit"] for r in judged]
    assert sum(refused) <= max(1, round(4 * MEASURED_REFUSED_PHOTOS * len(paths))), judged
    assert [r["number"] for r in judged] == [r["number"] for r in plain]
    assert np.mean([r["number"] == str(label) for r, label in zip(plain, mnist.test_labels)]) >= 0.95
    lines = run_predict(capsys, "--not-a-digit", *paths)[1].splitlines()
    for path, line, record in zip(paths, lines, judged):
        if not record["not_a_digit"]:
            digit = record["digits"][0]
            assert line == f"{path}: {digit['digit']} (probability {digit['calibrated_confidence']:.3f})"


def test_the_json_keeps_its_fields_and_the_flag_adds_the_judges(mnist, tmp_path, capsys):
    paths = digit_files(mnist, tmp_path, 2) + negative_files(mnist, tmp_path, 2)
    number = tmp_path / "number.png"  # two digits and a letter in a row
    letter = np.asarray(Image.open(paths[2]).convert("L").resize((28, 28)))
    Image.fromarray(255 - np.concatenate([mnist.test_images[0], 255 - letter, mnist.test_images[1]], axis=1)).resize(
        (252, 84)).save(number)
    paths.append(str(number))
    plain = json_lines(run_predict(capsys, "--json", *paths)[1])
    judged = json_lines(run_predict(capsys, "--json", "--not-a-digit", *paths)[1])
    for before, after in zip(plain, judged):
        assert set(before) == PLAIN_FIELDS and set(after) == PLAIN_FIELDS | JUDGE_FIELDS
        assert all(set(d) == PLAIN_DIGIT_FIELDS for d in before["digits"])
        assert all(set(d) == PLAIN_DIGIT_FIELDS | JUDGE_DIGIT_FIELDS for d in after["digits"])
        assert {k: after[k] for k in PLAIN_FIELDS - {"digits"}} == {k: before[k] for k in PLAIN_FIELDS - {"digits"}}
        assert [{k: d[k] for k in PLAIN_DIGIT_FIELDS} for d in after["digits"]] == before["digits"]
        assert after["judged_number"] == "".join("?" if d["not_a_digit"] else str(d["digit"]) for d in after["digits"])
        assert after["not_a_digit"] == all(d["not_a_digit"] for d in after["digits"])
        for digit in after["digits"]:
            assert (digit["reason"] is None) == (not digit["not_a_digit"])
            assert 0 <= digit["not_a_digit_probability"] <= 1
            assert digit["calibrated_confidence"] == pytest.approx(calibrated_top(digit["probabilities"]), abs=1e-3)
    # The letter (an H) between the 7 and the 2 is one piece, refused; the classifier's number stays as it was.
    # The pair reader has learnt that ink which is no digit is "not a pair" (pair_reader --letters), so it
    # leaves the H whole, as reading without the pair reader does.
    assert (plain[-1]["number"], judged[-1]["judged_number"], judged[-1]["not_a_digit"]) == ("742", "7?2", False)
    from digitnet.serving.judged_reading import judge_for, judged as judge_reading
    from digitnet.serving.reading import read
    from digitnet.serving.runtimes import default_model

    model = default_model()[0]
    alone = judge_reading(read(str(number), model, read_pairs=False), judge_for(model))
    assert (alone.reading.number, alone.number, alone.not_a_digit) == ("742", "7?2", False)


def calibrated_top(probabilities) -> float:
    """The top probability after temperature scaling with the default model's temperature in the
    newest judge.json (the answered digit's, where it holds one per answer), computed here:
    softmax(log p / T), probabilities under 1e-4 counting as 1e-4 (calibration.py's FLOOR)."""
    from digitnet.serving.judge import fingerprint
    from digitnet.serving.runtimes import default_model

    judges = Path(__file__).resolve().parent.parent / "saved_models" / "not_a_digit"
    folder = max((p for p in judges.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    settings = json.loads((folder / "judge.json").read_text())["models"][fingerprint(default_model()[0])]
    temperature = settings.get("temperatures_by_answer", [settings["temperature"]] * 10)[int(np.argmax(probabilities))]
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-4, 1)) / temperature
    return float(np.max(np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()))


def test_without_the_flag_the_lines_are_as_before(mnist, tmp_path, capsys):
    """The plain line, for digits and non-digits alike: `file: 7 (probability 0.996)` or
    `file: 2026 (0.99 0.97 0.99 0.98)` with the served probabilities."""
    paths = digit_files(mnist, tmp_path, 2) + negative_files(mnist, tmp_path, 4)
    code, out, _ = run_predict(capsys, *paths)
    records = json_lines(run_predict(capsys, "--json", *paths)[1])
    assert code == 0 and "not a digit" not in out and "?" not in out
    for path, line, record in zip(paths, out.splitlines(), records):
        confidences = [d["confidence"] for d in record["digits"]]
        shown = f"probability {confidences[0]:.3f}" if len(confidences) == 1 else \
            " ".join(f"{c:.2f}" for c in confidences)
        assert line == f"{path}: {record['number']} ({shown})"


def test_not_a_digit_on_the_default_model_imports_no_tensorflow(mnist, tmp_path):
    import subprocess
    import sys

    paths = negative_files(mnist, tmp_path, 1) + digit_files(mnist, tmp_path, 1)
    code = ("import sys; from digitnet import predict; from digitnet.core import cli; "
            f"code = cli.run_command(predict.main, ['--not-a-digit', *{paths!r}]); "
            "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    lines = done.stdout.splitlines()
    assert lines[-1].split() == ["0", "False", "False"], done.stdout + done.stderr[-2000:]
    assert lines[0].startswith(f"{paths[0]}: not a digit: ") and lines[1].startswith(f"{paths[1]}: 7 (probability")


def test_not_a_digit_with_a_model_the_judge_does_not_know_uses_the_detector_alone(tmp_path):
    import shutil

    from digitnet.serving.judged_reading import judge_for

    judge = judge_for(REFERENCE_SAVED_MODEL)
    assert judge.model.calibration.temperature != 1.0  # the reference LeNet is known ...
    copy = tmp_path / "lenet_copy"
    shutil.copytree(REFERENCE_SAVED_MODEL, copy)
    (copy / "saved_model.pb").write_bytes((copy / "saved_model.pb").read_bytes() + b"\0")  # ... another file is not
    judge = judge_for(copy)
    assert judge.model.calibration.temperature == 1.0 and judge.model.confidence_floor == 0.0


def test_not_a_digit_without_a_judge_folder_is_one_clear_line(mnist, tmp_path, capsys, monkeypatch):
    paths = digit_files(mnist, tmp_path, 1)
    model = os.path.abspath(REFERENCE_SAVED_MODEL)
    monkeypatch.chdir(tmp_path)  # no saved_models/not_a_digit here, nor in a checkout
    monkeypatch.setattr(runtimes, "CHECKOUT_MODELS", tmp_path / "no_checkout" / "saved_models")
    code, out, err = run_predict(capsys, "--not-a-digit", "--model", model, *paths)
    assert code == cli.EXIT_USAGE and out == ""
    assert err.startswith("error: no not-a-digit judge") and "Traceback" not in err
