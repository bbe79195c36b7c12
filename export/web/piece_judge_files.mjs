// Build step: the piece judge and the pair reader of digitnet/serving/segment.py for the page. From
// digitnet/serving/piece_judge.npz (experiments/piece_judge.py trains it) and pair_reader.npz
// (experiments/pair_reader.py), each "<layer>/kernel" and "<layer>/bias" of the not-a-digit
// detector's layers, it writes dist/models/piece_judge.json and pair_reader.json (the tensors'
// names, shapes and offsets) and piece_judge.bin and pair_reader.bin (the tensors, float32
// little-endian), read by src/piece_judge.js. Without a file it writes nothing for it: the page then
// reads numbers without it, as Python does (segment.load_piece_judge gives None; reading.pair_reader too).
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packTensors, readNpz } from "./judge_files.mjs";

export const PIECE_JUDGE_FILE = "piece_judge.json";
export const PIECE_WEIGHTS_FILE = "piece_judge.bin";
export const PAIR_READER_FILE = "pair_reader.json";
export const PAIR_WEIGHTS_FILE = "pair_reader.bin";

// Writes `jsonName` and `binName` into `modelsDir` from the .npz at `path` and returns true; returns
// false (and writes nothing) when there is no such file. Throws an Error naming the file and `what`
// it should be when it cannot be read (the page's loadDetector checks its layers, as it does the detector's).
function exportWeights(path, modelsDir, jsonName, binName, what) {
  if (!existsSync(path)) return false;
  let spec, bytes;
  try {
    const packed = packTensors(readNpz(path));
    bytes = packed.bytes;
    spec = { source: path.split(/[\\/]/).slice(-3).join("/"), file: binName, tensors: packed.tensors };
  } catch (error) {
    throw new Error(`${path}: not a readable ${what} (${error.message})`);
  }
  writeFileSync(join(modelsDir, binName), bytes);
  writeFileSync(join(modelsDir, jsonName), JSON.stringify(spec, null, 2));
  return true;
}

export const exportPieceJudge = (path, modelsDir) =>
  exportWeights(path, modelsDir, PIECE_JUDGE_FILE, PIECE_WEIGHTS_FILE, "piece judge");
export const exportPairReader = (path, modelsDir) =>
  exportWeights(path, modelsDir, PAIR_READER_FILE, PAIR_WEIGHTS_FILE, "pair reader");
