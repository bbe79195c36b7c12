// The piece judge of digitnet/serving/segment.py (load_piece_judge), in plain JavaScript: a CNN of
// the not-a-digit detector's shape (judge.js runs it) with eleven classes, the ten digits and "not
// one digit", trained on the segmenter's own candidate pieces. Number reading multiplies each
// candidate's value by its P(one whole digit) = 1 - P(class 10). Its weights are
// models/piece_judge.bin, described by models/piece_judge.json (the build writes both from
// digitnet/serving/piece_judge.npz; piece_judge_files.mjs).
import { loadDetector, notADigitProbability } from "./judge.js";

// models/piece_judge.json and the bytes of models/piece_judge.bin -> oneDigit(inputs): the
// P(one whole digit) of each 28x28 uint8 input (MNIST polarity).
export function loadPieceJudge(spec, buffer) {
  const detector = loadDetector(spec, buffer);
  return (inputs) => inputs.map((pixels) => 1.0 - notADigitProbability(detector, pixels));
}
