// The steps of PREPROCESSING.md, mirrored function by function from digitnet/serving/preprocess.py:
// the same doubles, the same order of operations, order statistics and integer counts for
// every decision, round-half-up (Math.round's rule) everywhere.
export const FIELD = 28;
const DIGIT_BOX = 20;
const GRID = 96;
const PAPER_QUANTILE = 0.75;
const CLOSING = 1 / 6;
const POLARITY_MARGIN = 0.1;
const POLARITY_RATIO = 1.5;
const PAPER_FLOOR = 0.25;
const INK_MIN = 0.1;
const NOISE_FACTOR = 6;
const HISTOGRAM_BINS = 1024;
const LINE_COVER = 0.9;
const LINE_WIDTH = 0.03;
const PIECE = 0.05;
const NEAR = 0.4;
const NEAR_SMALL = 0.1;
const LEVEL_QUANTILE = 0.9;
const CORE = 0.35;
const FRINGE = 0.1;
const MIN_DIGIT = 0.04;
const LEVEL_MIN = 0.2;
const STROKE_MIN = 2.0;
const STROKE_MAX = 4.2;
const STROKE_CROP = 40;

export const roundHalfUp = (x) => Math.floor(x + 0.5);

// What the steps throw when an image (or a part of one) holds no digit.
export class NoDigit extends Error {}

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

// An image or cell grid: row-major values.
export const grid = (rows, cols, data = new Float64Array(rows * cols)) => ({ rows, cols, data });

const cellSize = (height, width) => Math.max(1, Math.ceil(Math.max(height, width) / GRID));

// Calls visit(cellY, cellX, pixels, n) for each cell: its n pixels in raster order in pixels[0..n-1]
// (a buffer that the next call reuses).
function forEachCell(image, cell, visit) {
  const rows = Math.ceil(image.rows / cell);
  const cols = Math.ceil(image.cols / cell);
  const pixels = new Float64Array(cell * cell);
  for (let cy = 0; cy < rows; cy++) {
    for (let cx = 0; cx < cols; cx++) {
      let n = 0;
      for (let y = cy * cell; y < Math.min((cy + 1) * cell, image.rows); y++) {
        for (let x = cx * cell; x < Math.min((cx + 1) * cell, image.cols); x++) pixels[n++] = image.data[y * image.cols + x];
      }
      visit(cy, cx, pixels, n);
    }
  }
}

// Grid of reduce(pixels, n) per cell.
export function perCell(image, cell, reduce) {
  const rows = Math.ceil(image.rows / cell);
  const cols = Math.ceil(image.cols / cell);
  const out = grid(rows, cols);
  forEachCell(image, cell, (cy, cx, pixels, n) => { out.data[cy * cols + cx] = reduce(pixels, n); });
  return out;
}

export const anyOf = (pixels, n) => {
  for (let i = 0; i < n; i++) if (pixels[i]) return 1;
  return 0;
};

export const sumOf = (pixels, n) => {
  let total = 0;
  for (let i = 0; i < n; i++) total += pixels[i];
  return total;
};

// low, median, high, paper (upper quartile) and paper_inverted (its mirror, s[n-1-k]) per cell.
function cellStatistics(image, cell) {
  const rows = Math.ceil(image.rows / cell);
  const cols = Math.ceil(image.cols / cell);
  const stats = { low: grid(rows, cols), median: grid(rows, cols), high: grid(rows, cols),
    paper: grid(rows, cols), paperInverted: grid(rows, cols) };
  forEachCell(image, cell, (cy, cx, pixels, n) => {
    const sorted = pixels.subarray(0, n).sort();
    const rank = Math.floor(PAPER_QUANTILE * (n - 1));
    const at = cy * cols + cx;
    stats.low.data[at] = sorted[0];
    stats.median.data[at] = sorted[(n - 1) >> 1];
    stats.high.data[at] = sorted[n - 1];
    stats.paper.data[at] = sorted[rank];
    stats.paperInverted.data[at] = sorted[n - 1 - rank];
  });
  return stats;
}

