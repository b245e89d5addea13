// The SCORM run-time for the hub's SCORM player page (player/templates/player/scorm.html): the API
// instance a SCO finds by walking its parent windows (SCORM 1.2 RTE §3.2 "API"; SCORM 2004 RTE §3.1
// "API_1484_11"), from npm scorm-again, committing to the hub. The page gives the saved data (resume),
// the commit URL and the form token in a JSON script element; the hub checks everything it is sent.
export function startRuntime(ApiClass, globalName) {
  const node = document.getElementById("scorm-config");
  if (!node) { return null; }
  const config = JSON.parse(node.textContent);
  const api = new ApiClass({
    lmsCommitUrl: config.commitUrl,
    dataCommitFormat: "flattened",
    sendFullCommit: true,
    autocommit: false,
    // The last commit of a session says so (?terminate=true): the hub then writes its statements.
    terminateCommitParam: "terminate",
    terminationCommitContentType: "application/json",
    xhrHeaders: { "X-CSRF-Token": config.csrf },
    logLevel: 5,
  });
  api.loadFromFlattenedJSON(config.cmi, "");
  window[globalName] = api;
  const go = (url) => { if (url) { window.setTimeout(() => { window.location.assign(url); }, 0); } };
  // SCORM 2004 SN §4.4 navigation requests a SCO makes with adl.nav.request, then Terminate.
  api.on("SequenceNext", () => go(config.next));
  api.on("SequencePrevious", () => go(config.previous));
  api.on("SequenceChoice", (_element, target) => {
    const url = (config.choices || {})[String(target || "").replace(/^\{target=|\}$/g, "")];
    go(url);
  });
  api.on("SequenceExit", () => go(config.exit));
  api.on("SequenceExitAll", () => go(config.exit));
  return api;
}
