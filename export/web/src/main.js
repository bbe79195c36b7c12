// Write a number (or one digit); a TFLite model exported by digitnet (the committee by default,
// LeNet the small alternative) reads every digit, on the device, with LiteRT.js. The build lists
// the models in models/models.json, each with its input and output scale and zero point (from its
// model card). The digits are found as Python finds them (segment.js, PREPROCESSING.md), the cuts
// of touching digits weighed by the piece judge and wide pieces read as pairs by the pair reader
// when the build has them (piece_judge.js, on models/piece_judge.json and .bin, models/pair_reader.json
// and .bin). With
// "not a digit" ticked (the default), the judge of digitnet/serving/judge.py (judge.js, on the
// build's models/judge.json and models/detector.bin) decides whether each piece is a digit at all.
// Where the build has the line reader (models/line_reader.tflite), the row is also read as one line
// and the segmenter reads it again with the line reader's count where the two counts differ (line.js).
import { loadAndCompile, loadLiteRt, Tensor } from "@litertjs/core";
import { judgeDigit, loadDetector } from "./judge.js";
import { loadPairReader, loadPieceJudge } from "./piece_judge.js";
import { LINE_HEIGHT, LINE_STEPS, LINE_WIDTH, lineInput, recount } from "./line.js";
import { FIELD, greyFromRGBA, inkImage, NoDigit, toMnist } from "./preprocess.js";
import { Segmenter } from "./segment.js";

const canvas = document.getElementById("pad");
const context = canvas.getContext("2d", { willReadFrequently: true });
const state = { models: {}, model: null, name: null, detector: null, oneDigit: null, readPair: null, lineReader: null,
  drawing: false, last: null };
const judgeBox = document.getElementById("judge");

function clearPad() {
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  showNumber("–");
  document.getElementById("timing").textContent = "";
  renderDigits([]);
}

const NOT_A_DIGIT = "not a digit";
const REFUSED_MARK = "?";  // a piece that is not a digit, in a number (as predict --not-a-digit prints it)

function showNumber(text) {
  const shown = document.getElementById("digit");
  shown.textContent = text;
  shown.classList.toggle("words", text === NOT_A_DIGIT);
}

// One column per digit, left to right: the digit read (or "not a digit", the judge's reason as its
// tooltip) and its ten bars.
function renderDigits(columns) {
  document.getElementById("digits").replaceChildren(...columns.map(({ heading, reason, probabilities }) => {
    const column = document.createElement("div");
    column.className = "reading";
    const title = document.createElement("h2");
    title.textContent = heading;
    if (reason) {
      title.className = "refused";
      title.title = reason;
    }
    column.innerHTML = probabilities.map((p, digit) => `<div class="bar"><span>${digit}</span>` +
      `<div><i style="width:${(100 * p).toFixed(1)}%"></i></div><b>${(100 * p).toFixed(1)}%</b></div>`).join("");
    column.prepend(title);
    return column;
  }));
}

// models/models.json -> the selector's options, the first selected.
async function listModels() {
  const response = await fetch("models/models.json");
  if (!response.ok) throw new Error(`models/models.json: HTTP ${response.status}`);
  const select = document.getElementById("model");
  select.replaceChildren(...(await response.json()).map((spec) => {
    state.models[spec.id] = spec;
    return new Option(spec.label, spec.id);
  }));
  select.selectedIndex = 0;
}

// models/judge.json and models/detector.bin, when the build has a judge; without one the
// "not a digit" box is switched off and disabled.
async function loadJudge() {
  const response = await fetch("models/judge.json");
  if (response.status === 404) {
    judgeBox.checked = false;
    judgeBox.disabled = true;
    judgeBox.parentElement.title = "this build has no not-a-digit judge (saved_models/not_a_digit)";
    return;
  }
  if (!response.ok) throw new Error(`models/judge.json: HTTP ${response.status}`);
  const spec = await response.json();
  const weights = await fetch(`models/${spec.file}`);
  if (!weights.ok) throw new Error(`models/${spec.file}: HTTP ${weights.status}`);
  state.detector = loadDetector(spec, await weights.arrayBuffer());
}

// A CNN of the detector's shape from models/<name>.json and its weights, or null when the build has
// none (a 404): without a piece judge the cuts are weighed by the classifier and the priors alone,
// without a pair reader every piece is read as one digit.
async function loadWeights(name, load) {
  const response = await fetch(`models/${name}.json`);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`models/${name}.json: HTTP ${response.status}`);
  const spec = await response.json();
  const weights = await fetch(`models/${spec.file}`);
  if (!weights.ok) throw new Error(`models/${spec.file}: HTTP ${weights.status}`);
  return load(spec, await weights.arrayBuffer());
}

