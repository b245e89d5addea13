// A lesson page: the resume point and progress, and "I have finished this lesson", queued on the
// device as `progress` and `complete` ops (player.offline.ops), so they work offline too.
import { enqueue } from "./queue.js";
import { flush } from "./sync.js";

function submitForm(form) { HTMLFormElement.prototype.submit.call(form); }

export function lesson(root) {
  const target = root.dataset.target, ticket = document.body.dataset.ticket;
  const paragraphs = Array.prototype.slice.call(root.querySelectorAll(".transcript p[data-index]"));
  const video = document.getElementById("video");
  let seen = parseInt(root.dataset.paragraph || "0", 10) || 0;
  let videoProgress = 0, sent = -1, timer = null;

  function progress() {
    const byText = paragraphs.length ? Math.round(seen / paragraphs.length * 100) : 0;
    return Math.max(byText, videoProgress);
  }
  function send() {
    timer = null;
    const p = progress();
    const position = video && !isNaN(video.currentTime) ? video.currentTime : 0;
    if (p === sent && !(video && !video.paused)) { return; }
    sent = p;
    enqueue({ kind: "progress", ticket, target, position, paragraph: seen, progress: p })
      .then(() => flush())
      .then(() => { root.dataset.sent = String(p); });
  }
  function soon(ms) { if (!timer) { timer = setTimeout(send, ms); } }

  if ("IntersectionObserver" in window && paragraphs.length) {
    const seenNow = new IntersectionObserver((entries) => {
      entries.forEach((e) => {
        if (e.isIntersecting) {
          const i = parseInt(e.target.dataset.index, 10);
          if (i > seen) { seen = i; soon(1500); }
        }
      });
    }, { threshold: 0.6 });
    paragraphs.forEach((p) => seenNow.observe(p));
  }

  const form = document.getElementById("complete-form");
  function complete(event) {
    if (event) { event.preventDefault(); }
    if (!form || form.hidden) { return; }
    form.hidden = true;
    const done = document.getElementById("completed-offline");
    if (done) { done.hidden = false; }
    const next = document.getElementById("next");
    if (next) { next.classList.add("primary"); }
    enqueue({ kind: "complete", ticket, target }).then(() => flush());
  }
  if (form && ticket) { form.addEventListener("submit", complete); }

  if (video) {
    const resumeAt = parseFloat(root.dataset.position || "0") || 0;
    video.addEventListener("loadedmetadata", () => {
      if (resumeAt > 0 && resumeAt < video.duration - 5) { video.currentTime = resumeAt; }
    });
    video.addEventListener("timeupdate", () => {
      if (video.duration) { videoProgress = Math.floor(video.currentTime / video.duration * 100); }
      soon(15000);
    });
    video.addEventListener("pause", () => soon(0));
    video.addEventListener("ended", () => {
      videoProgress = 100; send();
      if (form && ticket) { complete(); } else if (form) { submitForm(form); }
    });
    video.addEventListener("error", () => {
      const note = document.getElementById("video-failed");
      if (note) { note.hidden = false; }
    }, true);
  }
  window.addEventListener("pagehide", () => { if (progress() !== sent) { send(); } });
}