// The maximum (or minimum) over a (2r+1) x (2r+1) window, along columns then rows; beyond the
// edges the grid continues with its edge values.
export function windowed(g, radius, pick) {
  const { rows, cols, data } = g;
  const max = pick === Math.max;
  const better = (a, b) => (max ? (a > b ? a : b) : (a < b ? a : b));
  const byRows = new Float64Array(rows * cols);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      let value = data[y * cols + x];
      for (let d = -radius; d <= radius; d++) value = better(data[Math.min(Math.max(y + d, 0), rows - 1) * cols + x], value);
      byRows[y * cols + x] = value;
    }
  }
  const out = grid(rows, cols);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      let value = byRows[y * cols + x];
      for (let d = -radius; d <= radius; d++) value = better(byRows[y * cols + Math.min(Math.max(x + d, 0), cols - 1)], value);
      out.data[y * cols + x] = value;
    }
  }
  return out;
}

const closingRadius = (g) => Math.max(1, roundHalfUp(Math.max(g.rows, g.cols) * CLOSING));

function lowerMedian(values) {
  const sorted = Float64Array.from(values).sort();
  return sorted[(sorted.length - 1) >> 1];
}

// Dark ink on light paper? Counts cells clearly above / below the local mid-range; the
// border decides a tie.
function lightBackground(image, stats) {
  const radius = closingRadius(stats.median);
  const highs = windowed(stats.high, radius, Math.max);
  const lows = windowed(stats.low, radius, Math.min);
  let above = 0;
  let below = 0;
  for (let i = 0; i < highs.data.length; i++) {
    const middle = (highs.data[i] + lows.data[i]) / 2;
    if (stats.median.data[i] > middle + POLARITY_MARGIN) above++;
    if (stats.median.data[i] < middle - POLARITY_MARGIN) below++;
  }
  if (above > POLARITY_RATIO * below || below > POLARITY_RATIO * above) return above > below;
  const { rows, cols, data } = image;
  const border = [];
  for (let x = 0; x < cols; x++) border.push(data[x]);
  for (let x = 0; x < cols; x++) border.push(data[(rows - 1) * cols + x]);
  for (let y = 0; y < rows; y++) border.push(data[y * cols]);
  for (let y = 0; y < rows; y++) border.push(data[y * cols + cols - 1]);
  const level = lowerMedian(border);
  let [low, high] = [Infinity, -Infinity];
  for (const v of data) { low = Math.min(low, v); high = Math.max(high, v); }
  return level > 0.5 || level - low > high - level;
}

// Window-max then window-min; the outermost rows and columns are also closed along themselves
// alone and keep the lower result (a dark band along an edge stays, a stroke crossing it is filled).
function closing(levels, radius) {
  const closed = windowed(windowed(levels, radius, Math.max), radius, Math.min);
  const { rows, cols } = levels;
  const edges = [[0, 0, 0, 1, cols], [rows - 1, 0, 0, 1, cols], [0, 0, 1, 0, rows], [0, cols - 1, 1, 0, rows]];
  for (const [y0, x0, dy, dx, length] of edges) {  // start, step, length of the edge line
    const line = grid(dy ? length : 1, dy ? 1 : length);
    for (let i = 0; i < length; i++) line.data[i] = levels.data[(y0 + i * dy) * cols + x0 + i * dx];
    const lineClosed = windowed(windowed(line, radius, Math.max), radius, Math.min);
    for (let i = 0; i < length; i++) {
      const at = (y0 + i * dy) * cols + x0 + i * dx;
      closed.data[at] = Math.min(closed.data[at], lineClosed.data[i]);
    }
  }
  return closed;
}

// Reconstruction by erosion: marker lowered to its 3x3 minimum, never below floor, until stable.
function reconstruct(marker, floor) {
  for (;;) {
    const lowered = windowed(marker, 1, Math.min);
    let changed = false;
    for (let i = 0; i < lowered.data.length; i++) {
      lowered.data[i] = Math.max(lowered.data[i], floor.data[i]);
      if (lowered.data[i] !== marker.data[i]) changed = true;
    }
    if (!changed) return marker;
    marker = lowered;
  }
}

