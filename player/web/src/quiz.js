// A quiz attempt: each answer, and the submission, queued on the device with the attempt's cmi5
// session id (player.offline.ops). The server alone keeps the time: the countdown only shows it.
// A quiz with identity assurance (data-online-only) is submitted online only: offline, the page
// says so and holds the answers until the network is back.
import { enqueue, meta, pending } from "./queue.js";
import { flush, onResult } from "./sync.js";
import { text } from "./status.js";

function submitForm(form) { HTMLFormElement.prototype.submit.call(form); }

function chosen(set) {
  return Array.prototype.map.call(set.querySelectorAll("input:checked"), (i) => i.value);
}

export function quiz(form) {
  const ticket = document.body.dataset.ticket, target = form.dataset.target, attempt = form.dataset.attempt;
  const onlineOnly = form.dataset.onlineOnly === "true";
  const held = document.getElementById("quiz-held");
  let submitted = false;
  let saving = Promise.resolve();

  function hold(message) {
    held.textContent = message; held.hidden = !message;
  }
  function markSubmitted() {
    submitted = true;
    Array.prototype.forEach.call(form.elements, (el) => { if (el.type !== "hidden") { el.disabled = true; } });
    hold(text("submitted_offline"));
  }
  function showResult() {
    // The result is this same page once the attempt has ended: only the fragment differs, which
    // alone would not load it again.
    window.history.replaceState(null, "", form.dataset.resultUrl);
    window.location.reload();
  }

  // The device keeps the attempt's latest answers (synced or not): after a reload from the service
  // worker's copy of the page, older than the answers, they are shown again.
  const key = "answers:" + attempt;
  function show(question, choices) {
    form.querySelectorAll('input[name="q.' + CSS.escape(question) + '"]').forEach((i) => {
      i.checked = choices.indexOf(i.value) >= 0;
    });
  }
  Promise.all([meta(key), pending()]).then(([kept, ops]) => {
    Object.keys(kept || {}).forEach((q) => show(q, kept[q]));
    ops.filter((op) => op.attempt === attempt).forEach((op) => {
      if (op.kind === "answer") { show(op.question, op.choices); }
      else if (op.kind === "submit" && !onlineOnly) { markSubmitted(); }
    });
  });

  onResult((op) => {   // stored, or refused because the attempt had ended: either way the result is there
    if (op.kind === "submit" && op.attempt === attempt) { meta(key, null).then(showResult); }
  });

  form.addEventListener("change", (e) => {
    const set = e.target.closest("fieldset[data-question]");
    if (!set) { return; }
    const choices = chosen(set);
    // One change after another, so a quick second tap neither overtakes nor overwrites the first.
    saving = saving
      .then(() => meta(key))
      .then((kept) => meta(key, Object.assign(kept || {}, { [set.dataset.question]: choices })))
      .then(() => enqueue({ kind: "answer", ticket, target, attempt, question: set.dataset.question, choices }));
    saving.then(() => flush());
  });

  function answers() {
    const out = {};
    form.querySelectorAll("fieldset[data-question]").forEach((set) => { out[set.dataset.question] = chosen(set); });
    return out;
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (submitted) { return; }
    if (onlineOnly) {
      if (!navigator.onLine) { hold(text("offline_hold")); return; }
      submitted = true;   // the answers first, then the form itself, online
      flush().then(() => submitForm(form));
      return;
    }
    const all = answers();
    saving = saving.then(() => enqueue({ kind: "submit", ticket, target, attempt, answers: all }));
    saving.then(() => {
      markSubmitted();
      return flush();
    });
  });
  if (onlineOnly) {
    window.addEventListener("offline", () => hold(text("offline_hold")));
    window.addEventListener("online", () => { if (!submitted) { hold(""); } });
  }

  if (form.dataset.secondsLeft === undefined) { return; }
  const deadline = Date.now() + parseInt(form.dataset.secondsLeft, 10) * 1000;
  const shown = document.getElementById("timer");
  (function tick() {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    shown.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    if (left <= 60) { shown.parentNode.classList.add("low"); }
    if (left === 0) {
      if (!submitted) { form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit")); }
      return;
    }
    setTimeout(tick, 1000);
  })();
}
