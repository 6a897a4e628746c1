'use strict';
// Unit tests of post-login.js: `node --test post-login.test.js` (run by actions_test.go).
// A local node:http server plays rulehook; event and api are Auth0-shaped fakes.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const crypto = require('node:crypto');

const { onExecutePostLogin } = require('./post-login.js');

const SECRET = 'test-callout-secret-0123456789-abcdef';
const NS = 'https://music.example.com';
const CLAIM = `${NS}/roles`;

// rulehook starts a fake rulehook; handle(req, body, res) answers each request. It records every
// request as {method, url, headers, body} in server.requests.
async function rulehook(t, handle) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      handle(req, body, res);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${server.address().port}`, requests };
}

function json(res, status, value) {
  const body = typeof value === 'string' ? value : JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}

function answer(over = {}) {
  return {
    user_id: 'auth0|123', plays: 0, roles: [], app_metadata: {}, user_metadata: {},
    written_by: 'none', degraded: [], ...over,
  };
}

function event(secrets, user = {}) {
  return {
    user: {
      user_id: 'auth0|123', email: 'jo@example.com', email_verified: true, identities: [],
      app_metadata: { roles: ['admin'] }, user_metadata: { displayName: 'J-vald3z' }, ...user,
    },
    secrets: { CALLOUT_SECRET: SECRET, CLAIM_NAMESPACE: NS, AUTH0_DOMAIN: 'tenant.example.com', ...secrets },
    transaction: { id: 'tx-1', protocol: 'oidc-basic-profile' },
    client: { client_id: 'client-1', name: 'Music app', metadata: {} },
    request: { ip: '203.0.113.7', user_agent: 'test-agent', hostname: 'login.example.com', query: {} },
    tenant: { id: 'tenant' },
    stats: { logins_count: 3 },
  };
}

// fakeApi records what the Action does, like Auth0's api object.
function fakeApi() {
  const rec = { id: {}, access: {}, app: {}, user: {}, denied: null, logs: [] };
  return {
    rec,
    idToken: { setCustomClaim: (k, v) => { rec.id[k] = v; } },
    accessToken: { setCustomClaim: (k, v) => { rec.access[k] = v; } },
    user: {
      setAppMetadata: (k, v) => { rec.app[k] = v; },
      setUserMetadata: (k, v) => { rec.user[k] = v; },
    },
    access: { deny: (reason) => { rec.denied = reason; } },
  };
}

// login runs the Action with console.log captured.
async function login(ev) {
  const api = fakeApi();
  const orig = console.log;
  console.log = (...a) => api.rec.logs.push(a.join(' '));
  try {
    await onExecutePostLogin(ev, api);
  } finally {
    console.log = orig;
  }
  return api.rec;
}

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function assertNoSecretsLogged(rec) {
  for (const line of rec.logs) {
    assert.ok(!line.includes(SECRET), `log ${JSON.stringify(line)} holds the secret`);
    assert.ok(!line.includes('jo@example.com'), `log ${JSON.stringify(line)} holds the email`);
    assert.ok(!line.includes('eyJ'), `log ${JSON.stringify(line)} holds a token`);
  }
}

function assertDeniedNeutrally(rec) {
  assert.equal(typeof rec.denied, 'string');
  assert.doesNotMatch(rec.denied, /rulehook|timeout|ECONN|503|500|JSON|127\.0\.0\.1|secret/i);
  assert.deepEqual(rec.id, {});
  assert.deepEqual(rec.access, {});
}

async function refusedURL(t) {
  const srv = http.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return `http://127.0.0.1:${port}`;
}

test('editor: roles from rulehook go into both tokens, nothing persisted', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 200, answer({
    plays: 120, roles: ['admin', 'playlist_editor'],
    app_metadata: { roles: ['admin', 'playlist_editor'] }, written_by: 'rulehook',
  })));
  const rec = await login(event({ RULEHOOK_URL: rh.url }));
  assert.deepEqual(rec.id, { [CLAIM]: ['admin', 'playlist_editor'] });
  assert.deepEqual(rec.access, { [CLAIM]: ['admin', 'playlist_editor'] });
  assert.deepEqual(rec.app, {});
  assert.deepEqual(rec.user, {});
  assert.equal(rec.denied, null);
  assert.equal(rh.requests.length, 1);
  assert.equal(rh.requests[0].method, 'POST');
  assert.equal(rh.requests[0].url, '/v1/post-login');
  assertNoSecretsLogged(rec);
});

