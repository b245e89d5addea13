// An independent verifier for the hub's credentials: Digital Bazaar's @digitalbazaar/vc (VC Data Model 2.0)
// with the eddsa-rdfc-2022 Data Integrity cryptosuite and the Bitstring Status List checker.
//
// stdin: {"credentials": [<credential>, ...], "documents": {"<url or DID>": <document>, ...}, "now": "<ISO time>"?}
//   documents: the issuer's DID documents and the status list credentials, as the hub served them
//   (the test fetched them from the app); contexts come from npm packages (contexts.mjs). Nothing else
//   can be loaded: no network.
// stdout: [{"verified": bool, "checks": bool, "errors": [...], "status": {"checked": bool, "verified": bool,
//   "revoked": bool}}]: "checks" is the library's own verdict (proof, dates, the status list's own proof);
//   the status checker reports a set bit as a result, not a failure, so "verified" also requires it unset.
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import * as vc from '@digitalbazaar/vc';

import {CONTEXTS} from './contexts.mjs';

function read(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', chunk => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

function loaderFor(documents) {
  return async function documentLoader(url) {
    if(CONTEXTS.has(url)) {
      return {contextUrl: null, documentUrl: url, document: CONTEXTS.get(url)};
    }
    const [base, fragment] = url.split('#');
    const found = documents[base];
    if(!found) {
      throw new Error(`document not available offline: ${url}`);
    }
    if(fragment === undefined) {
      return {contextUrl: null, documentUrl: url, document: found};
    }
    // A verification method inside a DID document: returned on its own, with the document's contexts.
    const method = (found.verificationMethod || []).find(m => m.id === url);
    if(!method) {
      throw new Error(`no verification method ${url} in ${base}`);
    }
    return {contextUrl: null, documentUrl: url, document: {'@context': found['@context'], ...method}};
  };
}

function errors(result) {
  const out = [];
  const add = e => e && out.push((e.name ? `${e.name}: ${e.message}` : String(e.message || e)) +
    (e.details && e.details.event ? ` (${e.details.event.code}: ${JSON.stringify(e.details.event.details)})` : ''));
  add(result.error);
  for(const e of (result.error && result.error.errors) || []) add(e);
  for(const r of result.results || []) add(r.error);
  return out;
}

const input = JSON.parse(await read(process.stdin));
const documentLoader = loaderFor(input.documents || {});
const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
const now = input.now ? new Date(input.now) : undefined;
const out = [];
for(const credential of input.credentials) {
  let result;
  try {
    result = await vc.verifyCredential({credential, suite, documentLoader, checkStatus, now});
  } catch(e) {
    result = {verified: false, error: e};
  }
  const status = result.statusResult;
  const revoked = Boolean(status && status.results && status.results.some(r => r.status === true));
  out.push({
    verified: result.verified === true && !revoked,
    checks: result.verified === true,
    errors: errors(result),
    status: {checked: Boolean(status), verified: Boolean(status && status.verified), revoked},
  });
}
process.stdout.write(JSON.stringify(out));