// Linear interpolation between cell centres (i + 0.5) * cell - 0.5; flat beyond the outer ones.
function interpolation(size, cell, cells) {
  const first = new Int32Array(size);
  const second = new Int32Array(size);
  const weight = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const position = (i + 0.5) / cell - 0.5;
    first[i] = Math.min(Math.max(Math.floor(position), 0), cells - 1);
    second[i] = Math.min(first[i] + 1, cells - 1);
    weight[i] = second[i] > first[i] ? Math.min(Math.max(position - first[i], 0), 1) : 0;
  }
  return { first, second, weight };
}

// Local paper level: closing of the cells' upper quartiles, reconstruction, interpolation.
function paperLevel(levels, cell, height, width) {
  const radius = closingRadius(levels);
  const closed = reconstruct(closing(levels, radius), levels);
  const ys = interpolation(height, cell, closed.rows);
  const xs = interpolation(width, cell, closed.cols);
  const rows = grid(closed.rows, width);  // along x first
  for (let gy = 0; gy < closed.rows; gy++) {
    for (let x = 0; x < width; x++) {
      const t = xs.weight[x];
      rows.data[gy * width + x] = closed.data[gy * closed.cols + xs.first[x]] * (1 - t) +
        closed.data[gy * closed.cols + xs.second[x]] * t;
    }
  }
  const paper = grid(height, width);  // then y
  for (let y = 0; y < height; y++) {
    const t = ys.weight[y];
    for (let x = 0; x < width; x++) {
      paper.data[y * width + x] = rows.data[ys.first[y] * width + x] * (1 - t) + rows.data[ys.second[y] * width + x] * t;
    }
  }
  return paper;
}

