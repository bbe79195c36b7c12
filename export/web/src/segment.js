// The digits of a written number, left to right: the steps of PREPROCESSING.md's "Numbers",
// mirrored function by function from digitnet/serving/segment.py (the same order of operations,
// the same ties broken the same way; `prepare` blanks the other digits around its crop only, where
// Python blanks the whole grid: the same values), so that the page finds the same boxes and the
// same 28x28 inputs as Python.
import {
  anyOf, findDigitBox, grid, inkNoise, labelCells, NoDigit, perCell, roundHalfUp, sumOf, toInput,
  windowed, withoutLines,
} from "./preprocess.js";
import { DETECTOR_LAYERS, FIELD } from "./judge.js";

const SEGMENT_GRID = 640;
const MERGE_OVERLAP = 0.5;
const MERGE_GAP = 0.3;
const SUBSTANTIAL = 0.25;
const SPECK = 0.35;
const LINE_THIN = 0.2;
const LINE_LONG = 1.2;
const SHORT = 0.5;
const IN_ROW = 0.3;
const WIDE = 0.6;
const WIDE_ALONE = 1.4;
const PART_MIN = 0.12;
const CUTS = 4;
const STACKED = 0.5;
const ARCS = 0;  // 1 (Python's True): pieces overlapping in x by ARC_OVERLAP of the narrower are one digit, side by side too
const ARC_OVERLAP = 0.8;
const TALL_ROW = 0;  // 1: the row's height counts only substantial pieces at least SHORT of the tallest one's height
const SPAN = 8;
const WIDEST = 1.7;
const WIDTH_FREE = 0.9;
const WIDTH_SLOPE = 0.3;
const NARROW = 0.13;
const SLIVER = 0.8;
const JOIN = 0.7;
const DIGIT = 0.97;
const FLOOR = 1e-6;
const PIECE_POWER = 1;  // a candidate's value times the piece judge's P(one digit) to this (whole) power
const PAIR_CLASSES = 101;  // the pair reader's outputs: pairs 10 * left + right, then "not a pair"
const NOT_A_PAIR = 100;
const PAIR_WIDE = 0.7;  // a piece of one group at least 0.7 of max(its height, the row's) wide may be a pair
const PAIR_ALONE = 0;  // 1 (Python's True): a lone group too narrow to be cut may be read as a pair
const PAIR_VETO = 0;  // 1: a piece the pair reader reads is worth one digit only times its P(not a pair)
const PAIR_SURE = 0;  // 1: a piece is read as a pair only when its likeliest pair is likelier than "not a pair"
const WIDEST_FIELD = 280;  // a pair reader reads fields 28 high and a multiple of 28 wide, up to this (fieldWidth)