test('non-editor: demoted roles replace the current ones in the claims', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 200, answer({
    plays: 99, roles: ['admin'], written_by: 'none',
  })));
  const rec = await login(event({ RULEHOOK_URL: `${rh.url}/` }, { app_metadata: { roles: ['admin', 'playlist_editor'] } }));
  assert.deepEqual(rec.id, { [CLAIM]: ['admin'] });
  assert.deepEqual(rec.access, { [CLAIM]: ['admin'] });
  assert.equal(rh.requests[0].url, '/v1/post-login', 'trailing slash of RULEHOOK_URL');
});

test('action write mode: every top-level key of both objects is persisted', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 200, answer({
    plays: 150, roles: ['playlist_editor'],
    app_metadata: { roles: ['playlist_editor'], tier: null },
    user_metadata: { displayName: 'user' }, written_by: 'action',
  })));
  const rec = await login(event({ RULEHOOK_URL: rh.url, CLAIM_NAMESPACE: `${NS}/` }, { app_metadata: {}, user_metadata: {} }));
  assert.deepEqual(rec.app, { roles: ['playlist_editor'], tier: null });
  assert.deepEqual(rec.user, { displayName: 'user' });
  assert.deepEqual(rec.id, { [CLAIM]: ['playlist_editor'] });
});

test('written_by rulehook or none: the answer objects are not persisted by the Action', async (t) => {
  for (const writer of ['rulehook', 'none']) {
    const rh = await rulehook(t, (req, body, res) => json(res, 200, answer({
      roles: ['playlist_editor'], app_metadata: { roles: ['playlist_editor'] },
      user_metadata: { displayName: 'user' }, written_by: writer,
    })));
    const rec = await login(event({ RULEHOOK_URL: rh.url }));
    assert.deepEqual(rec.app, {}, writer);
    assert.deepEqual(rec.user, {}, writer);
  }
});

test('degraded answer from rulehook (its open policy) is still used', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 200, answer({ roles: ['admin'], degraded: ['redis'] })));
  const rec = await login(event({ RULEHOOK_URL: rh.url, FAILURE_POLICY: 'closed' }));
  assert.equal(rec.denied, null);
  assert.deepEqual(rec.id, { [CLAIM]: ['admin'] });
  assert.ok(rec.logs.some((l) => l.includes('degraded=redis')), rec.logs.join('\n'));
});

test('the callout token: HS256 over CALLOUT_SECRET, claims of CONTRACT.md, bsh over the body', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 200, answer({ roles: ['admin'] })));
  const before = Math.floor(Date.now() / 1000);
  await login(event({ RULEHOOK_URL: rh.url }));
  await login(event({ RULEHOOK_URL: rh.url }));
  const after = Math.floor(Date.now() / 1000);
  assert.equal(rh.requests.length, 2);

  const jtis = new Set();
  for (const r of rh.requests) {
    assert.equal(r.headers['content-type'], 'application/json');
    const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(r.headers.authorization);
    assert.ok(m, `authorization = ${r.headers.authorization}; want Bearer <jwt>`);
    const [, h, p, s] = m;
    assert.deepEqual(b64json(h), { alg: 'HS256', typ: 'JWT' });
    const want = crypto.createHmac('sha256', SECRET).update(`${h}.${p}`).digest();
    assert.ok(crypto.timingSafeEqual(Buffer.from(s, 'base64url'), want), 'signature does not verify');

    const c = b64json(p);
    assert.deepEqual(Object.keys(c).sort(), ['aud', 'bsh', 'exp', 'iat', 'iss', 'jti', 'sub']);
    assert.equal(c.iss, 'https://tenant.example.com/');
    assert.equal(c.aud, rh.url);
    assert.equal(c.sub, 'auth0|123');
    assert.ok(Number.isInteger(c.iat) && c.iat >= before && c.iat <= after, `iat = ${c.iat}`);
    assert.ok(c.exp > c.iat && c.exp - c.iat <= 300, `exp - iat = ${c.exp - c.iat}; want (0, 300]`);
    assert.match(c.jti, /^[0-9a-f-]{36}$/);
    jtis.add(c.jti);
    assert.equal(c.bsh, crypto.createHash('sha256').update(r.body).digest('base64url'));
    assert.doesNotMatch(c.bsh, /=/);

    assert.deepEqual(JSON.parse(r.body.toString('utf8')), {
      user: {
        user_id: 'auth0|123', email: 'jo@example.com',
        app_metadata: { roles: ['admin'] }, user_metadata: { displayName: 'J-vald3z' },
      },
      transaction: { id: 'tx-1' },
      client: { client_id: 'client-1', name: 'Music app' },
      request: { ip: '203.0.113.7', user_agent: 'test-agent' },
    });
    assert.ok(!r.body.includes(SECRET), 'body holds the secret');
  }
  assert.equal(jtis.size, 2, 'jti reused');
});

