// The page always says where the learner's work is: saved on this device and waiting to sync, or
// synced (or refused, and why). `data-state` carries the same for scripts and tests.
import { count } from "./queue.js";

let texts = {};
let refused = [];

export function setup() {
  const node = document.getElementById("sync-texts");
  try { texts = JSON.parse(node ? node.textContent : "{}"); } catch (e) { texts = {}; }
}

export function text(key, n) {
  return (texts[key] || "").replace("{n}", String(n));
}

export function noteRefused(code) { refused.push(code); }

export async function show(signIn) {
  const el = document.getElementById("sync-status");
  if (!el) { return; }
  const n = await count();
  const onPlayer = !!document.body.dataset.ticket;
  if (!n && !refused.length && !onPlayer) { el.hidden = true; return; }
  let state, message;
  if (n) {
    state = "waiting";
    message = text("waiting", n) + " " + (signIn ? text("signin") : navigator.onLine ? "" : text("offline"));
  } else {
    state = "synced";
    message = text("synced");
  }
  if (refused.length) {
    const reasons = Array.from(new Set(refused.map((c) => text(c.replace("error.", "")) || text("other"))));
    message += " " + text("refused", refused.length) + " (" + reasons.join("; ") + ")";
    state = n ? state : "refused";
  }
  el.textContent = message.trim();
  el.dataset.state = state;
  el.hidden = false;
  const log = (window.hocvuSyncLog = window.hocvuSyncLog || []);
  if (log[log.length - 1] !== state) { log.push(state); }
}
