// hocvu's LMS adapter for the CATAPULT cmi5 LMS test suite (adlnet/CATAPULT, lts/): the functions its
// runner calls (setup, importCourse, getLaunchUrl, waiveAU, abandonSession, ...), over the hub's
// package admin API (/player/cmi5/admin, player/packages/cmi5/http.py). Our own code; CATAPULT itself
// stays outside the repository (run.sh points the runner at this file with CATAPULT_LMS).
//
// Environment: HOCVU_URL (the hub), HOCVU_ADMIN_KEY / HOCVU_ADMIN_SECRET (a national-tenant credential
// with the `all` scope), CATAPULT_DIR (the CATAPULT checkout, for its InvalidPackageError class).
"use strict";

const path = require("path");
const LTS = path.join(process.env.CATAPULT_DIR, "lts");
const {InvalidPackageError} = require(path.join(LTS, "lib", "errors"));
// Jest's test environment has no global fetch: the suite's own HTTP client (its template suggests it).
const Wreck = require(path.join(LTS, "node_modules", "@hapi", "wreck"));

const HUB = (process.env.HOCVU_URL || "http://127.0.0.1:8765").replace(/\/$/, "");
const AUTH = "Basic " + Buffer.from(`${process.env.HOCVU_ADMIN_KEY}:${process.env.HOCVU_ADMIN_SECRET}`).toString("base64");
const API = `${HUB}/player/cmi5/admin`;
const imported = new Set();

const readAll = async (stream) => {
    const chunks = [];
    for await (const chunk of stream) {
        chunks.push(chunk);
    }
    return Buffer.concat(chunks);
};

const call = async (method, url, body, headers = {}) => {
    const response = await Wreck.request(method, url, {payload: body, headers: {Authorization: AUTH, ...headers}});
    const text = (await Wreck.read(response)).toString();
    let json = null;
    try {
        json = text ? JSON.parse(text) : null;
    }
    catch (ex) {
        json = {raw: text};
    }
    return {status: response.statusCode, json};
};

module.exports = {
    setup: async () => {
        const r = await call("GET", `${API}/packages`);
        if (r.status !== 200) {
            throw new Error(`hub admin API not reachable: ${r.status} ${JSON.stringify(r.json)}`);
        }
    },
    teardown: async () => {},
    getLrsEndpoint: () => `${HUB}/xapi`,
    getLrsAuthHeader: () => AUTH,

    importCourse: async (stream, contentType, filename) => {
        const body = await readAll(stream);
        const r = await call("POST", `${API}/packages`, body, {"Content-Type": contentType, "X-Filename": filename});
        if (r.status === 201) {
            imported.add(r.json.slug);
            return r.json.slug;
        }
        if (r.status >= 400 && r.status < 500 && r.json && r.json.error) {
            throw new InvalidPackageError(`${r.json.error.code}: ${r.json.error.message}`);
        }
        throw new Error(`import of ${filename} failed: ${r.status} ${JSON.stringify(r.json)}`);
    },

    getLaunchUrl: async (courseId, auIndex, actor, {registration, launchMode} = {}) => {
        const r = await call("POST", `${API}/packages/${courseId}/launch`,
            JSON.stringify({au: auIndex, actor, registration, launchMode}), {"Content-Type": "application/json"});
        if (r.status !== 200) {
            throw new Error(`launch failed: ${r.status} ${JSON.stringify(r.json)}`);
        }
        return r.json.url;
    },

    cleanup: async () => {
        for (const slug of imported) {
            await call("DELETE", `${API}/packages/${slug}`);
        }
        imported.clear();
    },

    hasWaive: () => true,
    waiveAU: async (registration, auIndex, reason) => {
        // CATAPULT waives an AU of the course it imported last; the hub finds the registration's learner.
        const slug = [...imported].pop();
        const r = await call("POST", `${API}/packages/${slug}/waive`,
            JSON.stringify({au: auIndex, registration, reason}), {"Content-Type": "application/json"});
        if (r.status !== 200) {
            throw new Error(`waive failed: ${r.status} ${JSON.stringify(r.json)}`);
        }
    },

    hasAbandon: () => true,
    abandonSession: async (sessionId) => {
        const r = await call("POST", `${API}/sessions/${sessionId}/abandon`);
        if (r.status !== 200) {
            throw new Error(`abandon failed: ${r.status} ${JSON.stringify(r.json)}`);
        }
    },
};
