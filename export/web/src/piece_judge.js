// The piece judge and the pair reader of digitnet/serving/segment.py (load_piece_judge,
// load_pair_reader), in plain JavaScript: CNNs of the not-a-digit detector's shape (judge.js runs
// them). The piece judge has eleven classes, the ten digits and "not one digit", trained on the
// segmenter's own candidate pieces; number reading multiplies each candidate's value by its P(one
// whole digit) = 1 - P(class 10). The pair reader has 101, the hundred pairs of digits (10 * left +
// right) and "not a pair"; a wide piece of one group may be read as its likeliest pair. Their
// weights are models/piece_judge.bin and models/pair_reader.bin, described by models/piece_judge.json
// and models/pair_reader.json (the build writes them from digitnet/serving/piece_judge.npz and
// pair_reader.npz; piece_judge_files.mjs).
import { detectorLogits, loadDetector, notADigitProbability, softmax } from "./judge.js";
import { fieldWidth } from "./segment.js";

// models/piece_judge.json and the bytes of models/piece_judge.bin -> oneDigit(inputs): the
// P(one whole digit) of each 28x28 uint8 input (MNIST polarity).
export function loadPieceJudge(spec, buffer) {
  const detector = loadDetector(spec, buffer);
  return (inputs) => inputs.map((pixels) => 1.0 - notADigitProbability(detector, pixels));
}

// models/pair_reader.json and the bytes of models/pair_reader.bin -> readPair(inputs): the 101
// probabilities of each uint8 input, 28 high and readPair.width wide (fieldWidth); an Error when the
// file has another number of classes.
export function loadPairReader(spec, buffer) {
  const detector = loadDetector(spec, buffer);
  const classes = detector.tensors["logits/bias"].values.length;
  if (classes !== 101) throw new Error(`${spec.file}: a pair reader has 101 outputs, this file has ${classes}`);
  const width = fieldWidth(detector);
  const readPair = (inputs) => inputs.map((pixels) => softmax(detectorLogits(detector, pixels, width)));
  readPair.width = width;
  return readPair;
}