// The histogram bin (1/1024 wide) holding the element at floor(quantile * (n - 1)) of the sorted values.
function histogramBin(values, quantile) {
  const counts = new Float64Array(HISTOGRAM_BINS);
  for (const v of values) counts[Math.min(Math.floor(v * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)]++;
  const rank = Math.floor(quantile * (values.length - 1));
  let total = 0;
  for (let bin = 0; bin < HISTOGRAM_BINS; bin++) {
    total += counts[bin];
    if (total > rank) return bin;
  }
  return HISTOGRAM_BINS - 1;
}

// [start, end) of each thin band of rows (or columns) marked across LINE_COVER of the image.
function lineBands(counts, length, across) {
  const widest = Math.max(2, LINE_WIDTH * across);
  const bands = [];
  let start = null;
  for (let i = 0; i <= counts.length; i++) {
    const marked = i < counts.length && counts[i] >= LINE_COVER * length;
    if (marked && start === null) start = i;
    else if (!marked && start !== null) {
      if (i - start <= widest) bands.push([start, i]);
      start = null;
    }
  }
  return bands;
}

// Clears ruled lines (rows) and margin lines (columns), except where a stroke meets them:
// marks in the two rows (columns) just beyond the band.
export function withoutLines(marks) {
  const { rows, cols, data } = marks;
  const cleared = grid(rows, cols, Uint8Array.from(data));
  const clear = (lines, across, at) => {  // at(line, position) -> index
    const counts = new Float64Array(lines);
    for (let l = 0; l < lines; l++) for (let p = 0; p < across; p++) counts[l] += data[at(l, p)];
    for (const [start, end] of lineBands(counts, across, lines)) {
      for (let p = 0; p < across; p++) {
        const touching = (start >= 2 && data[at(start - 1, p)] && data[at(start - 2, p)]) ||
          (end + 2 <= lines && data[at(end, p)] && data[at(end + 1, p)]);
        if (!touching) for (let l = start; l < end; l++) cleared.data[at(l, p)] = 0;
      }
    }
  };
  clear(rows, cols, (y, x) => y * cols + x);
  clear(cols, rows, (x, y) => y * cols + x);
  return cleared;
}

// 8-connected components of a cell grid, numbered 1, 2, ... in raster order of their first cell.
export function labelCells(on) {
  const { rows, cols } = on;
  const labels = new Int32Array(rows * cols);
  let count = 0;
  for (let start = 0; start < labels.length; start++) {
    if (!on.data[start] || labels[start]) continue;
    labels[start] = ++count;
    const queue = [start];
    for (let head = 0; head < queue.length; head++) {
      const [y, x] = [Math.floor(queue[head] / cols), queue[head] % cols];
      for (let ny = Math.max(0, y - 1); ny < Math.min(rows, y + 2); ny++) {
        for (let nx = Math.max(0, x - 1); nx < Math.min(cols, x + 2); nx++) {
          const at = ny * cols + nx;
          if (on.data[at] && !labels[at]) { labels[at] = count; queue.push(at); }
        }
      }
    }
  }
  return { labels, count };
}

// The digit's pieces: the one with the most ink (the first on ties) and those near it.
function digitCells(marks, ink, cell) {
  const on = perCell(marks, cell, anyOf);
  const weighted = grid(marks.rows, marks.cols, marks.data.map((m, i) => (m ? Math.floor(ink.data[i] * 255) : 0)));
  const mass = perCell(weighted, cell, sumOf);
  const { labels, count } = labelCells(on);
  const totals = new Float64Array(count + 1);
  const boxes = Array.from({ length: count + 1 }, () => [Infinity, -Infinity, Infinity, -Infinity]);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!label) continue;
    totals[label] += mass.data[i];
    const [y, x] = [Math.floor(i / on.cols), i % on.cols];
    const box = boxes[label];
    [box[0], box[1], box[2], box[3]] = [Math.min(box[0], y), Math.max(box[1], y), Math.min(box[2], x), Math.max(box[3], x)];
  }
  let main = 1;
  for (let label = 2; label <= count; label++) if (totals[label] > totals[main]) main = label;
  const [top, bottom, left, right] = boxes[main];
  const size = Math.max(bottom - top, right - left) + 1;
  const chosen = new Uint8Array(count + 1);
  for (let label = 1; label <= count; label++) {
    const [t, b, l, r] = boxes[label];
    const gap = Math.max(0, t - bottom - 1, top - b - 1, l - right - 1, left - r - 1);
    const near = totals[label] >= PIECE * totals[main] ? NEAR : NEAR_SMALL;
    if (gap <= near * size) chosen[label] = 1;
  }
  return { chosen: grid(on.rows, on.cols, labels.map((l) => chosen[l])),
    main: grid(on.rows, on.cols, labels.map((l) => (l === main ? 1 : 0))), size };
}

// The marks, digit cells and main piece, without ruled and margin lines unless they were all there was.
function select(ink, threshold, noise) {
  const marks = grid(ink.rows, ink.cols, ink.data.map((v) => (v > threshold ? 1 : 0)));
  if (!marks.data.some((v) => v)) {
    throw new NoDigit(threshold > INK_MIN ? "no digit found (the image is noise)" : "no digit found (the image is blank)");
  }
  const cell = cellSize(ink.rows, ink.cols);
  const smallest = Math.max(2, MIN_DIGIT * Math.max(ink.rows, ink.cols));
  const cleared = withoutLines(marks);
  if (cleared.data.some((v) => v)) {
    const pieces = digitCells(cleared, ink, cell);
    if (pieces.size * cell >= smallest) return { marks: cleared, ...pieces };
  }
  const pieces = digitCells(marks, ink, cell);
  if (pieces.size * cell < smallest) throw new NoDigit("no digit found (only specks)");
  return { marks, ...pieces };
}

// ink -> { noise, threshold }: the median ink (its histogram bin), and the ink that counts as a mark.
export function inkNoise(ink) {
  const noise = histogramBin(ink.data, 0.5) / HISTOGRAM_BINS;
  return { noise, threshold: Math.max(INK_MIN, NOISE_FACTOR * noise) };
}

