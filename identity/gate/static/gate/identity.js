/* The identity gate's enhancements (identity.gate.http). Every page works without this file:
   plain forms upload a photo (<input type=file capture=user> opens the camera on phones). This adds:
   - the live camera (getUserMedia), sending one 640x480 JPEG frame, the camera switched off after;
   - VNeID sign-in in a new window when the LMS frames the player (the provider will not be framed),
     the player page noticing completion by postMessage from that window, or by polling;
   - the repeated face check during a quiz, shown when the server says it is due.
   Nothing is kept in the browser: the frame exists only in memory until it is sent. */
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

  // --- the camera ---------------------------------------------------------------------------------
  function camera(form, onAnswer) {
    var box = form.querySelector("[data-camera-box]"), start = form.querySelector("[data-camera-start]");
    var note = form.querySelector("[data-camera-note]"), out = form.querySelector("[data-camera-result]");
    var video = box && box.querySelector("video"), stream = null;
    if (!box || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.fetch) { return; }
    start.hidden = false;

    function stop() {
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
      box.hidden = true; start.hidden = false;
    }
    start.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ audio: false, video: {
        facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } } })
        .then(function (s) { stream = s; video.srcObject = s; box.hidden = false; start.hidden = true; })
        .catch(function () { note.hidden = false; start.hidden = true; });  // denied, or no camera: upload
    });
    form.querySelector("[data-capture]").addEventListener("click", function () {
      if (!form.reportValidity() || !video.videoWidth) { return; }
      // 640x480, cropped from the middle of whatever the camera gives (phones often give 16:9 or portrait).
      var canvas = document.createElement("canvas"), w = video.videoWidth, h = video.videoHeight;
      var scale = Math.max(640 / w, 480 / h), sw = 640 / scale, sh = 480 / scale;
      canvas.width = 640; canvas.height = 480;
      canvas.getContext("2d").drawImage(video, (w - sw) / 2, (h - sh) / 2, sw, sh, 0, 0, 640, 480);
      stop();
      canvas.toBlob(function (blob) { send(blob); }, "image/jpeg", 0.9);
    });

    function send(blob) {
      var data = new FormData(form);
      data.set("photo", blob, "frame.jpg");
      out.textContent = form.dataset.sending || "";
      fetch(form.action, { method: "POST", body: data, credentials: "same-origin",
                           headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
        .then(function (answer) {
          var body = answer.body || {};
          if (onAnswer && onAnswer(answer)) { return; }
          if (answer.status < 400 && body.redirect && body.matched !== false) { window.location.assign(body.redirect); return; }
          out.textContent = body.message || (body.error && body.error.message) || "";
        })
        .catch(function () { out.textContent = ""; submitPlain(); });
    }
    function submitPlain() { HTMLFormElement.prototype.submit.call(form); }  // the no-JS path, as a last resort
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
