"""The page's number reading (export/web/src/segment.js, run by Node) against
digitnet/serving/segment.py: the same constants, and, on touching digits, the same boxes, 28x28
inputs and answers with the piece judge (src/piece_judge.js on the weights that
export/web/piece_judge_files.mjs writes from digitnet/serving/piece_judge.npz) and without it, and
with the pair reader too (digitnet/serving/pair_reader.npz, written and read the same way).

Node has no LiteRT, so both sides classify with the same small CNN that each runs itself: the
digit classes of the not-a-digit detector (judge.py's Detector, judge.js's detectorLogits)."""
import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from digitnet.data import number_synth
from digitnet.serving import preprocess, segment
from digitnet.serving.judge import Detector, default_judge_folder
from digitnet.serving.reading import grey_of
from tests.test_reading import broken_ring, cap_apart, page_of

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "export" / "web"
# Both CNNs' float32 logits are summed in another order in JS: their probabilities differ by up to
# ~7e-7 on these inputs.
PROBABILITY_TOLERANCE = 1e-5

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")

# What both Node runners start with: the sources and files named on the command line, and `classify`.
NODE_PRELUDE = """
import { readFileSync } from "node:fs";
const [filesModule, pieceFilesModule, src, detectorNpz, pieceNpz, pairNpz, outDir, inputPath] = process.argv.slice(2);
const { packTensors, readNpz } = await import(filesModule);
const { exportPairReader, exportPieceJudge } = await import(pieceFilesModule);
const { detectorLogits, loadDetector } = await import(`${src}/judge.js`);
const { loadPairReader, loadPieceJudge } = await import(`${src}/piece_judge.js`);
const { inkImage } = await import(`${src}/preprocess.js`);
const { findDigits, Segmenter } = await import(`${src}/segment.js`);

const buffer = (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
const { tensors, bytes } = packTensors(readNpz(detectorNpz));
const detector = loadDetector({ file: detectorNpz, tensors }, buffer(bytes));
const classify = (pixels) => {  // softmax over the detector's ten digit logits
  const logits = detectorLogits(detector, pixels).slice(0, 10);
  const top = Math.max(...logits);
  const exp = logits.map((v) => Math.exp(v - top));
  const total = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / total);
};
"""

NODE_RUNNER = NODE_PRELUDE + """if (!exportPieceJudge(pieceNpz, outDir)) throw new Error(`no piece judge at ${pieceNpz}`);
const spec = JSON.parse(readFileSync(`${outDir}/piece_judge.json`, "utf8"));
const oneDigit = loadPieceJudge(spec, buffer(readFileSync(`${outDir}/${spec.file}`)));
if (!exportPairReader(pairNpz, outDir)) throw new Error(`no pair reader at ${pairNpz}`);
const pairSpec = JSON.parse(readFileSync(`${outDir}/pair_reader.json`, "utf8"));
const readPair = loadPairReader(pairSpec, buffer(readFileSync(`${outDir}/${pairSpec.file}`)));
const { photos, inputs, pairInputs } = JSON.parse(readFileSync(inputPath, "utf8"));
const rows = (encoded, size) => {
  const bytes = Buffer.from(encoded, "base64");
  return Array.from({ length: bytes.length / size }, (_, i) => bytes.subarray(size * i, size * (i + 1)));
};
const whole = oneDigit(rows(inputs, 784));
const pairs = readPair(rows(pairInputs, 28 * readPair.width));
const readings = [];
for (const { width, height, grey } of photos) {
  const pixels = Buffer.from(grey, "base64");
  const ink = inkImage(Float64Array.from(pixels, (v) => v / 255), width, height);
  const read = async (judge, pairReader = null) => (await findDigits(ink, classify, judge, pairReader))
    .map(({ box, image, probabilities }) => ({ box, pixels: Array.from(image), probabilities }));
  readings.push({ without: await read(null), with: await read(oneDigit), pairs: await read(oneDigit, readPair) });
}
process.stdout.write(JSON.stringify({ readings, whole, pairs }));
"""


