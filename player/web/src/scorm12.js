// The SCORM 1.2 player page's run-time (window.API), bundled by build.mjs.
import { Scorm12API } from "scorm-again/scorm12";
import { startRuntime } from "./scorm_runtime.js";

startRuntime(Scorm12API, "API");
