"""The web page's not-a-digit judge (export/web/src/judge.js, run by Node) against
digitnet/serving/judge.py: the weights the build exports (export/web/judge_files.mjs) from the
newest saved_models/not_a_digit/<version>/, the settings it gives each TFLite file, and the
verdicts on MNIST test digits and digitnet.data.negatives' non-digits."""
import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from digitnet.data.negatives import generate
from digitnet.serving.judge import DETECTOR_LAYERS, default_judge_folder, load_judge
from digitnet.serving.runtimes import TFLitePredictor

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "export" / "web"
SAVED_MODELS = ROOT / "saved_models"
TOLERANCE = 1e-6  # detector probabilities: float32 sums taken in another order (2e-7 apart at most)

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")

NODE_RUNNER = """
import { readFileSync } from "node:fs";
const [filesModule, judgeModule, savedModels, outDir, inputPath] = process.argv.slice(2);
const { exportJudge } = await import(filesModule);
const { DETECTOR_LAYERS, judgeDigit, loadDetector } = await import(judgeModule);
const settingsFor = exportJudge(savedModels, outDir);
const spec = JSON.parse(readFileSync(`${outDir}/judge.json`, "utf8"));
const bytes = readFileSync(`${outDir}/${spec.file}`);
const detector = loadDetector(spec, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
const { images, models } = JSON.parse(readFileSync(inputPath, "utf8"));
const pixels = Buffer.from(images, "base64");
const results = models.map(({ path, probabilities }) => {
  const settings = settingsFor(path);
  const verdicts = probabilities.map((p, i) => judgeDigit(detector, settings, pixels.subarray(784 * i, 784 * (i + 1)), p));
  return { settings, verdicts };
});
process.stdout.write(JSON.stringify({ source: spec.source, threshold: spec.threshold, layers: DETECTOR_LAYERS, results }));
"""


def _newest(kind: str) -> Path | None:
    base = SAVED_MODELS / "tflite" / kind
    versions = [v for v in base.glob("*") if v.name.isdigit()] if base.is_dir() else []
    return max(versions, key=lambda v: int(v.name)) if versions else None


def _model_files() -> list[Path]:
    """The TFLite files the page offers (build.mjs: the committee's int8, LeNet's int8 and float32)."""
    files = []
    for kind, variants in (("committee", ("int8",)), ("lenet", ("int8", "float32"))):
        folder = _newest(kind)
        files += [folder / f"{kind}_{v}.tflite" for v in variants] if folder else []
    return files


def _run_node(tmp_path: Path, saved_models: Path, images: np.ndarray, models: dict[Path, np.ndarray]) -> dict:
    shutil.copy(WEB / "src" / "judge.js", tmp_path / "judge.mjs")  # the page's source, as an ES module for Node
    (tmp_path / "run.mjs").write_text(NODE_RUNNER)
    (tmp_path / "out").mkdir()
    listing = {"images": base64.b64encode(images.astype(np.uint8).tobytes()).decode(),
               "models": [{"path": str(path), "probabilities": p.tolist()} for path, p in models.items()]}
    (tmp_path / "input.json").write_text(json.dumps(listing))
    run = subprocess.run(["node", str(tmp_path / "run.mjs"), str(WEB / "judge_files.mjs"), str(tmp_path / "judge.mjs"),
                          str(saved_models), str(tmp_path / "out"), str(tmp_path / "input.json")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _inputs(mnist) -> np.ndarray:
    """MNIST test digits, then the generated non-digits of every kind (drawn from test digits)."""
    negatives = generate(120, seed=300, digits=mnist.test_images[:2000], labels=mnist.test_labels[:2000])
    return np.concatenate([mnist.test_images[5000:5120], negatives.images])


@pytest.mark.skipif(default_judge_folder(SAVED_MODELS) is None, reason="no saved_models/not_a_digit/<version>")
def test_javascript_judge_matches_python(mnist, tmp_path):
    images = _inputs(mnist)
    flat = np.full((8, 10), 0.88 / 9) + np.eye(10)[:8] * (0.12 - 0.88 / 9)  # unsure: under any floor from 0.15
    models = {}
    for path in _model_files():
        probabilities = TFLitePredictor(path)(images).astype(np.float32)
        models[path] = np.concatenate([probabilities, flat.astype(np.float32)])
    assert models, "no TFLite model under saved_models/tflite"
    inputs = np.concatenate([images, mnist.test_images[:8]])
    found = _run_node(tmp_path, SAVED_MODELS, inputs, models)
    assert tuple(tuple(layer) for layer in found["layers"]) == DETECTOR_LAYERS
    assert found["source"] == f"not_a_digit/{default_judge_folder(SAVED_MODELS).name}"
    reasons, floors = set(), []
    for (path, probabilities), result in zip(models.items(), found["results"]):
        judge = load_judge(path, default_judge_folder(SAVED_MODELS))
        assert found["threshold"] == judge.threshold
        settings = result["settings"]
        assert settings["temperature"] == judge.model.calibration.temperature, path
        assert settings["confidence_floor"] == judge.model.confidence_floor, path
        assert settings["name"] == (None if judge.model.name == str(path) else judge.model.name), path
        verdicts = judge.judge(inputs, probabilities.astype(np.float64))
        js = result["verdicts"]
        js_scores = np.array([v["notADigit"] for v in js])
        python_scores = np.array([v.not_a_digit for v in verdicts])
        np.testing.assert_allclose(js_scores, python_scores, rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose([v["probabilities"] for v in js], [v.probabilities for v in verdicts],
                                   rtol=0, atol=1e-12)
        near = np.abs(python_scores - judge.threshold) <= TOLERANCE  # either side is float32-right there
        assert near.sum() <= 2, f"{near.sum()} scores within {TOLERANCE} of the threshold"
        for index in np.flatnonzero(~near):
            assert js[index]["digit"] == verdicts[index].digit, (path.name, index)
            assert js[index]["reason"] == verdicts[index].reason, (path.name, index)
        refused = np.array([v.digit is None for v in verdicts])
        digits, non_digits = refused[:120], refused[120:240]
        assert digits.mean() <= 0.05 and non_digits.mean() >= 0.8, (digits.mean(), non_digits.mean())
        reasons |= {v.reason.split(" ")[0] for v in verdicts if v.reason}
        floors.append(judge.model.confidence_floor)
    # both rules decided somewhere: the detector's, and the floor's wherever a model has one
    assert reasons == ({"the", "no"} if max(floors) >= 0.15 else {"the"}), (reasons, floors)


def test_the_build_reads_the_newest_judge_version(mnist, tmp_path):
    newest = default_judge_folder(SAVED_MODELS)
    if newest is None:
        pytest.skip("no saved_models/not_a_digit/<version>")
    models = tmp_path / "models"
    shutil.copytree(newest, models / "not_a_digit" / "2")
    shutil.copytree(newest, models / "not_a_digit" / "10")  # 10 is newer than 2 (numbers, not strings)
    (models / "not_a_digit" / "11").mkdir()  # a version without judge.json is not a judge
    record = json.loads((models / "not_a_digit" / "10" / "judge.json").read_text())
    record["detector"]["threshold"] = 0.5
    (models / "not_a_digit" / "10" / "judge.json").write_text(json.dumps(record))
    images = mnist.test_images[:4]
    found = _run_node(tmp_path, models, images, {})
    assert default_judge_folder(models).name == "10"
    assert found["source"] == "not_a_digit/10" and found["threshold"] == 0.5