// numpy's median: the middle value, or the mean of the two middle ones.
function median(values) {
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// A piece: the union of its parts, each { labels (sorted), left, right }: those components of the
// label grid restricted to grid columns [left, right).
const piece = (parts) => ({ parts, key: parts.map((p) => `${p.labels.join(",")}|${p.left}|${p.right}`).sort().join(";") });
const part = (labels, left, right) => ({ labels, left, right });

export class Segmenter {
  // ink: inkImage's grid; classify: async (Uint8Array(784)) -> probabilities (10 numbers);
  // oneDigit (the piece judge, optional): (Uint8Array(784)[]) -> P(one whole digit) of each input;
  // readPair (the pair reader, optional): (Uint8Array(28 * readPair.width)[]) -> PAIR_CLASSES probabilities
  // of each (readPair.width: 28 when it has none).
  constructor(ink, classify, oneDigit = null, readPair = null) {
    this.ink = ink;
    this.classify = classify;
    this.oneDigit = oneDigit;
    this.readPair = readPair;
    const { noise, threshold } = inkNoise(ink);
    this.noise = noise;
    let marks = grid(ink.rows, ink.cols, Uint8Array.from(ink.data, (v) => (v > threshold ? 1 : 0)));
    if (!marks.data.some((v) => v)) findDigitBox(ink);  // throws the single digit's NoDigit
    const cleared = withoutLines(marks);
    if (cleared.data.some((v) => v)) marks = cleared;
    this.cell = Math.max(1, Math.ceil(Math.max(ink.rows, ink.cols) / SEGMENT_GRID));
    const on = perCell(marks, this.cell, anyOf);
    const { labels, count } = labelCells(on);
    [this.labels, this.rows, this.cols, this.count] = [labels, on.rows, on.cols, count];
    const weighted = grid(ink.rows, ink.cols, Float64Array.from(marks.data, (m, i) => (m ? Math.floor(ink.data[i] * 255) : 0)));
    const mass = perCell(weighted, this.cell, sumOf);
    this.mass = new Float64Array(count + 1);
    this.boxes = Array.from({ length: count + 1 }, () => [on.rows, 0, on.cols, 0]);  // top, bottom, left, right (exclusive)
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i];
      if (!label) continue;
      this.mass[label] += mass.data[i];
      const [y, x] = [Math.floor(i / on.cols), i % on.cols];
      const box = this.boxes[label];
      [box[0], box[1], box[2], box[3]] = [Math.min(box[0], y), Math.max(box[1], y + 1), Math.min(box[2], x), Math.max(box[3], x + 1)];
    }
    this.masks = new Map();
    this.boxOf = new Map();  // box(p), computed once per piece like its mask
    this.prepared = new Map();
    this.crops = new Map();  // each prepared piece's cropped ink (findDigitBox's)
    this.scores = new Map();
    this.wholeDigit = new Map();
  }

  // Pieces and their boxes.
  // The piece's grid cells, computed once per piece (its parts never change); callers only read them.
  mask(p) {
    if (this.masks.has(p.key)) return this.masks.get(p.key);
    const mask = new Uint8Array(this.labels.length);
    for (const { labels, left, right } of p.parts) {
      const members = new Set(labels);
      for (let y = 0; y < this.rows; y++) {
        for (let x = left; x < Math.min(right, this.cols); x++) {
          if (members.has(this.labels[y * this.cols + x])) mask[y * this.cols + x] = 1;
        }
      }
    }
    this.masks.set(p.key, mask);
    return mask;
  }

  // [top, bottom, left, right] on the grid, exclusive.
  box(p) {
    if (this.boxOf.has(p.key)) return this.boxOf.get(p.key);
    const mask = this.mask(p);
    let [top, bottom, left, right] = [Infinity, -1, Infinity, -1];
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) continue;
      const [y, x] = [Math.floor(i / this.cols), i % this.cols];
      [top, bottom, left, right] = [Math.min(top, y), Math.max(bottom, y), Math.min(left, x), Math.max(right, x)];
    }
    const box = [top, bottom + 1, left, right + 1];
    this.boxOf.set(p.key, box);
    return box;
  }

  whole(labels) {
    return piece([part([...labels].sort((a, b) => a - b), 0, this.cols)]);
  }

  // The row: components grouped into digits, heaviest first, each joining the group it overlaps most in x.
  strokesJoined() {
    const order = Array.from({ length: this.count }, (_, i) => i + 1).sort((a, b) => this.mass[b] - this.mass[a] || a - b);
    const groups = [];
    for (const label of order) {
      const [top, bottom, left, right] = this.boxes[label];
      let best = null;
      let bestOverlap = 0;
      for (const group of groups) {
        const box = group.box;
        const overlap = (Math.min(right, box[3]) - Math.max(left, box[2])) / Math.min(right - left, box[3] - box[2]);
        const gap = Math.max(0, top - box[1], box[0] - bottom);
        const beside = Math.min(bottom, box[1]) - Math.max(top, box[0]) > STACKED * Math.min(bottom - top, box[1] - box[0]);
        const arc = ARCS && overlap >= ARC_OVERLAP;
        if (overlap >= MERGE_OVERLAP && gap <= MERGE_GAP * Math.max(bottom - top, box[1] - box[0]) && overlap > bestOverlap &&
          (arc || !beside)) {
          [best, bestOverlap] = [group, overlap];
        }
      }
      if (best === null) groups.push({ members: new Set([label]), box: [top, bottom, left, right] });
      else {
        best.members.add(label);
        const box = best.box;
        [box[0], box[1], box[2], box[3]] = [Math.min(box[0], top), Math.max(box[1], bottom), Math.min(box[2], left), Math.max(box[3], right)];
      }
    }
    return groups.map((g) => g.members);
  }

  // The groups that are digits, and the row's height in cells.
  row(groups) {
    const boxes = groups.map((g) => {
      const own = [...g].map((label) => this.boxes[label]);
      return [Math.min(...own.map((b) => b[0])), Math.max(...own.map((b) => b[1])),
        Math.min(...own.map((b) => b[2])), Math.max(...own.map((b) => b[3]))];
    });
    const mass = groups.map((g) => [...g].reduce((total, label) => total + this.mass[label], 0));
    const heaviest = Math.max(...mass);
    const heights = boxes.map((b) => b[1] - b[0]);
    const substantial = mass.map((m) => m >= SUBSTANTIAL * heaviest);
    if (TALL_ROW) {  // a 5's cap or a 7's bar drawn apart is substantial but does not set the height
      const tallest = Math.max(...heights.filter((_, i) => substantial[i]));
      heights.forEach((h, i) => { if (h < SHORT * tallest) substantial[i] = false; });
    }
    const widths = boxes.map((b) => b[3] - b[2]);
    const height = median(heights.filter((_, i) => substantial[i]));
    const bandTop = median(boxes.filter((_, i) => substantial[i]).map((b) => b[0]));
    const bandBottom = median(boxes.filter((_, i) => substantial[i]).map((b) => b[1]));
    const keep = boxes.map((b, i) => {
      const [longer, shorter] = [Math.max(heights[i], widths[i]), Math.min(heights[i], widths[i])];
      const inside = Math.min(b[1], bandBottom) - Math.max(b[0], bandTop);
      return longer >= SPECK * height && !(shorter < LINE_THIN * height && longer > LINE_LONG * height) &&
        inside >= IN_ROW * heights[i];
    });
    const short = heights.map((h) => h < SHORT * height);
    const tallIndex = groups.map((_, i) => i).filter((i) => keep[i] && !short[i]);
    if (tallIndex.length === 0) return { digits: groups.filter((_, i) => keep[i]), height };
    const digits = tallIndex.map((i) => new Set(groups[i]));
    groups.forEach((group, index) => {  // a short piece is part of its nearest digit (a 5's cap, a 7's bar), if near
      if (!keep[index] || !short[index]) return;
      const box = boxes[index];
      const gaps = tallIndex.map((t) => Math.max(0, Math.max(box[2] - boxes[t][3], boxes[t][2] - box[3])));
      let nearest = 0;
      for (let i = 1; i < gaps.length; i++) if (gaps[i] < gaps[nearest]) nearest = i;
      if (gaps[nearest] <= MERGE_GAP * height) for (const label of group) digits[nearest].add(label);
    });
    return { digits, height };
  }

  // The piece's 28x28 input and its pixel box [left, top, right, bottom], or null when the
  // single-digit steps find no digit in it; `others`: grid cells of the other digits.
  prepare(p, others) {
    if (this.prepared.has(p.key)) return this.prepared.get(p.key);
    const own = this.mask(p);
    const cell = this.cell;
    let [top, bottom, left, right] = this.box(p).map((v) => v * cell);
    const margin = 2 * cell + 2;
    [top, left] = [Math.max(0, top - margin), Math.max(0, left - margin)];
    [bottom, right] = [Math.min(this.ink.rows, bottom + margin), Math.min(this.ink.cols, right + margin)];
    // Blanked: the pixels of cells next to (or on) another digit's cells and not the piece's own:
    // Python's window(others, 1, max) & ~own, computed for the crop's cells only (the same values).
    const [cellTop, cellLeft] = [Math.floor(top / cell), Math.floor(left / cell)];
    const [cellBottom, cellRight] = [Math.floor((bottom - 1) / cell) + 1, Math.floor((right - 1) / cell) + 1];
    const blankCols = cellRight - cellLeft;
    const blank = new Uint8Array((cellBottom - cellTop) * blankCols);
    for (let cy = cellTop; cy < cellBottom; cy++) {
      for (let cx = cellLeft; cx < cellRight; cx++) {
        if (own[cy * this.cols + cx]) continue;
        let near = 0;
        for (let ny = Math.max(0, cy - 1); ny < Math.min(this.rows, cy + 2) && !near; ny++) {
          for (let nx = Math.max(0, cx - 1); nx < Math.min(this.cols, cx + 2); nx++) near |= others[ny * this.cols + nx];
        }
        blank[(cy - cellTop) * blankCols + cx - cellLeft] = near ? 1 : 0;
      }
    }
    const crop = grid(bottom - top, right - left);
    for (let y = top; y < bottom; y++) {
      const blankRow = (Math.floor(y / cell) - cellTop) * blankCols - cellLeft;
      for (let x = left; x < right; x++) {
        const at = y * this.ink.cols + x;
        crop.data[(y - top) * crop.cols + x - left] = blank[blankRow + Math.floor(x / cell)] ? 0 : this.ink.data[at];
      }
    }
    let result = null;
    try {
      const { digit, box: [y0, y1, x0, x1] } = findDigitBox(crop, this.noise);
      result = { image: toInput(digit), box: [left + x0, top + y0, left + x1, top + y1] };
      this.crops.set(p.key, digit);
    } catch (error) {
      if (!(error instanceof NoDigit)) throw error;
    }
    this.prepared.set(p.key, result);
    return result;
  }

  // Each piece's confidence (its largest probability; 0 when no digit is found in it), the other
  // pieces being everything else that is ink of a digit; the piece judge, when there is one, gives
  // the same new inputs their P(one whole digit).
  async score(pieces, everything) {
    const ready = [];
    for (const p of pieces) {
      if (this.scores.has(p.key)) continue;
      const own = this.mask(p);
      const prepared = this.prepare(p, everything.map((v, i) => (v && !own[i] ? 1 : 0)));
      this.scores.set(p.key, prepared === null ? null : await this.classify(prepared.image));
      if (prepared !== null) ready.push([p, prepared]);
    }
    if (this.oneDigit !== null && ready.length) {
      const whole = this.oneDigit(ready.map(([, prepared]) => prepared.image));
      ready.forEach(([p], i) => this.wholeDigit.set(p.key, whole[i]));
    }
    return pieces.map((p) => {
      const probabilities = this.scores.get(p.key);
      return probabilities === null ? 0 : Math.max(...probabilities);
    });
  }

  // Candidate cuts: the columns crossed by least ink, at least PART_MIN of the row's height from
  // each other and from the piece's ends, CUTS per row height of its width.
  cutColumns(p, height) {
    const [, , left, right] = this.box(p);
    const least = Math.max(1, roundHalfUp(PART_MIN * height));
    const mask = this.mask(p);
    const profile = new Float64Array(this.cols);
    for (let i = 0; i < mask.length; i++) profile[i % this.cols] += mask[i];
    const inner = [];
    for (let column = left + least; column < right - least + 1; column++) inner.push(column);
    inner.sort((a, b) => profile[a] - profile[b] || a - b);
    const wanted = Math.ceil(CUTS * (right - left) / height);
    const chosen = [];
    for (const column of inner) {
      if (chosen.length === wanted) break;
      if (chosen.every((c) => Math.abs(column - c) >= least)) chosen.push(column);
    }
    return chosen.sort((a, b) => a - b);
  }

  // [top, bottom, left, right] of a group's components (exclusive).
  groupBox(group) {
    const own = [...group].map((label) => this.boxes[label]);
    return [Math.min(...own.map((b) => b[0])), Math.max(...own.map((b) => b[1])),
      Math.min(...own.map((b) => b[2])), Math.max(...own.map((b) => b[3]))];
  }

  groupGap(a, b) {
    const [boxA, boxB] = [this.groupBox(a), this.groupBox(b)];
    return Math.max(0, boxA[2] - boxB[3], boxB[2] - boxA[3]);
  }

  // [group index, unit] left to right: each group whole, or, when it is wide (WIDE of max(its height,
  // the row's); WIDE_ALONE alone on the page), its parts between the candidate cuts.
  units(groups, height) {
    const order = groups.map((_, i) => i).sort((i, j) => {
      const [a, b] = [this.groupBox(groups[i]), this.groupBox(groups[j])];
      return (a[2] + a[3]) - (b[2] + b[3]) || i - j;
    });
    const found = [];
    for (const index of order) {
      const whole = this.whole(groups[index]);
      const [top, bottom, left, right] = this.box(whole);
      const wide = groups.length === 1 ? WIDE_ALONE : WIDE;
      if (right - left <= wide * Math.max(bottom - top, height)) {
        found.push([index, whole]);
        continue;
      }
      const edges = [0, ...this.cutColumns(whole, height), this.cols];
      for (let k = 0; k + 1 < edges.length; k++) {
        const unit = piece([part(whole.parts[0].labels, edges[k], edges[k + 1])]);
        if (this.mask(unit).some((v) => v)) found.push([index, unit]);
      }
    }
    return found;
  }

  // One piece of consecutive units (the parts of one group joined into one).
  static joined(run) {
    const parts = [];
    for (const [, unit] of run) {
      const { labels, left, right } = unit.parts[0];
      const last = parts[parts.length - 1];
      if (last && last.labels === labels && last.right === left) parts[parts.length - 1] = part(labels, last.left, right);
      else parts.push(part(labels, left, right));
    }
    return piece(parts);
  }

  // "start,end" -> { piece, joins } for the runs of consecutive units that may be one digit: each
  // whole group, and runs of at most SPAN units: one unit, or several no wider than WIDEST of the row's
  // height, whose groups lie at most MERGE_GAP of the row's height apart.
  candidates(units, groups, height) {
    const found = new Map();
    for (let start = 0; start < units.length; start++) {
      for (let end = start + 1; end <= Math.min(units.length, start + SPAN); end++) {
        const run = units.slice(start, end);
        const p = Segmenter.joined(run);
        const [, , left, right] = this.box(p);
        const indices = run.map(([i]) => i);
        const whole = indices[0] === indices[indices.length - 1] && (start === 0 || units[start - 1][0] !== indices[0]) &&
          (end === units.length || units[end][0] !== indices[0]);
        if (end - start > 1 && right - left > WIDEST * height && !whole) continue;
        const apart = [];
        for (let k = 0; k + 1 < indices.length; k++) {
          if (indices[k] !== indices[k + 1]) apart.push(this.groupGap(groups[indices[k]], groups[indices[k + 1]]));
        }
        if (apart.some((gap) => gap > MERGE_GAP * height)) break;
        found.set(`${start},${end}`, { piece: p, joins: apart.length, alone: whole && groups.length === 1 });
      }
    }
    for (let index = 0; index < groups.length; index++) {  // each group whole, however many units it spans
      const span = [];
      units.forEach(([group], position) => { if (group === index) span.push(position); });
      const key = span.length ? `${span[0]},${span[span.length - 1] + 1}` : null;
      if (key !== null && !found.has(key)) {
        const p = Segmenter.joined(units.slice(span[0], span[span.length - 1] + 1));
        found.set(key, { piece: p, joins: 0, alone: groups.length === 1 });
      }
    }
    return found;
  }

  // How likely the piece is one digit (`digit`, when given): its confidence (its probability of
  // `digit`) x the width prior (none for the whole of the only group) x JOIN per pair of groups joined
  // x DIGIT x the piece judge's P(one digit) (at least FLOOR) to PIECE_POWER; FLOOR for no digit or
  // one lower than SHORT of the row's height.
  value(p, joins, height, alone = false, digit = null) {
    const prepared = this.prepared.get(p.key);
    const scores = this.scores.get(p.key);
    if (prepared == null || scores == null || prepared.box[3] - prepared.box[1] < SHORT * height * this.cell) return FLOOR;
    const [top, bottom, left, right] = this.box(p);
    const width = (right - left) / Math.max(bottom - top, height);
    let prior = width <= WIDTH_FREE || alone ? 1.0 : Math.max(FLOOR, 1.0 - (width - WIDTH_FREE) * WIDTH_SLOPE);
    if (width < NARROW) prior *= SLIVER;
    let join = 1.0;
    for (let k = 0; k < joins; k++) join *= JOIN;
    let judged = 1.0;
    if (this.wholeDigit.has(p.key)) {
      const whole = Math.max(FLOOR, this.wholeDigit.get(p.key));
      judged = whole;  // whole ^ PIECE_POWER multiplied out (p for 1, p * p for 2): Python's bits
      for (let k = 1; k < PIECE_POWER; k++) judged *= whole;
    }
    return (digit === null ? Math.max(...scores) : scores[digit]) * prior * join * DIGIT * judged;
  }

  // The prepared piece's input in a field `width` pixels wide (toInput's); its 28x28 input when width is 28.
  wideInput(p, width) {
    return width === FIELD ? this.prepared.get(p.key).image : toInput(this.crops.get(p.key), width);
  }

  // piece key -> the pair reader's probabilities, for the candidates of one group (no gap joined)
  // at least PAIR_WIDE of max(their height, the row's) wide that are prepared and whose digit is at
  // least SHORT of the row's height high (as value() requires of one digit).
  pairs(candidates, height) {
    const found = new Map();
    if (this.readPair === null) return found;
    const wide = [];
    for (const { piece: p, joins } of candidates.values()) {
      const [top, bottom, left, right] = this.box(p);
      const prepared = this.prepared.get(p.key);
      if (joins === 0 && p.parts.length === 1 && prepared != null &&
          prepared.box[3] - prepared.box[1] >= SHORT * height * this.cell &&
          right - left >= PAIR_WIDE * Math.max(bottom - top, height)) wide.push(p);
    }
    if (!wide.length) return found;
    const width = this.readPair.width ?? FIELD;
    const read = this.readPair(wide.map((p) => this.wideInput(p, width)));
    wide.forEach((p, i) => found.set(p.key, read[i]));
    return found;
  }

  // The digits: the runs of units covering them all whose values multiply to the most, each
  // { piece, pair: null } for one digit or { piece, pair: the pair reader's probabilities } for two:
  // a pair is worth its likeliest pair's probability times DIGIT squared (PAIR_VETO, PAIR_SURE: as in
  // segment.py's best_path).
  async bestPath(units, groups, height, everything) {
    const candidates = this.candidates(units, groups, height);
    await this.score([...candidates.values()].map((c) => c.piece), everything);
    const pairs = this.pairs(candidates, height);
    const n = units.length;
    const best = [1.0, ...new Array(n).fill(-1.0)];
    const back = Array.from({ length: n + 1 }, () => [0, false]);
    for (let end = 1; end <= n; end++) {
      for (let start = 0; start < end; start++) {  // runs of at most SPAN units, and whole groups of more
        const candidate = candidates.get(`${start},${end}`);
        if (candidate === undefined || best[start] < 0) continue;
        let total = best[start] * this.value(candidate.piece, candidate.joins, height, candidate.alone);
        const pair = pairs.get(candidate.piece.key);
        if (PAIR_VETO && pair !== undefined) total *= pair[NOT_A_PAIR];
        if (total > best[end]) [best[end], back[end]] = [total, [start, false]];
        if (pair !== undefined && !(PAIR_SURE && Math.max(...pair.slice(0, NOT_A_PAIR)) <= pair[NOT_A_PAIR])) {
          total = best[start] * Math.max(...pair.slice(0, NOT_A_PAIR)) * DIGIT * DIGIT;
          if (total > best[end]) [best[end], back[end]] = [total, [start, true]];
        }
      }
    }
    const path = [];
    for (let end = n; end > 0; end = back[end][0]) {
      const p = candidates.get(`${back[end][0]},${end}`).piece;
      path.push({ piece: p, pair: back[end][1] ? pairs.get(p.key) : null });
    }
    return path.reverse();
  }

  // bestPath's digits when the number must have `count` of them (a pair counts two), or null when no
  // run of the units makes that many (segment.py's counted_path: the same order, the same ties). With
  // `spelling` (`count` digits), the runs are valued as reading it (spelled).
  async countedPath(units, groups, height, everything, count, spelling = null) {
    const candidates = this.candidates(units, groups, height);
    await this.score([...candidates.values()].map((c) => c.piece), everything);
    const pairs = this.pairs(candidates, height);
    const n = units.length;
    const best = new Map([["0,0", [1.0, [0, false]]]]);  // "end,digits" -> [value, [start, pair]]
    for (let end = 1; end <= n; end++) {
      for (let start = 0; start < end; start++) {
        const candidate = candidates.get(`${start},${end}`);
        if (candidate === undefined) continue;
        const pair = pairs.get(candidate.piece.key);
        let one = this.value(candidate.piece, candidate.joins, height, candidate.alone);
        if (PAIR_VETO && pair !== undefined) one *= pair[NOT_A_PAIR];
        const unsure = pair !== undefined && PAIR_SURE && Math.max(...pair.slice(0, NOT_A_PAIR)) <= pair[NOT_A_PAIR];
        const two = pair !== undefined && !unsure ? Math.max(...pair.slice(0, NOT_A_PAIR)) * DIGIT * DIGIT : null;
        for (let digits = 0; digits < count; digits++) {
          const before = best.get(`${start},${digits}`);
          if (before === undefined) continue;
          const values = spelling === null ? [one, two] :
            this.spelled(candidate, height, pair, spelling.slice(digits, digits + 2), two !== null);
          for (const [added, value, isPair] of [[1, values[0], false], [2, values[1], true]]) {
            if (value === null || digits + added > count) continue;
            const total = before[0] * value;
            const key = `${end},${digits + added}`;
            if (total > (best.has(key) ? best.get(key)[0] : -1.0)) best.set(key, [total, [start, isPair]]);
          }
        }
      }
    }
    if (!best.has(`${n},${count}`)) return null;
    const path = [];
    for (let [end, digits] = [n, count]; end > 0;) {
      const [start, isPair] = best.get(`${end},${digits}`)[1];
      const p = candidates.get(`${start},${end}`).piece;
      path.push({ piece: p, pair: isPair ? pairs.get(p.key) : null });
      [end, digits] = [start, digits - (isPair ? 2 : 1)];
    }
    return path.reverse();
  }

  // countedPath's values of a candidate read as the first digit of `places` (one or two digits), and
  // read as a pair of both (null when it may not be read as a pair or `places` holds one digit).
  spelled(candidate, height, pair, places, mayPair) {
    let one = this.value(candidate.piece, candidate.joins, height, candidate.alone, Number(places[0]));
    if (PAIR_VETO && pair !== undefined) one *= pair[NOT_A_PAIR];
    const both = 10 * Number(places[0]) + Number(places[1]);
    const two = mayPair && places.length === 2 ? pair[both] * DIGIT * DIGIT : null;
    return [one, two];
  }

  // The two digits of a piece read as a pair (a, b, the likeliest pair): probabilities the pair's
  // conditionals (left: P(x, b) over x; right: P(a, x) over x), boxes and inputs the piece's sides of
  // its candidate cut whose sides the classifier reads most surely as a and b (left side's P(a) x right
  // side's P(b); ties: nearest the middle, then leftmost; the middle column when there is no cut; the
  // whole piece's input, and its box cut at the column, for a side with no digit).
  async splitPair(p, pair, height, everything) {
    const [, , left, right] = this.box(p);
    const middle = (left + right) / 2;
    const cuts = this.cutColumns(p, height);
    const columns = cuts.length ? cuts : [Math.trunc(middle)];
    const { labels, left: first, right: last } = p.parts[0];
    const sides = new Map(columns.map((c) => [c, [piece([part(labels, first, c)]), piece([part(labels, c, last)])]]));
    let best = 0;
    for (let k = 1; k < NOT_A_PAIR; k++) if (pair[k] > pair[best]) best = k;
    const [firstDigit, secondDigit] = [Math.floor(best / 10), best % 10];
    await this.score([...sides.values()].flat().filter((s) => this.mask(s).some((v) => v)), everything);
    const agreement = (c) => {
      const [l, r] = sides.get(c).map((s) => this.scores.get(s.key));
      return (l == null ? 0 : l[firstDigit]) * (r == null ? 0 : r[secondDigit]);
    };
    let column = columns[0];
    for (const c of columns.slice(1)) {
      const [a, b] = [agreement(c), agreement(column)];
      if (a > b || (a === b && (Math.abs(c - middle) < Math.abs(column - middle) ||
          (Math.abs(c - middle) === Math.abs(column - middle) && c < column)))) column = c;
    }
    const normalised = (odds) => {
      let total = 0;
      for (const v of odds) total += v;
      return odds.map((v) => v / Math.max(total, 1e-12));
    };
    const leftOdds = normalised(Array.from({ length: 10 }, (_, x) => pair[10 * x + secondDigit]));
    const rightOdds = normalised(Array.from({ length: 10 }, (_, x) => pair[10 * firstDigit + x]));
    const whole = this.prepared.get(p.key);
    const [x0, y0, x1, y1] = whole.box;
    const split = Math.min(Math.max(column * this.cell, x0 + 1), x1 - 1);  // within the pair's box
    const [leftSide, rightSide] = sides.get(column);
    return [[leftSide, leftOdds, [x0, y0, split, y1]], [rightSide, rightOdds, [split, y0, x1, y1]]]
      .map(([side, probabilities, fallback]) => {
        const prepared = this.prepared.get(side.key);
        return prepared != null ? { ...prepared, probabilities } : { image: whole.image, box: fallback, probabilities };
      });
  }

  // The number's digits left to right ({ image, box, probabilities }); null when it holds a single
  // digit (prepared as one). With `count` (2 or more), the best reading of exactly that many digits
  // (countedPath); null when the row holds none; with `spelling` too, the best reading as it.
  async digits(count = null, spelling = null) {
    const { digits: groups, height } = this.row(this.strokesJoined());
    if (groups.length === 0) return null;
    const labels = new Set(groups.flatMap((g) => [...g]));
    const everything = Uint8Array.from(this.labels, (label) => (labels.has(label) ? 1 : 0));
    const units = this.units(groups, height);
    let path;
    if (count !== null) {
      path = await this.countedPath(units, groups, height, everything, count, spelling);
      if (path === null) return null;
    } else if (units.length === 1 && !(PAIR_ALONE && this.readPair !== null)) return null;
    else path = await this.bestPath(units, groups, height, everything);
    if (path.length === 1 && path[0].pair === null) return null;
    await this.score(path.filter(({ pair }) => pair === null).map(({ piece: p }) => p), everything);
    const found = [];
    for (const { piece: p, pair } of path) {
      if (pair !== null) found.push(...(await this.splitPair(p, pair, height, everything)));
      else if (this.prepared.get(p.key) != null) found.push({ ...this.prepared.get(p.key), probabilities: this.scores.get(p.key) });
    }
    found.sort((a, b) => (a.box[0] + a.box[2]) - (b.box[0] + b.box[2]));  // stable, as Python's sort
    return found.length <= 1 ? null : found;
  }

  // findDigits of this segmenter's ink and settings; a second call (another count) reuses the pieces
  // the first one prepared and scored.
  async find(count = null, spelling = null) {
    if (spelling !== null) {
      if (!/^[0-9]+$/.test(spelling) || (count !== null && count !== spelling.length)) {
        throw new Error(`a spelling is \`count\` digits 0-9; received ${JSON.stringify(spelling)} for count ${count}`);
      }
      count = spelling.length;
    }
    const digits = count !== 1 ? await this.digits(count, spelling) : null;
    if (digits !== null && (count === null || digits.length === count)) return digits;
    if (count !== null && count !== 1) return null;
    const { digit, box: [top, bottom, left, right] } = findDigitBox(this.ink);
    const image = toInput(digit);
    return [{ image, box: [left, top, right, bottom], probabilities: await this.classify(image) }];
  }
}

