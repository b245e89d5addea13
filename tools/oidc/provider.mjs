// An independent, certified OpenID provider (panva/oidc-provider) for tests/identity.
//
// Started on loopback by a pytest fixture: `node provider.mjs` with
//   OIDC_CLIENTS  JSON array of client metadata (client_id, client_secret or jwks, redirect_uris, ...)
// It listens on 127.0.0.1 on a free port and prints one line `READY <issuer>` when it serves.
// Logins and consents go through oidc-provider's own development interaction pages
// (devInteractions), which the tests complete with plain HTTP requests, as a browser would.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

// Test citizens. The IDs use province codes assigned to no province (003, 005), so they can
// never be a real person's, and digits 4–6 agree with sex, century and year of birth.
const ACCOUNTS = {
  'cong-dan-1': {
    name: 'Nguyễn Thị Minh Thư', birthdate: '1992-04-17', HoVaTen: 'Nguyễn Thị Minh Thư',
    NgayThangNamSinh: '17/04/1992', SoDinhDanh: '003192123456', level: 2,
  },
  'cong-dan-2': {
    name: 'Võ Văn Kiệt Tường', birthdate: '1980-12-01', HoVaTen: 'Võ Văn Kiệt Tường',
    NgayThangNamSinh: '01/12/1980', SoDinhDanh: '005080654321', level: 1,
  },
  // A provider that uses the citizen ID as the account id, so as `sub` (as VNeID may): the hub must
  // keep no more of it than a keyed hash (issue 12).
  '003195000777': {
    name: 'Đỗ Thị Định Danh', birthdate: '1995-06-07', HoVaTen: 'Đỗ Thị Định Danh',
    NgayThangNamSinh: '07/06/1995', SoDinhDanh: '003195000777', level: 2,
  },
};

async function findAccount(_ctx, id) {
  const person = ACCOUNTS[id];
  if (!person) return undefined;
  return {
    accountId: id,
    // OIDC Core §5.4: claims are released by scope; `vneid` carries the national ones.
    async claims() { return { sub: id, ...person }; },
  };
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `test-${randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' };

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: JSON.parse(process.env.OIDC_CLIENTS || '[]'),
    findAccount,
    jwks: { keys: [signingKey] },
    scopes: ['openid', 'profile', 'vneid'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'birthdate', 'HoVaTen', 'NgayThangNamSinh'],
      vneid: ['SoDinhDanh', 'level'],
    },
    // RFC 7636 / RFC 9700 §2.1.1: PKCE for every client, not only public ones.
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: [randomBytes(32).toString('hex')] },
  });
  provider.on('server_error', (_ctx, err) => { console.error('server_error', err); });
  server.on('request', provider.callback());
  console.log(`READY ${issuer}`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
