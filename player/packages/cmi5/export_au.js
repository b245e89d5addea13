// hocvu's cmi5 AU runtime for exported courses (player/packages/cmi5/export.py): plain JavaScript, no
// dependencies. cmi5 §8.1 launch parameters, §8.2 fetch URL, §10 LMS.LaunchData, §11 learner
// preferences, then Initialized; a lesson sends Completed when the learner reaches its end, a quiz
// Passed or Failed with its score; Terminated on leaving (cmi5 §9.3).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("au-data").textContent);
  var root = document.getElementById("au");
  var q = new URLSearchParams(location.search);
  var endpoint = (q.get("endpoint") || "").replace(/\/$/, "");
  var actor = JSON.parse(q.get("actor") || "null");
  var registration = q.get("registration");
  var activityId = q.get("activityId");
  var auth = null, launch = null, started = Date.now(), ended = false, lang = "vi";

  function say(text) { var p = document.createElement("p"); p.textContent = text; root.appendChild(p); return p; }
  function loc(map) { return (map && (map[lang] || map.vi || Object.values(map)[0])) || ""; }
  function uuid() { return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random(); }
  function duration() { return "PT" + ((Date.now() - started) / 1000).toFixed(2) + "S"; }
  function xapi(method, path, params, body) {
    var url = endpoint + path + (params ? "?" + new URLSearchParams(params) : "");
    var headers = {"Authorization": auth, "X-Experience-API-Version": "1.0.3"};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body),
                       keepalive: true});
  }
  function send(verb, result, moveOn, extra) {
    var ctx = JSON.parse(JSON.stringify(launch.contextTemplate || {}));
    ctx.registration = registration;
    ctx.contextActivities = ctx.contextActivities || {};
    ctx.contextActivities.category = [{id: "https://w3id.org/xapi/cmi5/context/categories/cmi5"}];
    if (moveOn) ctx.contextActivities.category.push({id: "https://w3id.org/xapi/cmi5/context/categories/moveon"});
    ctx.extensions = Object.assign(ctx.extensions || {}, extra || {});
    var st = {id: uuid(), timestamp: new Date().toISOString(), actor: actor,
              verb: {id: "http://adlnet.gov/expapi/verbs/" + verb, display: {"en-US": verb}},
              object: {id: activityId, objectType: "Activity"}, context: ctx};
    if (result) st.result = result;
    return xapi("PUT", "/statements", {statementId: st.id}, st);
  }
  function terminate() {
    if (ended || !auth) return;
    ended = true;
    send("terminated", {duration: duration()});
  }

  function lesson() {
    var h = document.createElement("h1"); h.textContent = loc(data.title); root.appendChild(h);
    if (data.video) { var v = document.createElement("video"); v.controls = true; v.src = data.video; v.style.width = "100%"; root.appendChild(v); }
    loc(data.transcript).split("\n\n").forEach(function (para) { if (para.trim()) say(para.trim()); });
    var done = document.createElement("button"); done.textContent = lang === "en" ? "I have finished" : "Tôi đã học xong";
    done.onclick = function () {
      done.disabled = true;
      if (launch.launchMode !== "Normal") return;
      send("completed", {completion: true, duration: duration()}, true).then(terminate);
    };
    root.appendChild(done);
  }

  function quiz() {
    var h = document.createElement("h1"); h.textContent = loc(data.title); root.appendChild(h);
    var form = document.createElement("form");
    data.questions.forEach(function (question) {
      var fs = document.createElement("fieldset"), lg = document.createElement("legend");
      lg.textContent = loc(question.text); fs.appendChild(lg);
      question.choices.forEach(function (c) {
        var label = document.createElement("label"), input = document.createElement("input");
        input.type = question.type === "multiple" ? "checkbox" : "radio"; input.name = question.id; input.value = c.id;
        label.appendChild(input); label.appendChild(document.createTextNode(" " + loc(c.text)));
        fs.appendChild(label); fs.appendChild(document.createElement("br"));
      });
      form.appendChild(fs);
    });
    var submit = document.createElement("button"); submit.textContent = lang === "en" ? "Submit" : "Nộp bài";
    form.appendChild(submit);
    form.onsubmit = function (e) {
      e.preventDefault(); submit.disabled = true;
      var raw = 0, max = 0;
      data.questions.forEach(function (question) {
        max += question.points;
        var picked = Array.prototype.map.call(form.querySelectorAll("input[name='" + question.id + "']:checked"),
                                              function (i) { return i.value; }).sort();
        if (JSON.stringify(picked) === JSON.stringify(question.correct)) raw += question.points;
      });
      var scaled = max ? raw / max : 0, mastery = launch.masteryScore != null ? launch.masteryScore : data.passing;
      var passed = scaled >= mastery;
      say((lang === "en" ? "Score: " : "Điểm: ") + raw + "/" + max);
      if (launch.launchMode !== "Normal") return;
      var ext = {"https://w3id.org/xapi/cmi5/context/extensions/masteryscore": mastery};
      send(passed ? "passed" : "failed", {success: passed, duration: duration(),
           score: {scaled: scaled, raw: raw, min: 0, max: max}}, true, ext).then(terminate);
    };
    root.appendChild(form);
  }

  fetch(q.get("fetch"), {method: "POST"}).then(function (r) { return r.json(); }).then(function (body) {
    if (!body["auth-token"]) throw new Error(body["error-text"] || "no auth token");
    auth = "Basic " + body["auth-token"];
    var agent = JSON.stringify(actor);
    return xapi("GET", "/activities/state", {stateId: "LMS.LaunchData", activityId: activityId, agent: agent,
                                            registration: registration}).then(function (r) { return r.json(); })
      .then(function (ld) {
        launch = ld;
        return xapi("GET", "/agents/profile", {agent: agent, profileId: "cmi5LearnerPreferences"});
      }).then(function (r) { return r.ok ? r.json() : {}; }).then(function (prefs) {
        if (prefs.languagePreference && /^en/.test(prefs.languagePreference)) lang = "en";
        return send("initialized");
      });
  }).then(function () {
    (data.kind === "quiz" ? quiz : lesson)();
    addEventListener("pagehide", terminate);
  }).catch(function (err) { say("cmi5: " + err.message); });
})();