// models/line_reader.tflite, or null when the build has none (a 404): the segmenter's count stands.
async function loadLineReader() {
  const response = await fetch("models/line_reader.tflite", { method: "HEAD" });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`models/line_reader.tflite: HTTP ${response.status}`);
  return loadAndCompile("models/line_reader.tflite", { accelerator: "wasm" });
}

// One line (lineInput's) -> the line reader's logits (LINE_STEPS rows of its classes) and their steps.
async function readLine(pixels) {
  const input = new Tensor(Float32Array.from(pixels, (v) => v / 255), [1, LINE_HEIGHT, LINE_WIDTH, 1]);
  const outputs = await state.lineReader.run(input);
  const logits = Float32Array.from(outputs[0].toTypedArray());
  input.delete();
  outputs.forEach((t) => t.delete());
  return { logits, steps: LINE_STEPS };
}

async function loadPieces() {
  state.lineReader = await loadLineReader();
  state.oneDigit = await loadWeights("piece_judge", loadPieceJudge);
  state.readPair = await loadWeights("pair_reader", loadPairReader);
}

// The judge's verdict on one digit of a reading, or null without a judge.
const verdict = (digit) => (state.detector
  ? judgeDigit(state.detector, state.models[state.name].judge, digit.image, digit.probabilities) : null);

async function loadModel(id) {
  if (!(id in state.models)) throw new Error(`no model ${JSON.stringify(id)}; the page has ${Object.keys(state.models)}`);
  state.model?.delete?.();
  state.model = await loadAndCompile(state.models[id].file, { accelerator: "wasm" });
  state.name = id;
  document.getElementById("model").value = id;
}

// 28x28 uint8 MNIST image -> the model's input: raw pixels scaled to [0, 1], then quantized if it is.
function inputData(pixels, { dtype, scale, zero_point: zeroPoint }) {
  if (dtype === "float32") return Float32Array.from(pixels, (v) => v / 255);
  if (dtype !== "uint8") throw new Error(`unsupported input type ${dtype}`);
  return Uint8Array.from(pixels, (v) => Math.min(255, Math.max(0, Math.round(v / 255 / scale + zeroPoint))));
}

// 28x28 uint8 MNIST image -> {probabilities, milliseconds}
async function classify(pixels) {
  const { io } = state.models[state.name];
  const input = new Tensor(inputData(pixels, io.input), [1, FIELD, FIELD, 1]);
  const started = performance.now();
  const outputs = await state.model.run(input);
  const milliseconds = performance.now() - started;
  const raw = outputs[0].toTypedArray();
  // In float32, as Python's LiteRT predictor dequantizes: the cuts compare products of these.
  const scale = Math.fround(io.output.scale);
  const probabilities = Array.from(raw, (v) => Math.fround(Math.fround(v - io.output.zero_point) * scale));
  input.delete();
  outputs.forEach((t) => t.delete());
  return { probabilities, milliseconds };
}

// For the benchmark: milliseconds of each of `runs` inferences of the loaded model on one image.
async function timeInference(pixels, runs) {
  const times = [];
  for (let run = 0; run < runs; run += 1) times.push((await classify(pixels)).milliseconds);
  return times;
}

function preprocessCanvas(source) {
  const image = source.getImageData(0, 0, source.canvas.width, source.canvas.height);
  return toMnist(greyFromRGBA(image.data, image.width, image.height), image.width, image.height);
}

// The digits on a canvas, left to right ({ image, box, probabilities }), and the inference time.
async function readCanvas(source) {
  const image = source.getImageData(0, 0, source.canvas.width, source.canvas.height);
  const ink = inkImage(greyFromRGBA(image.data, image.width, image.height), image.width, image.height);
  let milliseconds = 0;
  const classifyTimed = async (pixels) => {
    const answer = await classify(pixels);
    milliseconds += answer.milliseconds;
    return answer.probabilities;
  };
  const segmenter = new Segmenter(ink, classifyTimed, state.oneDigit, state.readPair);
  let digits = await segmenter.find();
  if (state.lineReader !== null) {
    let line = null;
    try {
      line = lineInput(ink, segmenter);
    } catch (error) {
      if (!(error instanceof NoDigit)) throw error;
    }
    if (line !== null) {
      const { logits, steps } = await readLine(line);
      digits = await recount(digits, logits, steps, (count, spelling = null) => segmenter.find(count, spelling));
    }
  }
  return { digits, milliseconds };
}

