// Bundles the test AU (src/au.js with @xapi/cmi5) into one script: `node build.mjs OUTDIR`.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] || path.join(here, "dist"));
await build({
  entryPoints: [path.join(here, "src/au.js")], outfile: path.join(out, "au.js"), bundle: true, minify: true,
  format: "iife", target: ["es2019"], platform: "browser", logLevel: "warning", absWorkingDir: here,
  define: { "process.env.NODE_ENV": '"production"' },
});
