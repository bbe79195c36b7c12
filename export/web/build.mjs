// Builds dist/: the bundled page, LiteRT's wasm files and the exported TFLite models.
import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const models = process.env.DIGITNET_TFLITE_DIR || join(here, "..", "..", "saved_models", "tflite", "lenet", "1");

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "models"), { recursive: true });
await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true, format: "esm", target: "es2022", minify: true, sourcemap: true,
  outfile: join(dist, "app.js"),
});
cpSync(join(here, "src", "index.html"), join(dist, "index.html"));
cpSync(join(here, "node_modules", "@litertjs", "core", "wasm"), join(dist, "wasm"), { recursive: true });
for (const variant of ["int8", "float32"]) {
  cpSync(join(models, `lenet_${variant}.tflite`), join(dist, "models", `lenet_${variant}.tflite`));
}
console.log(`built ${dist} (models from ${models})`);
