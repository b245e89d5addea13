// The SCORM 2004 player page's run-time (window.API_1484_11), bundled by build.mjs.
import { Scorm2004API } from "scorm-again/scorm2004";
import { startRuntime } from "./scorm_runtime.js";

startRuntime(Scorm2004API, "API_1484_11");