test('bsh covers non-ASCII bodies byte for byte', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 200, answer()));
  await login(event({ RULEHOOK_URL: rh.url }, { user_metadata: { displayName: 'Zoë 🎵 \u2028' } }));
  const r = rh.requests[0];
  const c = b64json(r.headers.authorization.split('.')[1]);
  assert.equal(c.bsh, crypto.createHash('sha256').update(r.body).digest('base64url'));
  assert.equal(JSON.parse(r.body).user.user_metadata.displayName, 'Zoë 🎵 \u2028');
});

test('audience and issuer settings', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 200, answer()));
  const cases = [
    { secrets: { AUTH0_DOMAIN: '' }, iss: 'https://login.example.com/', aud: rh.url },
    { secrets: { CALLOUT_ISSUER: 'https://issuer.example/', CALLOUT_AUDIENCE: 'https://rulehook.example' },
      iss: 'https://issuer.example/', aud: 'https://rulehook.example' },
    { secrets: { RULEHOOK_URL: `${rh.url}//` }, iss: 'https://tenant.example.com/', aud: rh.url },
  ];
  for (const [i, tc] of cases.entries()) {
    await login(event({ RULEHOOK_URL: rh.url, ...tc.secrets }));
    const c = b64json(rh.requests[i].headers.authorization.split('.')[1]);
    assert.equal(c.iss, tc.iss, `case ${i}`);
    assert.equal(c.aud, tc.aud, `case ${i}`);
  }
});

test('rulehook down (connection refused)', async (t) => {
  const url = await refusedURL(t);
  await t.test('open: current roles kept, login proceeds', async () => {
    const rec = await login(event({ RULEHOOK_URL: url }, { app_metadata: { roles: ['admin', 7, 'playlist_editor'] } }));
    assert.equal(rec.denied, null);
    assert.deepEqual(rec.id, { [CLAIM]: ['admin', 'playlist_editor'] });
    assert.deepEqual(rec.access, { [CLAIM]: ['admin', 'playlist_editor'] });
    assert.deepEqual(rec.app, {});
    assert.ok(rec.logs.some((l) => l.includes('ECONNREFUSED')), rec.logs.join('\n'));
    assertNoSecretsLogged(rec);
  });
  await t.test('open with no roles: empty claim', async () => {
    const rec = await login(event({ RULEHOOK_URL: url }, { app_metadata: {} }));
    assert.deepEqual(rec.id, { [CLAIM]: [] });
  });
  await t.test('closed: denied with a neutral reason', async () => {
    const rec = await login(event({ RULEHOOK_URL: url, FAILURE_POLICY: 'closed' }));
    assertDeniedNeutrally(rec);
  });
});

test('rulehook times out', async (t) => {
  const rh = await rulehook(t, () => { /* never answers */ });
  await t.test('open: current roles kept after TIMEOUT_MS', async () => {
    const started = Date.now();
    const rec = await login(event({ RULEHOOK_URL: rh.url, TIMEOUT_MS: '150' }));
    const took = Date.now() - started;
    // Generous above: a loaded machine may be slow to run the timer; without one it never ends.
    assert.ok(took >= 140 && took < 10000, `took ${took} ms; want about 150`);
    assert.equal(rec.denied, null);
    assert.deepEqual(rec.id, { [CLAIM]: ['admin'] });
    assert.ok(rec.logs.some((l) => l.includes('timeout after 150 ms')), rec.logs.join('\n'));
  });
  await t.test('closed: denied', async () => {
    const rec = await login(event({ RULEHOOK_URL: rh.url, TIMEOUT_MS: '100', FAILURE_POLICY: 'closed' }));
    assertDeniedNeutrally(rec);
  });
});