// ink -> { digit, box }: the digit cropped to its box, in [0, 1] ({ data, rows, cols }), and the box
// [top, bottom, left, right] in ink (bottom and right exclusive). `noise` is measured on ink unless
// given: a part cut out of a larger image takes the whole image's.
export function findDigitBox(ink, noise = null) {
  const cell = cellSize(ink.rows, ink.cols);
  if (noise === null) ({ noise } = inkNoise(ink));
  const threshold = Math.max(INK_MIN, NOISE_FACTOR * noise);
  const { marks, chosen, main } = select(ink, threshold, noise);
  const cellOf = (i) => Math.floor(Math.floor(i / ink.cols) / cell) * chosen.cols + Math.floor((i % ink.cols) / cell);
  const mainInk = [];
  for (let i = 0; i < ink.data.length; i++) if (marks.data[i] && main.data[cellOf(i)]) mainInk.push(ink.data[i]);
  const level = (histogramBin(mainInk, LEVEL_QUANTILE) + 1) / HISTOGRAM_BINS;
  if (level < LEVEL_MIN) throw new NoDigit("no digit found (only faint marks)");
  const coreThreshold = Math.max(threshold, CORE * level);
  const core = grid(ink.rows, ink.cols, ink.data.map((v, i) => (marks.data[i] && v >= coreThreshold && chosen.data[cellOf(i)] ? 1 : 0)));
  const keep = windowed(perCell(core, cell, anyOf), 1, Math.max);
  const fringe = Math.max(FRINGE * level, threshold / 2);
  let [top, bottom, left, right] = [ink.rows, -1, ink.cols, -1];
  const digit = new Float64Array(ink.data.length);
  for (let i = 0; i < ink.data.length; i++) {
    if (!keep.data[cellOf(i)]) continue;
    digit[i] = Math.min(1, Math.max(0, (ink.data[i] - noise) / (level - noise)));
    if (ink.data[i] > fringe) {
      const [y, x] = [Math.floor(i / ink.cols), i % ink.cols];
      [top, bottom, left, right] = [Math.min(top, y), Math.max(bottom, y), Math.min(left, x), Math.max(right, x)];
    }
  }
  const cropped = grid(bottom - top + 1, right - left + 1);
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) cropped.data[(y - top) * cropped.cols + x - left] = digit[y * ink.cols + x];
  }
  return { digit: cropped, box: [top, bottom + 1, left, right + 1] };
}

// [target x source] area-resampling weights, as a flat array.
// The mean stroke width in field pixels: 2 * stroke area / edge pixels * 20 / longer side; null without strokes.
function strokeWidth(digit) {
  const { rows, cols, data } = digit;
  const on = (y, x) => y >= 0 && y < rows && x >= 0 && x < cols && data[y * cols + x] >= 0.5;
  let area = 0, inner = 0;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      if (!on(y, x)) continue;
      area++;
      if (on(y - 1, x) && on(y + 1, x) && on(y, x - 1) && on(y, x + 1)) inner++;
    }
  }
  return area === 0 ? null : 2 * area / (area - inner) * DIGIT_BOX / Math.max(rows, cols);
}

