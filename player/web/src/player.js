// The player's enhancements. Every page works without this file; it adds the device's queue
// (offline first), the sync status, the resume point and progress, answer autosave, the quiz
// countdown, and the installable web app (service worker). Bundled by build.mjs.
import { lesson } from "./lesson.js";
import { offline } from "./offline.js";
import { quiz } from "./quiz.js";
import { setup } from "./status.js";
import { start } from "./sync.js";

document.addEventListener("DOMContentLoaded", () => {
  setup();
  const root = document.getElementById("lesson");
  if (root) { lesson(root); }
  const form = document.getElementById("quiz-form");
  if (form) { quiz(form); }
  start();
  if (document.readyState === "complete") { offline(); } else { window.addEventListener("load", offline); }
});