const best = (probabilities) => probabilities.indexOf(Math.max(...probabilities));

async function predictDrawing() {
  let reading;
  try {
    reading = await readCanvas(context);
  } catch (error) {
    if (error instanceof NoDigit) return clearPad();  // nothing drawn yet
    throw error;
  }
  const { digits, milliseconds } = reading;
  document.getElementById("timing").textContent = `${milliseconds.toFixed(2)} ms (${state.name}, wasm)`;
  if (!judgeBox.checked) {
    showNumber(digits.map((d) => best(d.probabilities)).join(""));
    renderDigits(digits.map((d) => ({ heading: String(best(d.probabilities)), probabilities: d.probabilities })));
    return;
  }
  // Judged: calibrated probabilities, and "not a digit" for each piece the judge refuses.
  const verdicts = digits.map(verdict);
  const allRefused = verdicts.every((v) => v.digit === null);
  showNumber(allRefused ? NOT_A_DIGIT : verdicts.map((v) => (v.digit === null ? REFUSED_MARK : v.digit)).join(""));
  renderDigits(verdicts.map((v) => ({ heading: v.digit === null ? NOT_A_DIGIT : String(v.digit), reason: v.reason,
    probabilities: v.probabilities })));
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}

canvas.addEventListener("pointerdown", (event) => {
  canvas.setPointerCapture(event.pointerId);
  state.drawing = true;
  state.last = point(event);
});
canvas.addEventListener("pointermove", (event) => {
  if (!state.drawing) return;
  const next = point(event);
  context.strokeStyle = "#000";
  context.lineWidth = canvas.height / 14;
  context.lineCap = "round";
  context.beginPath();
  context.moveTo(...state.last);
  context.lineTo(...next);
  context.stroke();
  state.last = next;
});
const finishStroke = () => {
  if (!state.drawing) return;
  state.drawing = false;
  predictDrawing();
};
canvas.addEventListener("pointerup", finishStroke);
canvas.addEventListener("pointercancel", finishStroke);
document.getElementById("clear").addEventListener("click", clearPad);
judgeBox.addEventListener("change", () => predictDrawing());
document.getElementById("model").addEventListener("change", async (event) => {
  await loadModel(event.target.value);
  predictDrawing();
});

// A PNG file (base64) drawn on a canvas of its own size.
async function pngCanvas(base64) {
  const blob = await (await fetch(`data:image/png;base64,${base64}`)).blob();
  const bitmap = await createImageBitmap(blob);
  const scratch = new OffscreenCanvas(bitmap.width, bitmap.height).getContext("2d", { willReadFrequently: true });
  scratch.drawImage(bitmap, 0, 0);
  return scratch;
}

// For tests: the page's own single-digit preprocessing and inference on PNG files (base64).
async function classifyPngs(base64List) {
  const results = [];
  for (const base64 of base64List) {
    const pixels = preprocessCanvas(await pngCanvas(base64));
    const { probabilities } = await classify(pixels);
    results.push({ pixels: Array.from(pixels), digit: best(probabilities) });
  }
  return results;
}

// For tests: the page's reading of PNG files (base64), each digit's box, 28x28 input and answer,
// and the judge's verdict (null without a judge), whether or not the box is ticked.
async function readPngs(base64List) {
  const results = [];
  for (const base64 of base64List) {
    const { digits } = await readCanvas(await pngCanvas(base64));
    results.push(digits.map((d) => ({ box: d.box, pixels: Array.from(d.image), digit: best(d.probabilities),
      probabilities: d.probabilities, verdict: verdict(d) })));
  }
  return results;
}

async function start() {
  clearPad();
  await loadLiteRt("wasm/");
  await listModels();
  await loadJudge();
  await loadPieces();
  await loadModel(document.getElementById("model").value);
  document.getElementById("status").textContent = "Write a number";
  window.digitnet = { ready: true, classifyPngs, readPngs, loadModel, timeInference, models: Object.keys(state.models) };
}

start().catch((error) => {
  document.getElementById("status").textContent = `Could not start: ${error.message}`;
  window.digitnet = { ready: false, error: String(error) };
});
