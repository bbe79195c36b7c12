"""The page's line reading (export/web/src/line.js and segment.js's counted readings, run by Node)
against digitnet/serving/line.py, core/ctc.py and segment.py: the same line images, the same readings
of a given count and of a given spelling (with the piece judge and the pair reader), the same CTC
probabilities and the same recounted readings for the same logits.

Node has no LiteRT, so the line reader's logits are made here and given to both sides, and both
classify with the not-a-digit detector's digit classes, as tests/test_web_segment.py does."""
import base64
import json
import shutil
import subprocess

import numpy as np
import pytest

from digitnet.core import ctc
from digitnet.serving import line, preprocess, segment
from digitnet.serving.judge import default_judge_folder
from digitnet.serving.reading import grey_of
from tests.test_web_segment import (NODE_PRELUDE, PROBABILITY_TOLERANCE, WEB, _detector_classify, _number,
                                    _touching_numbers)

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js"),
    pytest.mark.skipif(not segment.PIECE_JUDGE_FILE.is_file(), reason="no digitnet/serving/piece_judge.npz"),
    pytest.mark.skipif(not segment.PAIR_READER_FILE.is_file(), reason="no digitnet/serving/pair_reader.npz"),
    pytest.mark.skipif(default_judge_folder() is None, reason="no saved_models/not_a_digit/<version>"),
]

COUNTS = (1, 2, 3, 4, 5)
STEPS = 64

NODE_RUNNER = NODE_PRELUDE + """
const { greedy, lineInput, logProbability, recount, RECOUNT_RULES } = await import(`${src}/line.js`);
exportPieceJudge(pieceNpz, outDir);
exportPairReader(pairNpz, outDir);
const load = (name, loader) => {
  const spec = JSON.parse(readFileSync(`${outDir}/${name}.json`, "utf8"));
  return loader(spec, buffer(readFileSync(`${outDir}/${spec.file}`)));
};
const [oneDigit, readPair] = [load("piece_judge", loadPieceJudge), load("pair_reader", loadPairReader)];
const { photos, counts, steps } = JSON.parse(readFileSync(inputPath, "utf8"));
const shown = (found) => (found === null ? null : found.map(({ box, probabilities }) => ({ box, probabilities })));
const numberOf = (digits) => digits.map(({ probabilities: p }) => p.indexOf(Math.max(...p))).join("");
const out = [];
for (const { width, height, grey, logits: encoded, spellings } of photos) {
  const ink = inkImage(Float64Array.from(Buffer.from(grey, "base64"), (v) => v / 255), width, height);
  const raw = Buffer.from(encoded, "base64");
  const logits = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  // As the page reads (main.js): one segmenter reads the number, makes its line and reads it again.
  const segmenter = new Segmenter(ink, classify, oneDigit, readPair);
  const digits = await segmenter.find();
  const readCount = (count, spelling = null) => segmenter.find(count, spelling);
  const counted = {};
  for (const count of counts) counted[count] = shown(await readCount(count));
  const spelled = {};
  for (const spelling of spellings) spelled[spelling] = shown(await readCount(spelling.length, spelling));
  const read = greedy(logits, steps);
  const recounted = {};
  for (const rule of RECOUNT_RULES) recounted[rule] = numberOf(await recount(digits, logits, steps, readCount, rule));
  out.push({
    line: Buffer.from(lineInput(ink, segmenter)).toString("base64"), counted, spelled, read,
    logp: [read, numberOf(digits)].map((n) => logProbability(logits, steps, n)),
    recounted,
  });
}
process.stdout.write(JSON.stringify(out));
"""


def _logits_reading(number: str, rng: np.random.Generator) -> np.ndarray:
    """float32 logits [STEPS, ctc.CLASSES] whose best path reads `number` (digits and ctc.MARK), with
    noise (so ties never decide)."""
    logits = rng.normal(0, 0.5, (STEPS, ctc.CLASSES)).astype(np.float32)
    logits[:, ctc.BLANK] += 3
    for index, place in enumerate(number):
        logits[6 + 10 * index, ctc.class_of(place)] += 6
    return logits


def test_the_page_has_pythons_line_steps_and_recount_rules():
    source = (WEB / "src" / "line.js").read_text()
    assert f"export const LINE_STEPS = {line.LINE_STEPS};" in source
    assert f"export const RECOUNT_RULES = {json.dumps(list(line.RECOUNT_RULES))};" in source
    assert f"export const RECOUNT = {json.dumps(line.RECOUNT)};" in source


