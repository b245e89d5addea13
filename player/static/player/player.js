/* The course player's enhancements. Every page works without this file; it adds the resume point,
   progress beacons, the video-failure fallback, answer autosave and the quiz countdown. */
(function () {
  "use strict";

  // HTMLFormElement.submit itself: a control named or id'd "submit" would shadow form.submit.
  function submitForm(form) { HTMLFormElement.prototype.submit.call(form); }

  function post(url, body) {
    // keepalive lets the last beacon of a page survive navigation away from it.
    return fetch(url, {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    });
  }

  function lesson(root) {
    var url = root.dataset.progressUrl, csrf = root.dataset.csrf;
    var paragraphs = Array.prototype.slice.call(root.querySelectorAll(".transcript p[data-index]"));
    var video = document.getElementById("video");
    var seen = parseInt(root.dataset.paragraph || "0", 10) || 0;
    var videoProgress = 0, sent = -1, timer = null;

    function progress() {
      var byText = paragraphs.length ? Math.round(seen / paragraphs.length * 100) : 0;
      return Math.max(byText, videoProgress);
    }
    function send() {
      timer = null;
      var p = progress();
      var position = video && !isNaN(video.currentTime) ? video.currentTime : 0;
      if (p === sent && !(video && !video.paused)) { return; }
      sent = p;
      post(url, { csrf: csrf, position: position, paragraph: seen, progress: p })
        .then(function (r) { root.dataset.sent = String(p); return r; })
        .catch(function () { sent = -1; });  // offline: try again with the next change
    }
    function soon(ms) { if (!timer) { timer = setTimeout(send, ms); } }

    if ("IntersectionObserver" in window && paragraphs.length) {
      var seenNow = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (e.isIntersecting) {
            var i = parseInt(e.target.dataset.index, 10);
            if (i > seen) { seen = i; soon(1500); }
          }
        });
      }, { threshold: 0.6 });
      paragraphs.forEach(function (p) { seenNow.observe(p); });
    }

    if (video) {
      var resumeAt = parseFloat(root.dataset.position || "0") || 0;
      video.addEventListener("loadedmetadata", function () {
        if (resumeAt > 0 && resumeAt < video.duration - 5) { video.currentTime = resumeAt; }
      });
      video.addEventListener("timeupdate", function () {
        if (video.duration) { videoProgress = Math.floor(video.currentTime / video.duration * 100); }
        soon(15000);
      });
      video.addEventListener("pause", function () { soon(0); });
      video.addEventListener("ended", function () {
        videoProgress = 100; send();
        var form = document.getElementById("complete-form");
        if (form) { submitForm(form); }
      });
      video.addEventListener("error", function () {
        var note = document.getElementById("video-failed");
        if (note) { note.hidden = false; }
      }, true);
    }
    window.addEventListener("pagehide", function () { if (progress() !== sent) { send(); } });
  }

  function quiz(form) {
    var url = form.dataset.answerUrl, csrf = form.dataset.csrf;
    form.addEventListener("change", function (e) {
      var set = e.target.closest("fieldset[data-question]");
      if (!set) { return; }
      var choices = Array.prototype.map.call(set.querySelectorAll("input:checked"), function (i) { return i.value; });
      post(url, { csrf: csrf, question: set.dataset.question, choices: choices }).catch(function () {});
    });
    if (form.dataset.secondsLeft === undefined) { return; }
    // The server keeps the real deadline; this only shows it and submits when it is reached.
    var deadline = Date.now() + parseInt(form.dataset.secondsLeft, 10) * 1000;
    var shown = document.getElementById("timer"), submitted = false;
    form.addEventListener("submit", function () { submitted = true; });
    (function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      shown.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left <= 60) { shown.parentNode.classList.add("low"); }
      if (left === 0) { if (!submitted) { submitted = true; submitForm(form); } return; }
      setTimeout(tick, 1000);
    })();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("lesson");
    if (root) { lesson(root); }
    var form = document.getElementById("quiz-form");
    if (form) { quiz(form); }
  });
})();
