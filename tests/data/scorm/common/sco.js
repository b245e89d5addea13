// A small SCO written for hocvu's tests: finds the LMS's run-time API (SCORM 1.2 "API", SCORM 2004
// "API_1484_11") in a parent window, shows two questions one at a time, and keeps its place in
// location + suspend_data so a reload resumes where the learner was.
(function () {
  "use strict";
  function find(name) {
    var win = window;
    for (var i = 0; i < 10 && win; i++) {
      if (win[name]) { return win[name]; }
      if (win.parent === win) { break; }
      win = win.parent;
    }
    return null;
  }
  var api2004 = find("API_1484_11");
  var api12 = api2004 ? null : find("API");
  var v = api2004 ? "2004" : "1.2";
  var el = {
    location: v === "2004" ? "cmi.location" : "cmi.core.lesson_location",
    entry: v === "2004" ? "cmi.entry" : "cmi.core.entry",
    exit: v === "2004" ? "cmi.exit" : "cmi.core.exit",
    raw: v === "2004" ? "cmi.score.raw" : "cmi.core.score.raw",
    min: v === "2004" ? "cmi.score.min" : "cmi.core.score.min",
    max: v === "2004" ? "cmi.score.max" : "cmi.core.score.max",
    learner: v === "2004" ? "cmi.learner_id" : "cmi.core.student_id",
  };
  var api = {
    init: function () { return String(api2004 ? api2004.Initialize("") : api12.LMSInitialize("")); },
    get: function (k) { return String(api2004 ? api2004.GetValue(k) : api12.LMSGetValue(k)); },
    set: function (k, x) { return String(api2004 ? api2004.SetValue(k, String(x)) : api12.LMSSetValue(k, String(x))); },
    commit: function () { return String(api2004 ? api2004.Commit("") : api12.LMSCommit("")); },
    finish: function () { return String(api2004 ? api2004.Terminate("") : api12.LMSFinish("")); },
  };
  var status = document.getElementById("status");
  function say(text) { status.textContent = text; }
  if (!api2004 && !api12) { say("no-api"); return; }
  if (document.body.getAttribute("data-kind") === "intro") {
    api.init();
    api.set("cmi.completion_status", "completed");
    say("intro:" + api.get("cmi.entry"));
    document.getElementById("continue").addEventListener("click", function () {
      api.set("adl.nav.request", "continue");
      api.finish();
    });
    return;
  }
  var steps = Array.prototype.slice.call(document.querySelectorAll("fieldset[data-q]"));
  var correct = { q1: "b", q2: "a" };
  api.init();
  var entry = api.get(el.entry);
  var answers = {};
  try { answers = JSON.parse(api.get("cmi.suspend_data") || "{}"); } catch (e) { answers = {}; }
  var at = parseInt(api.get(el.location) || "0", 10) || 0;
  function show(i) {
    steps.forEach(function (s, n) { s.hidden = n !== i; });
    document.getElementById("next").hidden = i >= steps.length - 1;
    document.getElementById("finish").hidden = i < steps.length - 1;
    say("entry:" + (entry || "none") + " step:" + (i + 1) + " learner:" + (api.get(el.learner) ? "yes" : "no"));
  }
  function record(i) {
    var q = steps[i].getAttribute("data-q");
    var picked = steps[i].querySelector("input:checked");
    if (!picked) { return; }
    answers[q] = picked.value;
    var n = i;
    var p = "cmi.interactions." + n + ".";
    api.set(p + "id", q);
    api.set(p + "type", "choice");
    api.set(p + "correct_responses.0.pattern", correct[q]);
    api.set(p + (v === "2004" ? "learner_response" : "student_response"), picked.value);
    api.set(p + "result", picked.value === correct[q] ? "correct" : (v === "2004" ? "incorrect" : "wrong"));
    api.set("cmi.suspend_data", JSON.stringify(answers));
  }
  show(Math.min(at, steps.length - 1));
  document.getElementById("next").addEventListener("click", function () {
    record(at);
    at += 1;
    api.set(el.location, String(at));
    if (v === "1.2") { api.set("cmi.core.lesson_status", "incomplete"); } else { api.set("cmi.completion_status", "incomplete"); }
    api.commit();
    show(at);
  });
  document.getElementById("suspend").addEventListener("click", function () {
    api.set(el.exit, "suspend");
    api.finish();
    say("suspended");
  });
  document.getElementById("finish").addEventListener("click", function () {
    record(at);
    var right = 0;
    Object.keys(correct).forEach(function (q) { if (answers[q] === correct[q]) { right += 1; } });
    var score = Math.round(100 * right / steps.length);
    api.set(el.min, "0");
    api.set(el.max, "100");
    api.set(el.raw, String(score));
    if (v === "1.2") {
      api.set("cmi.core.lesson_status", score >= 50 ? "passed" : "failed");
      api.set("cmi.core.exit", "");
    } else {
      api.set("cmi.score.scaled", String(score / 100));
      api.set("cmi.completion_status", "completed");
      api.set("cmi.success_status", score >= 50 ? "passed" : "failed");
      api.set("cmi.exit", "normal");
    }
    api.commit();
    api.finish();
    say("finished:" + score);
  });
}());