// ink (inkImage's grid) -> the digits left to right, each { image: Uint8Array(784), box: [left, top,
// right, bottom] (exclusive), probabilities }; throws NoDigit when there are none. oneDigit: the
// piece judge (piece_judge.js), or null: the classifier and the priors alone decide the cuts;
// readPair: the pair reader (piece_judge.js), or null: every piece is read as one digit.
// count: that many digits (1: the ink read as one digit; 2 or more: the best reading of exactly that
// many, null when the row holds none); spelling: a string of digits, read as its count is, the pieces
// valued by their probability of the digit in their place.
export async function findDigits(ink, classify, oneDigit = null, readPair = null, count = null, spelling = null) {
  return new Segmenter(ink, classify, oneDigit, readPair).find(count, spelling);
}

// The pixels of the row of digits that number reading reads (ink's [rows * cols] 0/1): the cells of
// its digit groups and their neighbours (line.py's line_of); throws NoDigit when there is none.
// segmenter: the one that reads the ink (one segmenter serves the reading and its line).
export function rowPixels(ink, segmenter = new Segmenter(ink, null)) {
  const { digits: groups } = segmenter.row(segmenter.strokesJoined());
  if (groups.length === 0) throw new NoDigit("no row of digits found");
  const labels = new Set(groups.flatMap((g) => [...g]));
  const near = windowed(grid(segmenter.rows, segmenter.cols,
    Float64Array.from(segmenter.labels, (label) => (labels.has(label) ? 1 : 0))), 1, Math.max);
  const cell = segmenter.cell;
  const keep = new Uint8Array(ink.rows * ink.cols);
  for (let y = 0; y < ink.rows; y++) {
    for (let x = 0; x < ink.cols; x++) keep[y * ink.cols + x] = near.data[Math.floor(y / cell) * segmenter.cols + Math.floor(x / cell)] ? 1 : 0;
  }
  return keep;
}

// The width of the inputs a detector reads (segment.py's field_width): 28, or a wider field, as its
// dense layer's inputs tell; an Error when no multiple of 28 up to WIDEST_FIELD fits them.
export function fieldWidth(detector) {
  const [dense] = DETECTOR_LAYERS.find(([, kind]) => kind === "dense");
  const units = detector.tensors[`${dense}/bias`].values.length;
  const rows = detector.tensors[`${dense}/kernel`].values.length / units;
  for (let width = FIELD; width <= WIDEST_FIELD; width += FIELD) {
    let [height, across, channels] = [FIELD, width, 1];
    for (const [, kind, size] of DETECTOR_LAYERS) {
      if (kind === "conv") [height, across, channels] = [height - 2, across - 2, size];
      else if (kind === "pool") [height, across] = [Math.floor(height / size), Math.floor(across / size)];
      else break;
    }
    if (height * across * channels === rows) return width;
  }
  throw new Error(`a detector's dense layer with ${rows} inputs reads no field 28 high and a multiple of 28 wide up to ${WIDEST_FIELD}`);
}