def test_the_pages_segmentation_constants_are_pythons():
    """Every constant of segment.js is segment.py's, with the same value (PIECE_POWER among them)."""
    source = (WEB / "src" / "segment.js").read_text()
    constants = dict(re.findall(r"^const ([A-Z_]+) = ([-+0-9.e]+);", source, flags=re.MULTILINE))
    assert {"SEGMENT_GRID", "FLOOR", "PIECE_POWER", "JOIN", "DIGIT"} <= set(constants), sorted(constants)
    for name, value in constants.items():
        assert float(value) == getattr(segment, name), name
    python = {n for n, v in vars(segment).items() if n.isupper() and isinstance(v, (int, float))}
    # The page cuts straight only: segment.py's bent cuts (SEAM, SEAM_INK) are a setting to compare, off
    # while SEAM is 0; shipping them takes segment.js along.
    assert segment.SEAM == 0
    python -= {"SEAM", "SEAM_INK"}
    assert set(constants) == python, sorted(python ^ set(constants))  # none missing on either side


def _touching_numbers(mnist, count: int, monkeypatch) -> list[np.ndarray]:
    """Clean photos (grey uint8) of 3 MNIST test digits whose ink overlaps by 1-3 pixels."""
    monkeypatch.setattr(number_synth, "GAP", (-3.0, -1.0))
    monkeypatch.setattr(number_synth, "ROW", (40, 60))  # small photos: Node's CNN is slow
    photos = []
    for k in range(count):
        digits = mnist.test_images[np.random.default_rng(100 + k).integers(0, 10_000, 3)]
        photo, _ = number_synth.make_number(digits, (), np.random.default_rng(k), noise=False)
        photos.append(np.asarray(photo.convert("L")))
    return photos


def _strokes_apart(mnist) -> list[np.ndarray]:
    """Photos (grey uint8, at half test_reading's scale) of one digit in two pieces: a 5 whose cap is
    drawn apart and a 0 broken into two arcs (test_reading's constructions)."""
    ring, _ = page_of({0: broken_ring(mnist.test_images[126], 40)}, "0", [])
    return [np.round(255 * grey[::2, ::2]).astype(np.uint8) for grey in (cap_apart(mnist.test_images[8]), ring)]


def _halves_and_pairs(digits: np.ndarray) -> np.ndarray:
    """Inputs that are not one digit: left halves of digits, and two digits side by side (squeezed)."""
    halves = digits.copy()
    halves[:, :, 14:] = 0
    pairs = np.maximum(np.roll(digits[0::2], -6, axis=2), np.roll(digits[1::2], 6, axis=2))
    return np.concatenate([halves, pairs])