// Dilates (window-max) or erodes (window-min) the digit, padded with black, so that its stroke
// width reaches [STROKE_MIN, STROKE_MAX]; then crops it to its non-zero pixels again.
function normalizeStroke(digit) {
  if (Math.max(digit.rows, digit.cols) < STROKE_CROP) return digit;
  const width = strokeWidth(digit);
  if (width === null || (width >= STROKE_MIN && width <= STROKE_MAX)) return digit;
  const target = width < STROKE_MIN ? STROKE_MIN : STROKE_MAX;
  const radius = roundHalfUp((target - width) / 2 * Math.max(digit.rows, digit.cols) / DIGIT_BOX);
  if (radius === 0) return digit;
  const size = Math.abs(radius);
  const padded = grid(digit.rows + 2 * size, digit.cols + 2 * size);
  for (let y = 0; y < digit.rows; y++) {
    for (let x = 0; x < digit.cols; x++) padded.data[(y + size) * padded.cols + x + size] = digit.data[y * digit.cols + x];
  }
  const changed = windowed(padded, size, radius > 0 ? Math.max : Math.min);
  let [top, bottom, left, right] = [changed.rows, -1, changed.cols, -1];
  for (let i = 0; i < changed.data.length; i++) {
    if (changed.data[i] === 0) continue;
    const [y, x] = [Math.floor(i / changed.cols), i % changed.cols];
    [top, bottom, left, right] = [Math.min(top, y), Math.max(bottom, y), Math.min(left, x), Math.max(right, x)];
  }
  if (bottom < 0) return digit;
  const cropped = grid(bottom - top + 1, right - left + 1);
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) cropped.data[(y - top) * cropped.cols + x - left] = changed.data[y * changed.cols + x];
  }
  return cropped;
}

// [target x source] weights (row-major): each target pixel averages the source pixels its footprint
// covers, weighted by the covered fraction (preprocess.py's area_weights).
export function areaWeights(source, target) {
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

// Cropped digit in [0, 1] -> Uint8Array(784) (28 * width): longer side 20, centre of mass at (14, 14).
// `width` (a multiple of 28; a pair reader's): a field that many pixels wide, the crop fitted into
// DIGIT_BOX rows and DIGIT_BOX * width / 28 columns, its centre of mass at (14, width / 2).
function toField(digit, width = FIELD) {
  const { rows: h, cols: w, data } = digit;
  const boxWidth = Math.floor(DIGIT_BOX * width / FIELD);
  const scale = Math.min(DIGIT_BOX / h, boxWidth / w);
  const newH = Math.max(1, roundHalfUp(h * scale));
  const newW = Math.max(1, roundHalfUp(w * scale));
  const wy = areaWeights(h, newH);
  const wx = areaWeights(w, newW);
  const rowsDone = new Float64Array(newH * w);  // rows first
  for (let i = 0; i < newH; i++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let y = 0; y < h; y++) sum += wy[i * h + y] * data[y * w + x];
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
  const offsetX = clamp(roundHalfUp(width / 2 - sumX / total), width - newW);
  const field = new Uint8Array(FIELD * width);
  for (let i = 0; i < newH; i++) {
    for (let j = 0; j < newW; j++) {
      field[(offsetY + i) * width + offsetX + j] = roundHalfUp(scaled[i * newW + j] * 255);
    }
  }
  return field;
}

// grey [height x width] in [0, 1], either polarity -> ink (grid): the fraction of the local paper's
// light that each pixel loses (a light digit on a dark ground is inverted first).
export function inkImage(grey, width, height) {
  let image = grid(height, width, Float64Array.from(grey));
  const cell = cellSize(height, width);
  const stats = cellStatistics(image, cell);
  let levels = stats.paper;
  if (!lightBackground(image, stats)) {  // a light digit on a dark ground: make it dark ink on light paper
    image = grid(height, width, image.data.map((v) => 1 - v));
    levels = grid(levels.rows, levels.cols, stats.paperInverted.data.map((v) => 1 - v));
  }
  const paper = paperLevel(levels, cell, height, width);
  return grid(height, width, image.data.map((g, i) => Math.max(0, (paper.data[i] - g) / Math.max(paper.data[i], PAPER_FLOOR))));
}

// Cropped digit (findDigitBox's) -> Uint8Array(784) (28 * width): strokes brought to MNIST's width, placed as MNIST's
// (`width`: toField's).
export const toInput = (digit, width = FIELD) => toField(normalizeStroke(digit), width);

// grey [height x width] in [0, 1], either polarity -> Uint8Array(784), white digit on black.
export function toMnist(grey, width, height) {
  return toInput(findDigitBox(inkImage(grey, width, height)).digit);
}
