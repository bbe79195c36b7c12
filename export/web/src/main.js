// Draw a digit; a TFLite model exported by digitnet (the committee by default, LeNet the small
// alternative) answers, on the device, with LiteRT.js. The build lists the models in
// models/models.json, each with its input and output scale and zero point (from its model card).
import { loadAndCompile, loadLiteRt, Tensor } from "@litertjs/core";
import { FIELD, greyFromRGBA, toMnist } from "./preprocess.js";

const canvas = document.getElementById("pad");
const context = canvas.getContext("2d", { willReadFrequently: true });
const state = { models: {}, model: null, name: null, drawing: false, last: null };

function clearPad() {
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  document.getElementById("digit").textContent = "–";
  document.getElementById("timing").textContent = "";
  renderBars(new Array(10).fill(0));
}

function renderBars(probabilities) {
  const bars = document.getElementById("bars");
  bars.replaceChildren(...probabilities.map((p, digit) => {
    const row = document.createElement("div");
    row.className = "bar";
    row.innerHTML = `<span>${digit}</span><div><i style="width:${(100 * p).toFixed(1)}%"></i></div>` +
      `<b>${(100 * p).toFixed(1)}%</b>`;
    return row;
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
  const probabilities = Array.from(raw, (v) => io.output.scale * (v - io.output.zero_point));
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

async function predictDrawing() {
  let pixels;
  try {
    pixels = preprocessCanvas(context);
  } catch {
    return clearPad();  // nothing drawn yet
  }
  const { probabilities, milliseconds } = await classify(pixels);
  const digit = probabilities.indexOf(Math.max(...probabilities));
  document.getElementById("digit").textContent = String(digit);
  document.getElementById("timing").textContent = `${milliseconds.toFixed(2)} ms (${state.name}, wasm)`;
  renderBars(probabilities);
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
  context.lineWidth = canvas.width / 14;
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
document.getElementById("model").addEventListener("change", async (event) => {
  await loadModel(event.target.value);
  predictDrawing();
});

// For tests: the page's own preprocessing and inference on PNG files (base64).
async function classifyPngs(base64List) {
  const results = [];
  for (const base64 of base64List) {
    const blob = await (await fetch(`data:image/png;base64,${base64}`)).blob();
    const bitmap = await createImageBitmap(blob);
    const scratch = new OffscreenCanvas(bitmap.width, bitmap.height).getContext("2d", { willReadFrequently: true });
    scratch.drawImage(bitmap, 0, 0);
    const pixels = preprocessCanvas(scratch);
    const { probabilities } = await classify(pixels);
    results.push({ pixels: Array.from(pixels), digit: probabilities.indexOf(Math.max(...probabilities)) });
  }
  return results;
}

async function start() {
  clearPad();
  await loadLiteRt("wasm/");
  await listModels();
  await loadModel(document.getElementById("model").value);
  document.getElementById("status").textContent = "Draw a digit";
  window.digitnet = { ready: true, classifyPngs, loadModel, timeInference, models: Object.keys(state.models) };
}

start().catch((error) => {
  document.getElementById("status").textContent = `Could not start: ${error.message}`;
  window.digitnet = { ready: false, error: String(error) };
});
