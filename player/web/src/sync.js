// Sending the queue to POST /player/sync (player.offline.http): in order, in batches, one tab at a
// time (Web Locks), whenever the network is back. Stored and duplicate ops leave the queue; refused
// ones too, with their reason shown; anything else (offline, a server error) stays for later.
import { deviceId, pending, remove } from "./queue.js";
import { noteRefused, show } from "./status.js";

const BATCH = 25;
const listeners = [];
let signIn = false;
let retry = null;

export function onResult(fn) { listeners.push(fn); }

async function freshToken(url) {
  const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!r.ok) { return null; }
  const data = await r.json();
  document.body.dataset.csrf = data.csrf;
  return data.csrf;
}

async function send(url, ops) {
  const body = (csrf) => JSON.stringify({
    csrf, device: deviceIdCache, ops: ops.map((op) => Object.assign({}, op)),
  });
  const post = (csrf) => fetch(url, {
    method: "POST", credentials: "same-origin", body: body(csrf),
    headers: { "Content-Type": "application/json", Accept: "application/json" },
  });
  let r = await post(document.body.dataset.csrf);
  if (r.status === 400) {   // a page kept offline may hold an old form token: ask once for the current one
    const csrf = await freshToken(url);
    if (csrf) { r = await post(csrf); }
  }
  signIn = r.status === 403;   // no player session in this browser now: the queue waits for one
  return r.ok ? (await r.json()).results : null;
}

let deviceIdCache = null;

async function drain(url) {
  deviceIdCache = deviceIdCache || (await deviceId());
  for (;;) {
    const ops = (await pending()).slice(0, BATCH);
    if (!ops.length) { return true; }
    let results;
    try { results = await send(url, ops); } catch (e) { results = null; }
    if (!results) { return false; }
    const done = [];
    results.forEach((res) => {
      const op = ops.find((o) => o.id === res.id);
      if (!op) { return; }
      done.push(op.seq);
      if (res.status === "refused") { noteRefused(res.code || "other"); }
      listeners.forEach((fn) => fn(op, res));
    });
    await remove(done);
    if (done.length < ops.length) { return false; }
  }
}

export async function flush() {
  const url = document.body.dataset.syncUrl;
  let ok = true;
  if (url && navigator.onLine) {
    const run = () => drain(url);
    ok = navigator.locks ? await navigator.locks.request("hocvu-sync", run) : await run();
  }
  await show(signIn);
  if (!ok || !navigator.onLine) { later(); }
  return ok;
}

function later() {   // try again in a while, however the network came back (no "online" event on some phones)
  if (retry) { return; }
  retry = setTimeout(() => { retry = null; flush(); }, 15000);
}

export function start() {
  window.addEventListener("online", () => flush());
  window.addEventListener("offline", () => show(signIn));
  return flush();
}
