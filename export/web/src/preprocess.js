// The steps of PREPROCESSING.md, mirrored line by line from digitnet/preprocess.py.
export const FIELD = 28;
const DIGIT_BOX = 20;
const INK_THRESHOLD = 0.1;

const roundHalfUp = (x) => Math.floor(x + 0.5);

// RGBA bytes (canvas ImageData) -> grey in [0, 1], Pillow's convert("L") luma.
export function greyFromRGBA(rgba, width, height) {
  const grey = new Float64Array(width * height);
  for (let i = 0; i < width * height; i++) {
    let [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
    const alpha = rgba[4 * i + 3];
    if (alpha < 255) {  // transparent pixels are background: composite onto white
      const a = alpha / 255;
      [r, g, b] = [r, g, b].map((c) => roundHalfUp(c * a + 255 * (1 - a)));
    }
    grey[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255;
  }
  return grey;
}

function median(values) {
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// [target x source] area-resampling weights, as a flat array.
function areaWeights(source, target) {
  const weights = new Float64Array(target * source);
  const ratio = source / target;
  for (let out = 0; out < target; out++) {
    const start = out * ratio;
    const end = (out + 1) * ratio;
    for (let index = Math.floor(start); index < Math.min(Math.ceil(end), source); index++) {
      weights[out * source + index] = (Math.min(end, index + 1) - Math.max(start, index)) / ratio;
    }
  }
  return weights;
}

// grey [height x width] in [0, 1], either polarity -> Uint8Array(784), white digit on black.
export function toMnist(grey, width, height) {
  const at = (y, x) => grey[y * width + x];
  const border = [];
  for (let x = 0; x < width; x++) border.push(at(0, x));
  for (let x = 0; x < width; x++) border.push(at(height - 1, x));
  for (let y = 0; y < height; y++) border.push(at(y, 0));
  for (let y = 0; y < height; y++) border.push(at(y, width - 1));
  const invert = median(border) > 0.5;
  const ink = new Float64Array(width * height);
  let low = Infinity;
  for (let i = 0; i < ink.length; i++) {
    ink[i] = invert ? 1 - grey[i] : grey[i];
    low = Math.min(low, ink[i]);
  }
  let high = -Infinity;
  for (let i = 0; i < ink.length; i++) {
    ink[i] -= low;
    high = Math.max(high, ink[i]);
  }
  if (high < INK_THRESHOLD) throw new Error("no digit found (the image is blank)");
  let [top, bottom, left, right] = [height, -1, width, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      ink[y * width + x] /= high;
      if (ink[y * width + x] > INK_THRESHOLD) {
        top = Math.min(top, y); bottom = Math.max(bottom, y);
        left = Math.min(left, x); right = Math.max(right, x);
      }
    }
  }
  const h = bottom - top + 1;
  const w = right - left + 1;
  const scale = DIGIT_BOX / Math.max(h, w);
  const newH = Math.max(1, roundHalfUp(h * scale));
  const newW = Math.max(1, roundHalfUp(w * scale));
  const wy = areaWeights(h, newH);
  const wx = areaWeights(w, newW);
  const rowsDone = new Float64Array(newH * w);  // rows first
  for (let i = 0; i < newH; i++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let y = 0; y < h; y++) sum += wy[i * h + y] * ink[(top + y) * width + left + x];
      rowsDone[i * w + x] = sum;
    }
  }
  const scaled = new Float64Array(newH * newW);  // then columns
  let total = 0, sumY = 0, sumX = 0;
  for (let i = 0; i < newH; i++) {
    for (let j = 0; j < newW; j++) {
      let sum = 0;
      for (let x = 0; x < w; x++) sum += rowsDone[i * w + x] * wx[j * w + x];
      const value = Math.min(1, Math.max(0, sum));
      scaled[i * newW + j] = value;
      total += value; sumY += i * value; sumX += j * value;
    }
  }
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
  const offsetY = clamp(roundHalfUp(FIELD / 2 - sumY / total), FIELD - newH);
  const offsetX = clamp(roundHalfUp(FIELD / 2 - sumX / total), FIELD - newW);
  const field = new Uint8Array(FIELD * FIELD);
  for (let i = 0; i < newH; i++) {
    for (let j = 0; j < newW; j++) {
      field[(offsetY + i) * FIELD + offsetX + j] = roundHalfUp(scaled[i * newW + j] * 255);
    }
  }
  return field;
}
