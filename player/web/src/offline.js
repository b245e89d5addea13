// The installable web app's side in the page: the service worker (sw.js), keeping the opened
// course's pages for offline use, keeping a lesson's video when the learner asks, and forgetting
// this learner's pages at sign-out (a shared phone).
import { clear, count, meta } from "./queue.js";
import { flush } from "./sync.js";
import { text } from "./status.js";

function ask(message) {   // a message to the active service worker, answered on a channel
  return navigator.serviceWorker.ready.then((reg) => new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (e) => resolve(e.data);
    reg.active.postMessage(message, [channel.port2]);
  }));
}

async function keepPages(urls) {
  const key = "kept:" + urls[0] + ":" + urls.length;
  const last = await meta(key);
  if (last && Date.now() - last < 12 * 3600 * 1000) { return; }
  const answer = await ask({ type: "keep-pages", urls });
  if (answer && answer.done !== undefined) { await meta(key, Date.now()); }
  document.body.dataset.kept = "true";
}

function videoButton(button) {
  const url = button.dataset.url;
  caches.match(url).then((hit) => {
    button.hidden = false;
    if (hit) { button.textContent = text("video_saved"); button.disabled = true; }
  });
  button.addEventListener("click", () => {
    button.disabled = true;
    ask({ type: "keep-media", url }).then((answer) => {
      button.textContent = answer && answer.done ? text("video_saved") : button.textContent;
      button.disabled = !!(answer && answer.done);
    });
  });
}

function signOut(form) {
  form.addEventListener("submit", async (e) => {
    if (form.dataset.ready) { return; }
    e.preventDefault();
    await flush();
    const n = await count();
    if (n && !window.confirm(text("unsynced", n))) { return; }
    await clear();
    if (navigator.serviceWorker && navigator.serviceWorker.controller) { await ask({ type: "forget" }); }
    form.dataset.ready = "true";
    HTMLFormElement.prototype.submit.call(form);
  });
}

export function offline() {
  const body = document.body;
  const out = document.getElementById("sign-out-form");
  if (out) { signOut(out); }
  if (!("serviceWorker" in navigator) || !body.dataset.sw) { return; }
  navigator.serviceWorker.register(body.dataset.sw, { scope: "/" }).then(() => {
    if (body.dataset.pages) { keepPages(JSON.parse(body.dataset.pages)); }
    if (document.getElementById("signed-out")) { ask({ type: "forget" }); }
  });
  const button = document.getElementById("save-video");
  if (button && window.caches) { videoButton(button); }
}
