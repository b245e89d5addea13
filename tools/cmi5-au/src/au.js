// A cmi5 AU written with @xapi/cmi5, for tests/packages/test_cmi5_browser.py: it initializes (fetch URL,
// LMS.LaunchData, learner preferences), completes, passes with a score over the launch's masteryScore
// and terminates, writing what happened into #status for the test to read.
import Cmi5 from "@xapi/cmi5";

const status = (text) => { document.getElementById("status").textContent = text; };

(async () => {
  try {
    const cmi5 = new Cmi5();
    await cmi5.initialize();
    await cmi5.complete();
    await cmi5.pass({ scaled: 0.9, raw: 9, min: 0, max: 10 });
    await cmi5.terminate();
    status("done");
  } catch (err) {
    const body = err && err.response ? JSON.stringify(err.response.data) : "";
    status(`error: ${err} ${body}`);
  }
})();
