// The not-a-digit judge of digitnet/serving/judge.py, in plain JavaScript: the same decision on
// the same 28x28 input and the model's served probabilities.
// - The detector, a small CNN (DETECTOR_LAYERS, as judge.py's), gives the probability that the ink
//   is not a digit (its eleventh class); its weights are models/detector.bin, described by
//   models/judge.json (both written by the build from saved_models/not_a_digit/<newest version>/).
// - The model's probabilities are calibrated with the temperature models.json gives that model file
//   (softmax(log(max(p, FLOOR)) / T)); a calibrated top probability under the model's confidence
//   floor also means "not a digit", as does a detector probability at or over the threshold.

export const DETECTOR_LAYERS = [["conv1", "conv", 32], ["pool1", "pool", 2], ["conv2", "conv", 64],
  ["pool2", "pool", 2], ["dense1", "dense", 64], ["logits", "dense", 11]];
export const NOT_A_DIGIT_CLASS = 10;
export const FIELD = 28;
const FLOOR = 1e-4;  // calibration.py's FLOOR: probabilities under it count as it (log 0 has no temperature)

// models/judge.json and the bytes of models/detector.bin -> a detector; an Error names what is missing.
export function loadDetector(spec, buffer) {
  const view = new DataView(buffer);
  const tensors = {};
  for (const { name, shape, offset, length } of spec.tensors) {
    if (4 * (offset + length) > buffer.byteLength) throw new Error(`${spec.file} is too short for ${name}`);
    const values = new Float32Array(length);
    for (let i = 0; i < length; i += 1) values[i] = view.getFloat32(4 * (offset + i), true);
    tensors[name] = { shape, values };
  }
  const missing = DETECTOR_LAYERS.filter(([, kind]) => kind !== "pool")
    .flatMap(([name]) => [`${name}/kernel`, `${name}/bias`]).filter((key) => !(key in tensors));
  if (missing.length) throw new Error(`detector weights lack ${missing.join(", ")}; they hold ${Object.keys(tensors)}`);
  return { threshold: spec.threshold, tensors };
}

// [h, w, c] (Float32Array, channels last) -> [h-2, w-2, f]: a valid 3x3 convolution, then ReLU.
function convRelu({ data, height, width, channels }, kernel, bias) {
  const filters = bias.length;
  const [outHeight, outWidth] = [height - 2, width - 2];
  const out = new Float32Array(outHeight * outWidth * filters);
  const sums = new Float64Array(filters);
  for (let y = 0; y < outHeight; y += 1) {
    for (let x = 0; x < outWidth; x += 1) {
      sums.fill(0);
      for (let dy = 0; dy < 3; dy += 1) {
        for (let dx = 0; dx < 3; dx += 1) {
          for (let c = 0; c < channels; c += 1) {
            const v = data[((y + dy) * width + x + dx) * channels + c];
            if (v === 0) continue;
            const row = ((dy * 3 + dx) * channels + c) * filters;
            for (let f = 0; f < filters; f += 1) sums[f] += v * kernel[row + f];
          }
        }
      }
      const at = (y * outWidth + x) * filters;
      for (let f = 0; f < filters; f += 1) out[at + f] = Math.max(0, Math.fround(sums[f]) + bias[f]);
    }
  }
  return { data: out, height: outHeight, width: outWidth, channels: filters };
}

// Max-pooling over size x size blocks; a last row or column that fills no block is dropped.
function maxPool({ data, height, width, channels }, size) {
  const [outHeight, outWidth] = [Math.floor(height / size), Math.floor(width / size)];
  const out = new Float32Array(outHeight * outWidth * channels).fill(-Infinity);
  for (let y = 0; y < outHeight * size; y += 1) {
    for (let x = 0; x < outWidth * size; x += 1) {
      const to = (Math.floor(y / size) * outWidth + Math.floor(x / size)) * channels;
      for (let c = 0; c < channels; c += 1) out[to + c] = Math.max(out[to + c], data[(y * width + x) * channels + c]);
    }
  }
  return { data: out, height: outHeight, width: outWidth, channels };
}

// Flattened input (in [h, w, c] order) times kernel [in, out] plus bias; ReLU unless `last`.
function dense(data, kernel, bias, last) {
  const units = bias.length;
  const sums = new Float64Array(units);
  for (let i = 0; i < data.length; i += 1) {
    const v = data[i];
    if (v === 0) continue;
    for (let u = 0; u < units; u += 1) sums[u] += v * kernel[i * units + u];
  }
  const out = new Float32Array(units);
  for (let u = 0; u < units; u += 1) {
    const value = Math.fround(sums[u]) + bias[u];
    out[u] = last ? value : Math.max(0, value);
  }
  return out;
}

// 28x28 uint8 image (MNIST polarity) -> the detector's 11 logits (digits 0-9, then "not a digit");
// `width`: images 28 high and that wide (a pair reader's wide fields).
export function detectorLogits(detector, pixels, width = FIELD) {
  let x = { data: Float32Array.from(pixels, (v) => v / 255), height: FIELD, width, channels: 1 };
  for (const [name, kind, size] of DETECTOR_LAYERS) {
    if (kind === "pool") {
      x = maxPool(x, size);
      continue;
    }
    const kernel = detector.tensors[`${name}/kernel`].values;
    const bias = detector.tensors[`${name}/bias`].values;
    if (kind === "conv") x = convRelu(x, kernel, bias);
    else x = { data: dense(x.data, kernel, bias, name === DETECTOR_LAYERS.at(-1)[0]) };
  }
  return Array.from(x.data);
}

export const softmax = (logits) => {
  const top = Math.max(...logits);
  const exp = logits.map((v) => Math.exp(v - top));
  const total = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / total);
};

// The probability that a 28x28 input is not a digit.
export const notADigitProbability = (detector, pixels) => softmax(detectorLogits(detector, pixels))[NOT_A_DIGIT_CLASS];

// A model's served probabilities -> calibrated ones (temperature scaling of log-probabilities).
export const calibrate = (probabilities, temperature) =>
  softmax(probabilities.map((p) => Math.log(Math.min(1, Math.max(FLOOR, p))) / temperature));

// The temperature of one reading (calibration.py's Calibration.temperatures): the one of the digit
// answered when the judge holds one per answer, else the model's one temperature.
const temperatureOf = (settings, probabilities) => settings.temperatures_by_answer
  ? settings.temperatures_by_answer[probabilities.indexOf(Math.max(...probabilities))]
  : settings.temperature;

// One digit's verdict, as judge.py's Judge.judge gives it: `settings` is models.json's judge entry
// of the model ({ temperature, temperatures_by_answer?, confidence_floor }). `digit` is null when
// the input is not a digit.
export function judgeDigit(detector, settings, pixels, probabilities) {
  const notADigit = notADigitProbability(detector, pixels);
  const calibrated = calibrate(probabilities, temperatureOf(settings, probabilities));
  const confidence = Math.max(...calibrated);
  const best = calibrated.indexOf(confidence);
  let reason = null;
  if (notADigit >= detector.threshold) {
    reason = `the ink looks like no digit (not-a-digit score ${notADigit.toFixed(2)})`;
  } else if (confidence < settings.confidence_floor) {
    reason = `no digit is likely (the best, ${best}, has probability ${confidence.toFixed(2)}, ` +
      `under ${settings.confidence_floor.toFixed(2)})`;
  }
  return { digit: reason ? null : best, confidence, probabilities: calibrated, notADigit, reason };
}