test('TIMEOUT_MS: default 5000, capped at 9000, junk ignored', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 200, answer()));
  const orig = AbortSignal.timeout;
  const seen = [];
  AbortSignal.timeout = (ms) => { seen.push(ms); return orig.call(AbortSignal, ms); };
  try {
    for (const v of [undefined, '2500', '60000', 'soon', '-1', '0']) {
      await login(event({ RULEHOOK_URL: rh.url, TIMEOUT_MS: v }));
    }
  } finally {
    AbortSignal.timeout = orig;
  }
  assert.deepEqual(seen, [5000, 2500, 9000, 5000, 5000, 5000]);
});

test('503 from rulehook under its closed policy denies, even with FAILURE_POLICY=open', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 503, { error: 'unavailable', message: 'try later' }));
  const rec = await login(event({ RULEHOOK_URL: rh.url }));
  assertDeniedNeutrally(rec);
});

test('503 that is not rulehook\'s (a proxy page) follows FAILURE_POLICY', async (t) => {
  const rh = await rulehook(t, (req, body, res) => { res.writeHead(503, { 'content-type': 'text/html' }); res.end('<h1>no upstream</h1>'); });
  const open = await login(event({ RULEHOOK_URL: rh.url }));
  assert.equal(open.denied, null);
  assert.deepEqual(open.id, { [CLAIM]: ['admin'] });
  assertDeniedNeutrally(await login(event({ RULEHOOK_URL: rh.url, FAILURE_POLICY: 'closed' })));
});

test('bad answers fail open with current roles, or deny when closed', async (t) => {
  const bad = {
    'status 500': (res) => json(res, 500, { error: 'internal', message: 'x' }),
    'status 401': (res) => json(res, 401, { error: 'unauthorized', message: 'x' }),
    'redirect': (res, req) => {
      if (req.url !== '/v1/post-login') return json(res, 200, answer({ roles: ['playlist_editor'] }));
      res.writeHead(307, { location: '/elsewhere' });
      res.end();
    },
    'not JSON': (res) => json(res, 200, '<html>'),
    'JSON null': (res) => json(res, 200, 'null'),
    'array': (res) => json(res, 200, '[]'),
    'roles missing': (res) => json(res, 200, { ...answer(), roles: undefined }),
    'roles null': (res) => json(res, 200, answer({ roles: null })),
    'roles not strings': (res) => json(res, 200, answer({ roles: ['admin', 1] })),
    'roles a string': (res) => json(res, 200, answer({ roles: 'admin' })),
    'written_by unknown': (res) => json(res, 200, answer({ written_by: 'someone' })),
    'written_by missing': (res) => json(res, 200, { ...answer(), written_by: undefined }),
    'app_metadata array': (res) => json(res, 200, answer({ app_metadata: [] })),
    'user_metadata null': (res) => json(res, 200, answer({ user_metadata: null, written_by: 'action' })),
    'other user': (res) => json(res, 200, answer({ user_id: 'auth0|999', roles: ['playlist_editor'] })),
    'degraded not a list': (res) => json(res, 200, answer({ degraded: 'redis' })),
  };
  for (const [name, respond] of Object.entries(bad)) {
    const rh = await rulehook(t, (req, body, res) => respond(res, req));
    const open = await login(event({ RULEHOOK_URL: rh.url }));
    assert.equal(open.denied, null, name);
    assert.deepEqual(open.id, { [CLAIM]: ['admin'] }, name);
    assert.deepEqual(open.access, { [CLAIM]: ['admin'] }, name);
    assert.deepEqual(open.app, {}, name);
    assert.deepEqual(open.user, {}, name);
    assertNoSecretsLogged(open);
    const closed = await login(event({ RULEHOOK_URL: rh.url, FAILURE_POLICY: 'closed' }));
    assertDeniedNeutrally(closed);
  }
});