def _side_by_side(inputs: np.ndarray, width: int) -> np.ndarray:
    """28x28 inputs -> [N, 28, width] (width a multiple of 28): each beside the next ones, as a pair
    reader of that field sees a piece of several digits."""
    return np.concatenate([np.roll(inputs, -k, axis=0) for k in range(width // 28)], axis=2)


def _run_node(tmp_path: Path, detector_npz: Path, piece_npz: Path, pair_npz: Path, photos: list[np.ndarray],
              inputs: np.ndarray, pair_inputs: np.ndarray, switched_on: tuple[str, ...] = ()) -> dict:
    """The page's readings of `photos` (without the piece judge, with it, with it and the pair reader), and
    its piece judge's and pair reader's outputs; `switched_on`: segment.js's settings to compare (0 as
    shipped) set to 1 in the copy Node runs."""
    src = tmp_path / "src"
    shutil.copytree(WEB / "src", src)  # the page's sources, read by Node as ES modules
    for name in switched_on:
        code = (src / "segment.js").read_text()
        assert f"const {name} = 0;" in code, name
        (src / "segment.js").write_text(code.replace(f"const {name} = 0;", f"const {name} = 1;"))
    (src / "package.json").write_text('{"type": "module"}')
    (tmp_path / "run.mjs").write_text(NODE_RUNNER)
    (tmp_path / "out").mkdir()
    listing = {"photos": [{"width": p.shape[1], "height": p.shape[0], "grey": base64.b64encode(p.tobytes()).decode()}
                          for p in photos],
               "inputs": base64.b64encode(inputs.astype(np.uint8).tobytes()).decode(),
               "pairInputs": base64.b64encode(pair_inputs.astype(np.uint8).tobytes()).decode()}
    (tmp_path / "input.json").write_text(json.dumps(listing))
    run = subprocess.run(["node", str(tmp_path / "run.mjs"), str(WEB / "judge_files.mjs"),
                          str(WEB / "piece_judge_files.mjs"), str(src), str(detector_npz), str(piece_npz), str(pair_npz),
                          str(tmp_path / "out"), str(tmp_path / "input.json")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _number(digits) -> str:
    return "".join(str(int(np.argmax(d["probabilities"] if isinstance(d, dict) else d.probabilities)))
                   for d in digits)


def _detector_classify(detector_npz: Path):
    """The not-a-digit judge's detector as a 10-digit classifier, run alike by Python and the page."""
    detector = Detector.load(detector_npz)

    def classify(images):
        logits = detector.logits(images).astype(np.float64)[:, :10]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    return classify


def _python_readings(photo: np.ndarray, classify, one_digit, read_pair, **settings) -> dict:
    ink = preprocess.ink_image(grey_of(photo, "number"), "number")
    return {"without": segment.find_digits(ink, "number", classify, **settings),
            "with": segment.find_digits(ink, "number", classify, one_digit, **settings),
            "pairs": segment.find_digits(ink, "number", classify, one_digit, read_pair=read_pair, **settings)}


def _assert_same_readings(index: int, page: dict, python: dict) -> None:
    """The page's readings of one photo are Python's: boxes, 28x28 inputs (within a grey level), probabilities."""
    for setting, digits in python.items():
        js = page[setting]
        where = (index, setting, _number(digits), _number(js))
        assert [d["box"] for d in js] == [list(d.box) for d in digits], where
        js_pixels = np.array([d["pixels"] for d in js]).reshape(-1, 28, 28)
        assert np.abs(js_pixels.astype(int) - np.stack([d.image for d in digits]).astype(int)).max() <= 1, where
        np.testing.assert_allclose([d["probabilities"] for d in js], [d.probabilities for d in digits],
                                   rtol=0, atol=PROBABILITY_TOLERANCE, err_msg=str(where))
        assert _number(js) == _number(digits), where


def _wide_pair_reader(path: Path, width: int = 56) -> Path:
    """A pair reader of fields `width` wide with seeded random weights (the layers' shapes only matter
    here: both sides must read its fields alike)."""
    rng = np.random.default_rng(0)
    rows = 5 * (((width - 2) // 2 - 2) // 2) * 64  # after two valid 3x3 convolutions, each pooled by 2
    shapes = {"conv1/kernel": (3, 3, 1, 32), "conv1/bias": (32,), "conv2/kernel": (3, 3, 32, 64), "conv2/bias": (64,),
              "dense1/kernel": (rows, 64), "dense1/bias": (64,), "logits/kernel": (64, segment.PAIR_CLASSES),
              "logits/bias": (segment.PAIR_CLASSES,)}
    np.savez(path, **{name: (rng.normal(0, 0.3, shape) / np.sqrt(np.prod(shape[:-1]) if len(shape) > 1 else 1))
                      .astype(np.float32) for name, shape in shapes.items()})
    return path


@pytest.mark.skipif(not segment.PIECE_JUDGE_FILE.is_file(), reason="no digitnet/serving/piece_judge.npz")
@pytest.mark.skipif(not segment.PAIR_READER_FILE.is_file(), reason="no digitnet/serving/pair_reader.npz")
@pytest.mark.skipif(default_judge_folder() is None, reason="no saved_models/not_a_digit/<version>")
@pytest.mark.parametrize("reader", ["shipped", "wide"])
def test_the_page_cuts_touching_digits_as_python_with_and_without_the_piece_judge_and_pairs(mnist, tmp_path,
                                                                                           monkeypatch, reader):
    """`reader`: the shipped pair reader, or one of 28x56 fields with random weights (its fields are
    prepared and read alike on both sides)."""
    detector_npz = default_judge_folder() / "detector.npz"
    classify = _detector_classify(detector_npz)
    photos = _touching_numbers(mnist, 8, monkeypatch) + _strokes_apart(mnist)
    inputs = np.concatenate([mnist.test_images[:40], _halves_and_pairs(mnist.test_images[40:80])])
    piece_npz = shutil.copy(segment.PIECE_JUDGE_FILE, tmp_path / "piece_judge.npz")  # one file for both sides
    pair_npz = shutil.copy(segment.PAIR_READER_FILE, tmp_path / "pair_reader.npz") if reader == "shipped" \
        else _wide_pair_reader(tmp_path / "pair_reader.npz")
    one_digit, read_pair = segment.load_piece_judge(piece_npz), segment.load_pair_reader(pair_npz)
    assert reader == "shipped" or read_pair.width == 56
    pair_inputs = _side_by_side(inputs, read_pair.width)
    found = _run_node(tmp_path, detector_npz, piece_npz, pair_npz, photos, inputs, pair_inputs)
    # the same piece judge and pair reader within float32 rounding, on digits, halves and pairs
    np.testing.assert_allclose(found["whole"], one_digit(inputs), rtol=0, atol=PROBABILITY_TOLERANCE)
    np.testing.assert_allclose(found["pairs"], read_pair(pair_inputs), rtol=0, atol=PROBABILITY_TOLERANCE)
    changed = paired = 0
    for index, (photo, page) in enumerate(zip(photos, found["readings"])):
        python = _python_readings(photo, classify, one_digit, read_pair)
        _assert_same_readings(index, page, python)
        changed += [list(d.box) for d in python["with"]] != [list(d.box) for d in python["without"]]
        paired += [list(d.box) for d in python["pairs"]] != [list(d.box) for d in python["with"]]
    # The piece judge decides some of these cuts and the pair reader reads some pairs, so a page that
    # ignored either would fail above.
    print(f"the piece judge changes {changed} of {len(photos)} readings, the pair reader {paired}")
    assert changed >= 1, "the piece judge changes none of these readings in Python: the test checks nothing"
    if reader == "shipped":
        assert paired >= 1, "the pair reader changes none of these readings in Python: the test checks nothing"


@pytest.mark.skipif(not segment.PIECE_JUDGE_FILE.is_file(), reason="no digitnet/serving/piece_judge.npz")
@pytest.mark.skipif(not segment.PAIR_READER_FILE.is_file(), reason="no digitnet/serving/pair_reader.npz")
@pytest.mark.skipif(default_judge_folder() is None, reason="no saved_models/not_a_digit/<version>")
def test_the_page_puts_a_digits_strokes_together_as_python_with_the_settings_to_compare_on(mnist, tmp_path):
    """ARCS and TALL_ROW are off on both sides; switched on on both (the page's constants rewritten to 1), the
    page reads a 5 with its cap apart and a 0 broken into arcs as Python does, and Python's readings change."""
    detector_npz = default_judge_folder() / "detector.npz"
    classify = _detector_classify(detector_npz)
    photos = _strokes_apart(mnist)
    inputs = mnist.test_images[:2]
    found = _run_node(tmp_path, detector_npz, segment.PIECE_JUDGE_FILE, segment.PAIR_READER_FILE, photos, inputs,
                      inputs, switched_on=("ARCS", "TALL_ROW"))
    one_digit, read_pair = segment.load_piece_judge(), segment.load_pair_reader()
    for index, (photo, page) in enumerate(zip(photos, found["readings"])):
        python = _python_readings(photo, classify, one_digit, read_pair, arcs=True, tall_row=True)
        _assert_same_readings(index, page, python)
        off = _python_readings(photo, classify, one_digit, read_pair)
        assert _number(python["pairs"]) != _number(off["pairs"]), (index, _number(off["pairs"]))  # the settings act
