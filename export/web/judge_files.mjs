// Build step: the not-a-digit judge of digitnet/serving/judge.py for the page. From the newest
// saved_models/not_a_digit/<version>/ (judge.json, detector.npz) it writes dist/models/judge.json
// (the detector's threshold and its tensors' names, shapes and offsets) and dist/models/detector.bin
// (the tensors, float32 little-endian, one after the other), and gives each TFLite file the page
// offers its temperature and confidence floor, found as judge.py finds them: by the file's fingerprint.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";

export const JUDGE_FILE = "judge.json";
export const WEIGHTS_FILE = "detector.bin";

// saved_models/not_a_digit/<highest version holding judge.json>, or null (judge.py's default_judge_folder).
export function newestJudgeFolder(savedModels) {
  const base = join(savedModels, "not_a_digit");
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, JUDGE_FILE)));
  return versions.length ? join(base, String(Math.max(...versions.map(Number)))) : null;
}

// sha256 (16 hex digits) of a model file: judge.py's fingerprint of a .tflite file.
export const fingerprint = (path) => createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16);

// IEEE half-precision bits -> number (exact in float32).
function halfToNumber(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const READERS = {
  "<f2": [2, (data, offset) => halfToNumber(data.readUInt16LE(offset))],
  "<f4": [4, (data, offset) => data.readFloatLE(offset)],
  "<f8": [8, (data, offset) => data.readDoubleLE(offset)],
};

// One .npy file (little-endian float16/32/64, C order) -> { shape, values: Float32Array }.
function readNpy(data, name) {
  if (data.toString("latin1", 0, 6) !== "\x93NUMPY") throw new Error(`${name} is not a .npy array`);
  const [lengthAt, headerAt] = data[6] === 1 ? [8, 10] : [8, 12];
  const length = data[6] === 1 ? data.readUInt16LE(lengthAt) : data.readUInt32LE(lengthAt);
  const header = data.toString("latin1", headerAt, headerAt + length);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1].split(",").filter((s) => s.trim()).map(Number);
  if (!(descr in READERS) || !shape || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`${name} holds ${header.trim()}; expected little-endian floats in C order`);
  }
  const [size, read] = READERS[descr];
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const start = headerAt + length;
  if (data.length < start + size * values.length) throw new Error(`${name} is shorter than its shape ${shape}`);
  for (let i = 0; i < values.length; i += 1) values[i] = read(data, start + size * i);
  return { shape, values };
}

// The arrays of an .npz file (a zip of .npy files, stored or deflated), in the zip's order.
export function readNpz(path) {
  const zip = readFileSync(path);
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== 0x06054b50) end -= 1;
  if (end < 0) throw new Error("not a zip file");
  const arrays = [];
  let entry = zip.readUInt32LE(end + 16);
  for (let count = zip.readUInt16LE(end + 10); count > 0; count -= 1) {
    if (zip.readUInt32LE(entry) !== 0x02014b50) throw new Error("its zip directory is broken");
    const method = zip.readUInt16LE(entry + 10);
    const size = zip.readUInt32LE(entry + 20);
    const nameLength = zip.readUInt16LE(entry + 28);
    const local = zip.readUInt32LE(entry + 42);
    const name = zip.toString("utf8", entry + 46, entry + 46 + nameLength);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + size);
    if (method !== 0 && method !== 8) throw new Error(`${name} is compressed with zip method ${method}`);
    arrays.push({ name: name.replace(/\.npy$/, ""), ...readNpy(method === 8 ? inflateRawSync(raw) : raw, name) });
    entry += 46 + nameLength + zip.readUInt16LE(entry + 30) + zip.readUInt16LE(entry + 32);
  }
  return arrays;
}

// readNpz's arrays -> their bytes (float32 little-endian, one after the other) and each one's name,
// shape, offset and length (in floats), as judge.js's loadDetector reads them.
export function packTensors(arrays) {
  let offset = 0;
  const tensors = arrays.map(({ name, shape, values }) => {
    const tensor = { name, shape, offset, length: values.length };
    offset += values.length;
    return tensor;
  });
  const bytes = Buffer.alloc(4 * offset);
  arrays.forEach(({ values }, index) => values.forEach((v, i) => bytes.writeFloatLE(v, 4 * (tensors[index].offset + i))));
  return { tensors, bytes };
}

// The settings of one model file: judge.json's entry for its fingerprint, or, for a model the
// judge does not know, temperature 1 and no floor (the detector alone), as judge.py does.
function settingsFor(record, modelPath, where) {
  const entry = record.models?.[fingerprint(modelPath)];
  if (!entry) return { name: null, temperature: 1, confidence_floor: 0 };
  const { name, temperature, temperatures_by_answer: byAnswer, confidence_floor: floor = 0 } = entry;
  const positive = (t) => typeof t === "number" && t > 0 && Number.isFinite(t);
  if (!positive(temperature) || typeof floor !== "number") {
    throw new Error(`${where}: model ${name} has temperature ${temperature} and floor ${floor}; expected a positive temperature`);
  }
  if (byAnswer === undefined) return { name, temperature, confidence_floor: floor };
  if (!(Array.isArray(byAnswer) && byAnswer.length > 0 && byAnswer.every(positive))) {
    throw new Error(`${where}: model ${name} has temperatures_by_answer ${JSON.stringify(byAnswer)}; expected positive temperatures`);
  }
  return { name, temperature, temperatures_by_answer: byAnswer, confidence_floor: floor };
}

// Writes judge.json and detector.bin into `modelsDir` and returns a function giving each model
// file its settings; returns null (and writes nothing) when saved_models has no judge.
// Throws an Error naming the file when the judge cannot be read.
export function exportJudge(savedModels, modelsDir) {
  const folder = newestJudgeFolder(savedModels);
  if (folder === null) return null;
  const where = join(folder, JUDGE_FILE);
  let record, arrays;
  try {
    record = JSON.parse(readFileSync(where, "utf8"));
    arrays = readNpz(join(folder, record.detector.file));
  } catch (error) {
    throw new Error(`${where}: not a readable judge (${error.message})`);
  }
  const threshold = record.detector.threshold;
  if (typeof threshold !== "number") throw new Error(`${where}: detector.threshold is ${threshold}, not a number`);
  const { tensors, bytes } = packTensors(arrays);
  writeFileSync(join(modelsDir, WEIGHTS_FILE), bytes);
  const source = join("not_a_digit", folder.split(/[\\/]/).pop());
  writeFileSync(join(modelsDir, JUDGE_FILE), JSON.stringify({ source, threshold, file: WEIGHTS_FILE, tensors }, null, 2));
  return (modelPath) => settingsFor(record, modelPath, where);
}
