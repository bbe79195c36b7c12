// Build step: the piece judge of digitnet/serving/segment.py for the page. From
// digitnet/serving/piece_judge.npz (experiments/piece_judge.py trains it; "<layer>/kernel" and
// "<layer>/bias" of the not-a-digit detector's layers) it writes dist/models/piece_judge.json (the
// tensors' names, shapes and offsets) and dist/models/piece_judge.bin (the tensors, float32
// little-endian), read by src/piece_judge.js. Without the file it writes nothing: the page then
// reads numbers without it, as Python does (segment.load_piece_judge gives None).
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packTensors, readNpz } from "./judge_files.mjs";

export const PIECE_JUDGE_FILE = "piece_judge.json";
export const PIECE_WEIGHTS_FILE = "piece_judge.bin";

// Writes piece_judge.json and piece_judge.bin into `modelsDir` from the .npz at `path` and returns
// true; returns false (and writes nothing) when there is no such file. Throws an Error naming the
// file when it cannot be read (the page's loadDetector checks its layers, as it does the detector's).
export function exportPieceJudge(path, modelsDir) {
  if (!existsSync(path)) return false;
  let spec, bytes;
  try {
    const packed = packTensors(readNpz(path));
    bytes = packed.bytes;
    spec = { source: path.split(/[\\/]/).slice(-3).join("/"), file: PIECE_WEIGHTS_FILE, tensors: packed.tensors };
  } catch (error) {
    throw new Error(`${path}: not a readable piece judge (${error.message})`);
  }
  writeFileSync(join(modelsDir, PIECE_WEIGHTS_FILE), bytes);
  writeFileSync(join(modelsDir, PIECE_JUDGE_FILE), JSON.stringify(spec, null, 2));
  return true;
}