def test_the_page_makes_pythons_lines_counted_readings_and_recounts(mnist, tmp_path, monkeypatch):
    detector_npz = default_judge_folder() / "detector.npz"
    classify = _detector_classify(detector_npz)
    one_digit, read_pair = segment.load_piece_judge(), segment.load_pair_reader()
    photos = _touching_numbers(mnist, 6, monkeypatch)  # 3 touching digits each
    rng = np.random.default_rng(0)
    # The line reader reads one digit more, as many, and one fewer than the segmenter, by turns.
    inks = [preprocess.ink_image(grey_of(p, "number"), "number") for p in photos]
    firsts = [segment.find_digits(ink, "number", classify, one_digit, read_pair=read_pair) for ink in inks]
    readings = ["".join(str(d) for d in rng.integers(0, 10, max(1, len(f) + (1 - k % 3))))
                for k, f in enumerate(firsts)]
    readings = [ctc.MARK + r[1:] if k % 2 else r for k, r in enumerate(readings)]  # ink that is no digit first
    logits = [_logits_reading(r, rng) for r in readings]
    # Readings spelled as given (segment.py's spelling): the first reading with its first digit changed,
    # a digit more, and one fewer.
    spellings = [[str((int(_number(f)[0]) + 3) % 10) + _number(f)[1:], _number(f) + "7", _number(f)[:-1] or "1"]
                 for f in firsts]
    src = tmp_path / "src"
    shutil.copytree(WEB / "src", src)
    (src / "package.json").write_text('{"type": "module"}')
    (tmp_path / "run.mjs").write_text(NODE_RUNNER)
    (tmp_path / "out").mkdir()
    (tmp_path / "input.json").write_text(json.dumps({
        "counts": COUNTS, "steps": STEPS,
        "photos": [{"width": p.shape[1], "height": p.shape[0], "grey": base64.b64encode(p.tobytes()).decode(),
                    "logits": base64.b64encode(g.tobytes()).decode(), "spellings": spelled}
                   for p, g, spelled in zip(photos, logits, spellings)]}))
    run = subprocess.run(["node", str(tmp_path / "run.mjs"), str(WEB / "judge_files.mjs"),
                          str(WEB / "piece_judge_files.mjs"), str(src), str(detector_npz),
                          str(segment.PIECE_JUDGE_FILE), str(segment.PAIR_READER_FILE), str(tmp_path / "out"),
                          str(tmp_path / "input.json")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    changed = spelled_apart = 0
    for index, (ink, first, page, g) in enumerate(zip(inks, firsts, json.loads(run.stdout), logits)):
        python_line = line.line_input(ink, "number")
        page_line = np.frombuffer(base64.b64decode(page["line"]), np.uint8).reshape(line.LINE_SHAPE)
        np.testing.assert_array_equal(page_line, python_line, err_msg=str(index))

        def read_count(count, spelling=None):
            return segment.find_digits(ink, "number", classify, one_digit, read_pair=read_pair, count=count,
                                       spelling=spelling)

        for count, spelling in [(count, None) for count in COUNTS] + [(len(s), s) for s in spellings[index]]:
            python = read_count(count, spelling)
            js = page["counted"][str(count)] if spelling is None else page["spelled"][spelling]
            assert (js is None) == (python is None), (index, count, spelling)
            if python is not None and spelling is not None:
                counted = read_count(count)
                spelled_apart += counted is None or [d.box for d in counted] != [d.box for d in python]
            if python is not None:
                assert [d["box"] for d in js] == [list(d.box) for d in python], (index, count, spelling)
                np.testing.assert_allclose([d["probabilities"] for d in js], [d.probabilities for d in python],
                                           rtol=0, atol=PROBABILITY_TOLERANCE)
        assert page["read"] == ctc.greedy(g) == readings[index]
        np.testing.assert_allclose(page["logp"], [ctc.log_probability(g, n) for n in (readings[index], _number(first))],
                                   rtol=1e-9)
        for rule in line.RECOUNT_RULES:
            python = line.number_of(line.recount(first, g, read_count, rule))
            assert page["recounted"][rule] == python, (index, rule)
            changed += python != _number(first)
    assert changed >= 1, "no recount changes a reading here: the test checks nothing"
    assert spelled_apart >= 1, "no spelling changes a reading's cuts here: the spelled readings check nothing"
