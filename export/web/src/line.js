// A number's row of ink as one line image, what a line reader's logits say about it, and the
// reading recounted by them: digitnet/serving/line.py and digitnet/core/ctc.py mirrored step by
// step (the same float32 roundings, numpy's round half to even), so that the page makes the same
// lines and the same readings as Python.
import { areaWeights, NoDigit } from "./preprocess.js";
import { rowPixels } from "./segment.js";

export const LINE_HEIGHT = 32;
export const LINE_WIDTH = 256;
export const LINE_STEPS = 64;  // a line reader's steps (line.py's LINE_STEPS)
const MARGIN = 2;
const BLANK = 0;
export const RECOUNT_RULES = ["count", "likelier", "likelier-2", "spelled"];
export const RECOUNT = "spelled";

// numpy's round (and Python's): half to even.
function roundHalfEven(x) {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest !== 0.5) return rest > 0.5 ? floor + 1 : floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// ink (inkImage's grid) -> the line, Uint8Array(LINE_HEIGHT * LINE_WIDTH), of the row that segmenter
// (segment.js's, optional: a new one) reads in it; throws NoDigit when there
// is no row of digits.
export function lineInput(ink, segmenter = undefined) {
  const keep = rowPixels(ink, segmenter);
  let [top, bottom, left, right] = [ink.rows, 0, ink.cols, 0];
  for (let y = 0; y < ink.rows; y++) {
    for (let x = 0; x < ink.cols; x++) {
      if (!keep[y * ink.cols + x]) continue;
      [top, bottom, left, right] = [Math.min(top, y), Math.max(bottom, y + 1), Math.min(left, x), Math.max(right, x + 1)];
    }
  }
  if (bottom === 0) throw new NoDigit("no row of digits found");
  const [h, w] = [bottom - top, right - left];
  const crop = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const at = (top + y) * ink.cols + left + x;
      crop[y * w + x] = keep[at] ? ink.data[at] : 0;
    }
  }
  const room = LINE_WIDTH - 2 * MARGIN;
  const scale = Math.min((LINE_HEIGHT - 2 * MARGIN) / h, room / w);
  const width = Math.min(room, Math.max(1, roundHalfEven(w * scale)));
  const height = Math.max(1, roundHalfEven(h * scale));
  const wy = areaWeights(h, height);
  const wx = areaWeights(w, width);
  const rowsDone = new Float64Array(height * w);  // (wy @ crop) @ wx.T, as numpy multiplies
  for (let i = 0; i < height; i++) {
    for (let x = 0; x < w; x++) {
      let total = 0;
      for (let y = 0; y < h; y++) total += wy[i * h + y] * crop[y * w + x];
      rowsDone[i * w + x] = total;
    }
  }
  const line = new Float32Array(LINE_HEIGHT * LINE_WIDTH);
  const lineTop = Math.floor((LINE_HEIGHT - height) / 2);
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      let total = 0;
      for (let x = 0; x < w; x++) total += rowsDone[i * w + x] * wx[j * w + x];
      line[(lineTop + i) * LINE_WIDTH + MARGIN + j] = total;
    }
  }
  let peak = 0;
  for (const v of line) peak = Math.max(peak, v);
  return Uint8Array.from(line, (v) => {
    const scaled = peak > 0 ? Math.fround(v / peak) : v;
    return roundHalfEven(Math.fround(Math.min(Math.max(scaled, 0), 1) * 255));
  });
}

// ctc.py's classes: the blank, the digits 0-9, and (a reader of 12 classes) ink that is no digit, MARK.
const NOT_A_DIGIT = 11;
const MARK = "?";
const classOf = (place) => (place === MARK ? NOT_A_DIGIT : Number(place) + 1);
const placeOf = (k) => (k === NOT_A_DIGIT ? MARK : String(k - 1));

// The best path's reading of one line's logits (steps rows of classes, row-major): repeats merged,
// blanks dropped (the first largest logit of each step, as numpy's argmax).
export function greedy(logits, steps) {
  const classes = logits.length / steps;
  let out = "";
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[t * classes + k] > logits[t * classes + best]) best = k;
    if (best !== BLANK && best !== previous) out += placeOf(best);
    previous = best;
  }
  return out;
}

const logAddExp = (a, b) => {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));
};

// log P(number | line) under CTC (ctc.py's log_probability): the forward algorithm in log space.
export function logProbability(logits, steps, number) {
  const classes = logits.length / steps;
  const logP = [];
  for (let t = 0; t < steps; t++) {
    const row = Array.from(logits.slice(t * classes, (t + 1) * classes), Number);
    const top = Math.max(...row);
    const total = Math.log(row.reduce((sum, v) => sum + Math.exp(v - top), 0));
    logP.push(row.map((v) => v - top - total));
  }
  const labels = [BLANK];
  for (const place of number) labels.push(classOf(place), BLANK);
  const states = labels.length;
  let alpha = new Array(states).fill(-Infinity);
  alpha[0] = logP[0][BLANK];
  if (states > 1) alpha[1] = logP[0][labels[1]];
  const skip = labels.map((label, s) => s >= 2 && label !== BLANK && label !== labels[s - 2]);
  for (let t = 1; t < steps; t++) {
    alpha = alpha.map((value, s) => {
      let reached = value;
      if (s >= 1) reached = logAddExp(reached, alpha[s - 1]);
      if (skip[s]) reached = logAddExp(reached, alpha[s - 2]);
      return reached + logP[t][labels[s]];
    });
  }
  return states > 1 ? logAddExp(alpha[states - 1], alpha[states - 2]) : alpha[states - 1];
}

const numberOf = (digits) => digits.map(({ probabilities }) => {
  let best = 0;
  for (let k = 1; k < probabilities.length; k++) if (probabilities[k] > probabilities[best]) best = k;
  return String(best);
}).join("");

// The segmenter's digits, or await readCount(K) (its reading of exactly K digits, null when it has
// none) where the line reader's best path reads K >= 1 digits and the digits are not K, as `rule`
// (RECOUNT_RULES) allows; "spelled" also awaits readCount(K, spelling) (line.py's recount).
export async function recount(digits, logits, steps, readCount, rule = RECOUNT) {
  if (!RECOUNT_RULES.includes(rule)) throw new Error(`rule must be one of ${RECOUNT_RULES}; received ${rule}`);
  if (rule === "spelled") {
    return spelled(await recount(digits, logits, steps, readCount, "likelier"), logits, steps, readCount);
  }
  const count = greedy(logits, steps).length;
  if (count === 0 || count === digits.length || (rule === "likelier-2" && digits.length < 2)) return digits;
  const other = await readCount(count);
  if (other === null) return digits;
  if (rule !== "count" &&
      logProbability(logits, steps, numberOf(other)) <= logProbability(logits, steps, numberOf(digits))) return digits;
  return other;
}

// recount's last step of "spelled" (line.py's spelled): the digits, or the segmenter's reading of the
// number the line reader's best path reads, where it reads digits only, another number, and that
// reading is likelier under the line reader.
async function spelled(digits, logits, steps, readCount) {
  const spelling = greedy(logits, steps);
  if (spelling === "" || spelling.includes(MARK) || spelling === numberOf(digits)) return digits;
  const other = await readCount(spelling.length, spelling);
  if (other === null ||
      logProbability(logits, steps, numberOf(other)) <= logProbability(logits, steps, numberOf(digits))) return digits;
  return other;
}
