/* The identity gate's enhancements (identity.gate.http). Sign-in and linking work without this file;
   the face check needs it (no upload path, but the photo fallback an operator may allow). This adds:
   - the liveness challenge: a challenge from the server, its steps shown (and read out) one after
     another while the camera (getUserMedia) records a burst of 640x480 JPEG frames, posted with the
     challenge's nonce; the camera switched off after;
   - VNeID sign-in in a new window when the LMS frames the player (the provider will not be framed),
     the player page noticing completion by postMessage from that window, or by polling;
   - the repeated face check during a quiz, shown when the server says it is due.
   Nothing is kept in the browser: the frames exist only in memory until they are sent. */
(function () {
  "use strict";

  function framed() {
    try { return window.self !== window.top; } catch (e) { return true; }  // cross-origin parent: framed
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); });
  }

  // --- sign-in ------------------------------------------------------------------------------------
  function signIn(root) {
    var link = document.getElementById("vneid-login");
    if (!link) { return; }
    if (!framed()) {  // a top-level page: sign in right here, the provider returns to this page
      link.removeAttribute("target");
      return;
    }
    var since = root.dataset.signedInAt || "", polling = false;
    function poll() {
      getJson(root.dataset.statusUrl).then(function (s) {
        if (s.signed_in && String(s.signed_in_at || "") !== since) { window.location.reload(); return; }
        setTimeout(poll, 2000);
      }).catch(function () { setTimeout(poll, 5000); });
    }
    link.addEventListener("click", function (e) {
      e.preventDefault();
      window.open(link.dataset.popupUrl, "hocvu-vneid", "width=520,height=720");
      var waiting = root.querySelector("[data-waiting]");
      if (waiting) { waiting.hidden = false; }
      if (!polling) { polling = true; poll(); }
    });
    window.addEventListener("message", function (e) {
      if (e.origin === window.location.origin && e.data && e.data.type === "hocvu-vneid-signed-in") {
        window.location.reload();
      }
    });
  }

  function signedInWindow() {
    // The sign-in window's last page: tell the player (same origin only) and close.
    if (window.opener) {
      try { window.opener.postMessage({ type: "hocvu-vneid-signed-in" }, window.location.origin); } catch (e) { /* gone */ }
      setTimeout(function () { window.close(); }, 300);
    }
  }

  // --- the camera: a liveness challenge recorded as a burst --------------------------------------
  var FRAME_MS = 125;   // 8 frames a second: a 2-8 s challenge stays under the server's 80 frames

  function post(url, data) {
    return fetch(url, { method: "POST", body: data, credentials: "same-origin",
                        headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); });
  }

  function stopStream(stream) {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
  }

  function playing(video) {
    return new Promise(function (resolve) {
      if (video.readyState >= 2 && video.videoWidth) { resolve(); return; }
      video.addEventListener("loadeddata", function () { resolve(); }, { once: true });
    });
  }

  // 640x480, cropped from the middle of whatever the camera gives (phones often give 16:9 or portrait),
  // not mirrored: the server reads "your left" from the camera's own picture.
  function draw(ctx, video) {
    var w = video.videoWidth, h = video.videoHeight;
    var scale = Math.max(640 / w, 480 / h), sw = 640 / scale, sh = 480 / scale;
    ctx.drawImage(video, (w - sw) / 2, (h - sh) / 2, sw, sh, 0, 0, 640, 480);
  }

  function record(form, video, challenge, say, progress) {
    return new Promise(function (resolve) {
      var canvas = document.createElement("canvas"), shots = [], shown = -2;
      canvas.width = 640; canvas.height = 480;
      var ctx = canvas.getContext("2d"), steps = challenge.steps, end = challenge.duration_ms + 300;
      var t0 = performance.now();
      var timer = setInterval(function () {
        var t = Math.round(performance.now() - t0), now = -1;
        if (t > end) { clearInterval(timer); say(form.dataset.done); Promise.all(shots).then(resolve); return; }
        steps.forEach(function (s, i) { if (t >= s.at_ms && t < s.at_ms + s.within_ms) { now = i; } });
        if (now !== shown) {
          shown = now;
          say(now < 0 ? form.dataset.look : form.dataset.step.replace("{n}", now + 1)
            .replace("{total}", steps.length).replace("{prompt}", steps[now].prompt));
        }
        if (progress) { progress.value = Math.min(100, Math.round(100 * t / end)); }
        draw(ctx, video);
        // toBlob copies the canvas now; the JPEG is made later, the time is the capture's.
        shots.push(new Promise(function (res) { canvas.toBlob(function (b) { res({ t: t, blob: b }); }, "image/jpeg", 0.85); }));
      }, FRAME_MS);
    });
  }

  function camera(form, onAnswer) {
    var box = form.querySelector("[data-camera-box]"), start = form.querySelector("[data-camera-start]");
    var needed = form.querySelector("[data-camera-needed]"), out = form.querySelector("[data-camera-result]");
    var prompt = form.querySelector("[data-prompt]"), progress = form.querySelector("[data-progress]");
    var video = box && box.querySelector("video"), busy = false;
    if (!box || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.fetch || !window.Promise) {
      return;
    }
    start.hidden = false;
    if (needed) { needed.hidden = true; }
    function say(text) { prompt.textContent = text || ""; }

    function answered(answer) {
      var body = answer.body || {};
      if (onAnswer && onAnswer(answer)) { return; }
      if (answer.status < 400 && body.redirect && body.matched !== false) { window.location.assign(body.redirect); return; }
      out.textContent = body.message || (body.error && body.error.message) || "";
    }

    start.addEventListener("click", function () {
      if (busy || !form.reportValidity()) { return; }
      busy = true; start.disabled = true; out.textContent = "";
      var asked = new FormData(form), stream = null, challenge = null;
      asked.delete("photo"); asked.set("purpose", form.dataset.purpose || "check");
      post(form.dataset.challengeUrl, asked)
        .then(function (a) {
          if (a.status >= 400) { throw a; }
          challenge = a.body;
          return navigator.mediaDevices.getUserMedia({ audio: false, video: {
            facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } } });
        })
        .then(function (s) { stream = s; video.srcObject = s; box.hidden = false; return playing(video); })
        .then(function () { return record(form, video, challenge, say, progress); })
        .then(function (frames) {
          stopStream(stream); stream = null; box.hidden = true;
          var data = new FormData(form);
          data.delete("photo");
          data.set("nonce", challenge.nonce);
          data.set("times", frames.map(function (f) { return f.t; }).join(","));
          frames.forEach(function (f) { data.append("frame", f.blob, f.t + ".jpg"); });
          out.textContent = form.dataset.sending || "";
          return post(form.action, data);
        })
        .then(function (answer) { busy = false; start.disabled = false; answered(answer); })
        .catch(function (err) {
          stopStream(stream); box.hidden = true; busy = false; start.disabled = false;
          if (err && err.body) { answered(err); return; }
          out.textContent = form.dataset.needed || "";   // denied, no camera, or the network
        });
    });
  }

  // --- repeated checks during a quiz ---------------------------------------------------------------
  function recheck(panel) {
    var timer = null;
    function due() { panel.hidden = false; panel.scrollIntoView({ behavior: "smooth", block: "center" }); }
    function schedule(seconds) {
      if (timer) { clearTimeout(timer); }
      if (typeof seconds !== "number" || isNaN(seconds)) { return; }
      timer = setTimeout(due, Math.max(0, seconds) * 1000);
    }
    schedule(parseInt(panel.dataset.recheckIn, 10));
    var form = panel.querySelector("form[data-camera]");
    if (form) {
      camera(form, function (answer) {
        var body = answer.body || {};
        if (answer.status >= 400) { return false; }
        var out = form.querySelector("[data-camera-result]");
        out.textContent = body.message || "";
        if (body.unverified) { window.location.reload(); return true; }  // the page says so
        panel.hidden = true;
        schedule(body.recheck_in);
        return true;
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("vneid-sign-in");
    if (root) { signIn(root); }
    if (document.getElementById("vneid-signed-in")) { signedInWindow(); }
    var panel = document.getElementById("identity-recheck");
    if (panel) { recheck(panel); }
    Array.prototype.forEach.call(document.querySelectorAll("#identity-step form[data-camera]"), function (f) {
      camera(f);
    });
  });
})();
