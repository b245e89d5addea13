// Bundles the player's browser code at build time (`make assets`): no CDN, nothing fetched at run
// time. The output is committed (player/static/player/), so `make run` needs no Node; a test
// rebuilds it into a temporary folder and checks the committed files are current.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ? path.resolve(process.argv[2]) : path.resolve(here, "../static/player");
const banner = "/* Built by player/web/build.mjs (esbuild) from player/web/src; edit the sources, not this file. */";
const common = {
  bundle: true, minify: true, format: "iife", target: ["es2019"], legalComments: "none", logLevel: "warning",
  banner: { js: banner }, absWorkingDir: here,
  // Workbox logs only in development builds.
  define: { "process.env.NODE_ENV": '"production"' },
};
await build({ ...common, entryPoints: ["src/player.js"], outfile: path.join(out, "player.js") });
await build({ ...common, entryPoints: ["src/sw.js"], outfile: path.join(out, "sw.js") });
// The SCORM player page's run-time API (npm scorm-again), one bundle per SCORM version.
await build({ ...common, entryPoints: ["src/scorm12.js"], outfile: path.join(out, "scorm12.js") });
await build({ ...common, entryPoints: ["src/scorm2004.js"], outfile: path.join(out, "scorm2004.js") });
