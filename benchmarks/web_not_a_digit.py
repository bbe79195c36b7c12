"""The web page's "not a digit" on what a person draws on its pad, and what the judge costs there.

    python benchmarks/web_not_a_digit.py [--count 1000] [--seed 0] [--model M.tflite] [--judge FOLDER]

Draws digitnet/data/other_styles.py's pen-trajectory digits (held back: nothing is chosen on
them) as the page's pad holds them: black on the 840x280 white pad, with the page's round pen
(280 / 14 = 20 pixels wide, anti-aliased by drawing at 4x and averaging), the digit 45-90 % of
the pad's height, anywhere along it; and beside them as many generated non-digits
(digitnet.data.negatives, every kind, from MNIST test digits), each 28x28 image enlarged to the
same heights. Each pad is read as the page reads it (digitnet.serving.reading: the page gives the
same boxes, inputs and probabilities, tests/test_web_demo.py) with the page's default model (the
newest committee int8 TFLite) and judged as the page judges (judge.py; judge.js gives the same
verdicts, tests/test_web_judge.py), with the newest saved_models/not_a_digit/<version>/ as the
page's build takes it, or --judge. Prints how many are answered "not a digit", and for the
digits how many are read right; then times export/web/src/judge.js in Node on the prepared
inputs (milliseconds per digit, the page's cost beside the model's). Writes
benchmarks/results/web_not_a_digit_<machine>_<date>.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from common import print_table, write_results

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "export" / "web"
PAD = (840, 280)  # export/web/src/index.html's canvas
PEN = PAD[1] / 14  # main.js: context.lineWidth = canvas.height / 14
SUPERSAMPLE = 4

NODE_TIMER = """
import { readFileSync } from "node:fs";
const [filesModule, judgeModule, savedModels, outDir, inputPath, runs] = process.argv.slice(2);
const { exportJudge } = await import(filesModule);
const { judgeDigit, loadDetector } = await import(judgeModule);
exportJudge(savedModels, outDir);
const spec = JSON.parse(readFileSync(`${outDir}/judge.json`, "utf8"));
const bytes = readFileSync(`${outDir}/${spec.file}`);
const detector = loadDetector(spec, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
const pixels = readFileSync(inputPath);
const count = pixels.length / 784;
const settings = { temperature: 1, confidence_floor: 0 };
const probabilities = Array(10).fill(0.1);
const times = [];
for (let run = 0; run < Number(runs); run += 1) {
  const started = performance.now();
  for (let i = 0; i < count; i += 1) judgeDigit(detector, settings, pixels.subarray(784 * i, 784 * (i + 1)), probabilities);
  times.push((performance.now() - started) / count);
}
process.stdout.write(JSON.stringify(times));
"""


def _pad(strokes: list[np.ndarray], rng: np.random.Generator) -> Image.Image:
    """Centred strokes (digit height 1) drawn on the pad with its pen, anti-aliased."""
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    height = rng.uniform(0.45, 0.9) * PAD[1] / (high - low)[1]  # the ink's height, without the pen's
    size = (high - low) * height
    offset = np.array([rng.uniform(PEN / 2, PAD[0] - PEN / 2 - size[0]), rng.uniform(PEN / 2, PAD[1] - PEN / 2 - size[1])])
    big = Image.new("L", (PAD[0] * SUPERSAMPLE, PAD[1] * SUPERSAMPLE), 255)
    draw = ImageDraw.Draw(big)
    pen = PEN * SUPERSAMPLE
    for stroke in strokes:
        pixels = [tuple(SUPERSAMPLE * p) for p in ((stroke - low) * height + offset)]
        draw.line(pixels, fill=0, width=int(round(pen)), joint="curve")
        for x, y in pixels:  # round caps and joints
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=0)
    return big.resize(PAD, Image.Resampling.BOX)


def _enlarged(image: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A 28x28 non-digit (white on black) enlarged, dark on the white pad."""
    side = int(rng.uniform(0.45, 0.9) * PAD[1] * 28 / 20)  # its 20-pixel box as high as a drawn digit
    picture = Image.fromarray(255 - image).resize((side, side), Image.Resampling.BILINEAR)
    pad = Image.new("L", PAD, 255)
    spare = PAD[1] - side  # negative when the field's margins stick out of the pad (its ink does not)
    pad.paste(picture, (int(rng.integers(0, PAD[0] - side)), int(rng.integers(min(0, spare), max(0, spare) + 1))))
    return pad


def _judged(pads: list[Image.Image], predictor, judge):
    from digitnet.serving.judged_reading import judged
    from digitnet.serving.reading import read

    return [judged(read(pad, predictor), judge) for pad in pads]


def _node_ms(inputs: np.ndarray, runs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        shutil.copy(WEB / "src" / "judge.js", folder / "judge.mjs")
        (folder / "time.mjs").write_text(NODE_TIMER)
        (folder / "out").mkdir()
        (folder / "inputs.bin").write_bytes(inputs.astype(np.uint8).tobytes())
        done = subprocess.run(["node", str(folder / "time.mjs"), str(WEB / "judge_files.mjs"), str(folder / "judge.mjs"),
                               str(ROOT / "saved_models"), str(folder / "out"), str(folder / "inputs.bin"), str(runs)],
                              capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"node failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="digits, and as many non-digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="a .tflite file (default: the newest committee int8, the page's default)")
    parser.add_argument("--judge", help="a saved_models/not_a_digit/<version> folder (default: the newest)")
    parser.add_argument("--runs", type=int, default=5, help="Node timing runs over the prepared inputs")
    args = parser.parse_args()

    from digitnet.data.negatives import generate
    from digitnet.data.other_styles import STYLES, place
    from digitnet.data.sources import load_digits
    from digitnet.serving.judge import default_judge_folder, load_judge
    from digitnet.serving.runtimes import TFLitePredictor

    model = args.model or str(max((ROOT / "saved_models" / "tflite" / "committee").glob("*/committee_int8.tflite"),
                                  key=lambda p: int(p.parent.name)))
    folder = Path(args.judge).resolve() if args.judge else default_judge_folder(ROOT / "saved_models")
    predictor, judge = TFLitePredictor(model), load_judge(model, folder)
    rng = np.random.default_rng(args.seed)
    labels = np.arange(args.count) % 10
    pads = []
    for digit in labels:
        styles = STYLES[int(digit)]
        pads.append(_pad(place(styles[list(styles)[int(rng.integers(len(styles)))]], rng), rng))
    mnist = load_digits()
    negatives = generate(args.count, seed=args.seed + 500, digits=mnist.test_images, labels=mnist.test_labels)
    digits = _judged(pads, predictor, judge)
    others = _judged([_enlarged(image, rng) for image in negatives.images], predictor, judge)

    refused = np.array([r.not_a_digit for r in digits])
    right = np.array([r.number == str(label) for r, label in zip(digits, labels)])
    per_kind = {kind: float(np.mean([r.not_a_digit for r, k in zip(others, negatives.kinds) if k == kind]))
                for kind in dict.fromkeys(negatives.kinds)}
    inputs = np.stack([d.image for r in digits for d in r.reading.digits])
    times = _node_ms(inputs, args.runs)
    results = {"model": str(Path(model).relative_to(ROOT)), "judge": str(folder.relative_to(ROOT)),
               "count": args.count, "seed": args.seed,
               "digits_refused": float(refused.mean()), "digits_read_right": float(right.mean()),
               "digits_read_right_when_not_refused": float(right[~refused].mean()),
               "non_digits_refused": float(np.mean([r.not_a_digit for r in others])), "non_digits_refused_by_kind": per_kind,
               "refused_per_digit": {str(d): float(refused[labels == d].mean()) for d in range(10)},
               "judge_js_node_ms_per_digit": times}
    print_table(f"the page's judge on drawings ({results['model']}, {results['judge']})", ["set", "n", "not a digit"],
                [["other_styles digits drawn on the pad", args.count, f"{100 * refused.mean():.2f} %"],
                 ["generated non-digits enlarged on the pad", args.count, f"{100 * results['non_digits_refused']:.2f} %"]])
    print(f"digits read right: {100 * right.mean():.2f} % (of those not refused: {100 * right[~refused].mean():.2f} %)")
    print("refused per digit: " + ", ".join(f"{d} {100 * v:.1f} %" for d, v in results["refused_per_digit"].items()))
    print("non-digits refused per kind: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in per_kind.items()))
    print(f"judge.js in Node: {np.median(times):.2f} ms per digit (median of {args.runs} runs over {len(inputs)} inputs)")
    write_results("web_not_a_digit", results)


if __name__ == "__main__":
    main()