test('missing or invalid settings never throw and make no call', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 200, answer({ roles: ['playlist_editor'] })));
  const cases = {
    'no RULEHOOK_URL': (ev) => { delete ev.secrets.RULEHOOK_URL; },
    'no CALLOUT_SECRET': (ev) => { ev.secrets.CALLOUT_SECRET = ''; },
    'short CALLOUT_SECRET': (ev) => { ev.secrets.CALLOUT_SECRET = 'too-short'; },
    'no issuer source': (ev) => { delete ev.secrets.AUTH0_DOMAIN; delete ev.request.hostname; },
    'bad RULEHOOK_URL': (ev) => { ev.secrets.RULEHOOK_URL = 'not a url'; },
    'plain http to a public host': (ev) => { ev.secrets.RULEHOOK_URL = 'http://rulehook.example.com'; },
    'no user_id': (ev) => { delete ev.user.user_id; },
  };
  for (const [name, mutate] of Object.entries(cases)) {
    const ev = event({ RULEHOOK_URL: rh.url });
    mutate(ev);
    const open = await login(ev);
    assert.equal(open.denied, null, name);
    assert.deepEqual(open.id, { [CLAIM]: ['admin'] }, name);
    assertNoSecretsLogged(open);
    ev.secrets.FAILURE_POLICY = 'closed';
    assertDeniedNeutrally(await login(ev));
  }
  assert.equal(rh.requests.length, 0);

  await t.test('no CLAIM_NAMESPACE: no claim, login proceeds under open', async () => {
    const ev = event({ RULEHOOK_URL: rh.url });
    delete ev.secrets.CLAIM_NAMESPACE;
    const rec = await login(ev);
    assert.deepEqual(rec.id, {});
    assert.equal(rec.denied, null);
    assert.ok(rec.logs.some((l) => l.includes('CLAIM_NAMESPACE')), rec.logs.join('\n'));
  });
  await t.test('a CLAIM_NAMESPACE Auth0 would drop: no claim, no callout, login proceeds under open', async () => {
    for (const ns of ['roles', 'music', 'urn:music', 'https://tenant.auth0.com', 'https://auth0.com/x', 'https://a.webtask.io', 'http://webtask.run']) {
      const ev = event({ RULEHOOK_URL: rh.url, CLAIM_NAMESPACE: ns });
      const rec = await login(ev);
      assert.deepEqual(rec.id, {}, ns);
      assert.deepEqual(rec.access, {}, ns);
      assert.equal(rec.denied, null, ns);
      assert.ok(rec.logs.some((l) => l.includes('CLAIM_NAMESPACE')), `${ns}: ${rec.logs.join('\n')}`);
      ev.secrets.FAILURE_POLICY = 'closed';
      assertDeniedNeutrally(await login(ev));
    }
    assert.equal(rh.requests.length, 0);
  });
  await t.test('no secrets at all, no user', async () => {
    await login({});
    await login({ secrets: {} });
    await login(undefined);
  });
});

test('never throws, even when the api itself throws', async (t) => {
  const rh = await rulehook(t, (req, body, res) => json(res, 200, answer({
    roles: ['x'], app_metadata: { a: 1 }, written_by: 'action',
  })));
  const boom = () => { throw new Error('boom'); };
  const api = { idToken: { setCustomClaim: boom }, accessToken: { setCustomClaim: boom }, user: { setAppMetadata: boom, setUserMetadata: boom }, access: { deny: boom } };
  const orig = console.log;
  console.log = () => {};
  try {
    await onExecutePostLogin(event({ RULEHOOK_URL: rh.url }), api);
    await onExecutePostLogin(event({ RULEHOOK_URL: rh.url, FAILURE_POLICY: 'closed', CALLOUT_SECRET: '' }), api);
    await onExecutePostLogin(event({ RULEHOOK_URL: rh.url }), {});
  } finally {
    console.log = orig;
  }
});

test('unknown FAILURE_POLICY is open', async (t) => {
  const url = await refusedURL(t);
  const rec = await login(event({ RULEHOOK_URL: url, FAILURE_POLICY: 'clsoed' }));
  assert.equal(rec.denied, null);
  assert.deepEqual(rec.id, { [CLAIM]: ['admin'] });
});

test('FAILURE_POLICY is case-insensitive', async (t) => {
  const url = await refusedURL(t);
  assertDeniedNeutrally(await login(event({ RULEHOOK_URL: url, FAILURE_POLICY: ' Closed ' })));
});
