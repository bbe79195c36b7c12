// Builds dist/: the bundled page, LiteRT's wasm files, the exported TFLite models,
// dist/models/models.json, the list the page offers (the first is its default), each with the
// not-a-digit judge's settings for that file, the judge's detector (judge_files.mjs) and number
// reading's piece judge and pair reader (piece_judge_files.mjs) and its line reader (a TFLite file).
import { build } from "esbuild";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportJudge } from "./judge_files.mjs";
import { exportPairReader, exportPieceJudge } from "./piece_judge_files.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dist = process.env.DIGITNET_WEB_DIST || join(here, "dist");
const savedModels = process.env.DIGITNET_SAVED_MODELS || join(here, "..", "..", "saved_models");
const pieceJudge = process.env.DIGITNET_PIECE_JUDGE || join(here, "..", "..", "digitnet", "serving", "piece_judge.npz");
const pairReader = process.env.DIGITNET_PAIR_READER || join(here, "..", "..", "digitnet", "serving", "pair_reader.npz");
const lineReader = process.env.DIGITNET_LINE_READER || join(here, "..", "..", "digitnet", "serving", "line_reader.tflite");
// What the page offers, best first: the committee if one is exported, then LeNet (small).
const OFFER = [
  { name: "committee", title: "Committee", variants: ["int8"] },
  { name: "lenet", title: "LeNet", variants: ["int8", "float32"] },
];

// A bad input is one line on stderr and exit code 1, not a stack trace.
function fail(message) {
  console.error(`build.mjs: ${message}`);
  process.exit(1);
}

// The newest numbered version folder of saved_models/tflite/<name>, or null.
function newestVersion(name) {
  const base = join(savedModels, "tflite", name);
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).map(Number).sort((a, b) => b - a);
  return versions.length ? join(base, String(versions[0])) : null;
}

const readableSize = (bytes) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.round(bytes / 1e3)} KB`);

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "models"), { recursive: true });
let judgeSettings, pieces, pairs;
try {
  judgeSettings = exportJudge(savedModels, join(dist, "models"));
  pieces = exportPieceJudge(pieceJudge, join(dist, "models"));
  pairs = exportPairReader(pairReader, join(dist, "models"));
} catch (error) {
  fail(error.message);
}
const offered = [];
const sources = [];
for (const { name, title, variants } of OFFER) {
  const folder = newestVersion(name);
  if (folder === null) continue;
  const card = JSON.parse(readFileSync(join(folder, "model_card.json"), "utf8"));
  for (const variant of variants) {
    const file = `${name}_${variant}.tflite`;
    const io = card.tflite_io?.[variant];
    if (!io) fail(`${join(folder, "model_card.json")} has no tflite_io.${variant} (re-export the model)`);
    cpSync(join(folder, file), join(dist, "models", file));
    const bytes = statSync(join(folder, file)).size;
    const accuracy = card.test_metrics?.[`tflite_${variant}`]?.accuracy;
    const kind = variant === "int8" ? "uint8-quantized" : variant;
    const what = card.model?.members ? `${title} (${card.model.members} ${card.model.member_arch})` : title;
    offered.push({
      id: `${name}_${variant}`, file: `models/${file}`, bytes, io,
      judge: judgeSettings ? judgeSettings(join(folder, file)) : null,
      label: `${what}, ${kind} (${readableSize(bytes)}${accuracy ? `, ${(100 * accuracy).toFixed(2)} % on MNIST` : ""})`,
    });
    sources.push(join(folder, file));
  }
}
if (offered.length === 0) fail(`no TFLite model under ${join(savedModels, "tflite")} (committee/<v> or lenet/<v>)`);
writeFileSync(join(dist, "models", "models.json"), JSON.stringify(offered, null, 2));
const lines = existsSync(lineReader);
if (lines) cpSync(lineReader, join(dist, "models", "line_reader.tflite"));

await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true, format: "esm", target: "es2022", minify: true, sourcemap: true,
  outfile: join(dist, "app.js"),
});
cpSync(join(here, "src", "index.html"), join(dist, "index.html"));
cpSync(join(here, "node_modules", "@litertjs", "core", "wasm"), join(dist, "wasm"), { recursive: true });
const judged = judgeSettings ? ` and the judge of ${JSON.parse(readFileSync(join(dist, "models", "judge.json"), "utf8")).source}` : "";
const pieceJudged = pieces ? `, the piece judge ${pieceJudge}` : "";
const pairRead = pairs ? `, the pair reader ${pairReader}` : "";
const lineRead = lines ? `, the line reader ${lineReader}` : "";
console.log(`built ${dist} with ${sources.join(", ")}${judged}${pieceJudged}${pairRead}${lineRead}`);
