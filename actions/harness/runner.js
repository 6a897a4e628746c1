'use strict';
// The login harness runner: `node runner.js <action.js>` with a Login as JSON on stdin.
//
// It loads the Action, builds an Auth0-shaped post-login event from the input, runs
// onExecutePostLogin with a recording api and prints the recording as one JSON line on stdout.
// Everything the Action logs (console.*) is captured into the recording, never printed.
//
// stdin:  {"user": {"user_id", "email", "app_metadata", "user_metadata", ...},
//          "secrets": {"NAME": "value"}, "transaction": {...}, "client": {...},
//          "request": {...}, "tenant": {...}}            (all but user.user_id optional)
// stdout: {"id_token_claims": {}, "access_token_claims": {}, "app_metadata_set": {},
//          "user_metadata_set": {}, "denied": false, "deny_reason": "", "logs": [],
//          "threw": null | "<error text>"}
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const crypto = require('node:crypto');

function buildEvent(input) {
  const now = new Date().toISOString();
  const u = input.user || {};
  const user = {
    email_verified: true,
    identities: [],
    created_at: now,
    updated_at: now,
    ...u,
    app_metadata: isObject(u.app_metadata) ? u.app_metadata : {},
    user_metadata: isObject(u.user_metadata) ? u.user_metadata : {},
  };
  return {
    user,
    secrets: { ...(input.secrets || {}) },
    transaction: {
      id: crypto.randomUUID(),
      protocol: 'oidc-basic-profile',
      requested_scopes: ['openid', 'profile', 'email'],
      ...(input.transaction || {}),
    },
    client: { client_id: 'rulehook-harness', name: 'rulehook harness', metadata: {}, ...(input.client || {}) },
    request: {
      ip: '127.0.0.1',
      user_agent: 'rulehook-harness',
      hostname: 'rulehook-dev.local',
      method: 'GET',
      query: {},
      body: {},
      geoip: {},
      ...(input.request || {}),
    },
    tenant: { id: 'rulehook-dev', ...(input.tenant || {}) },
    connection: { id: 'con_harness', name: 'Username-Password-Authentication', strategy: 'auth0', metadata: {} },
    authentication: { methods: [{ name: 'pwd', timestamp: now }] },
    authorization: { roles: [] },
    stats: { logins_count: 1 },
  };
}

function recordingApi(rec) {
  const claims = (into) => ({ setCustomClaim: (name, value) => { into[name] = value === undefined ? null : value; } });
  return {
    idToken: claims(rec.id_token_claims),
    accessToken: claims(rec.access_token_claims),
    user: {
      setAppMetadata: (key, value) => { rec.app_metadata_set[key] = value === undefined ? null : value; },
      setUserMetadata: (key, value) => { rec.user_metadata_set[key] = value === undefined ? null : value; },
    },
    access: {
      deny: (reason) => {
        rec.denied = true;
        rec.deny_reason = String(reason);
      },
    },
  };
}

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function main() {
  const rec = {
    id_token_claims: {},
    access_token_claims: {},
    app_metadata_set: {},
    user_metadata_set: {},
    denied: false,
    deny_reason: '',
    logs: [],
    threw: null,
  };
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    console[level] = (...args) => rec.logs.push(util.format(...args));
  }
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const action = require(path.resolve(process.argv[2]));
  try {
    await action.onExecutePostLogin(buildEvent(input), recordingApi(rec));
  } catch (err) {
    rec.threw = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  // Exit once written: the login is over, whatever the Action left running (Auth0 freezes it too).
  process.stdout.write(`${JSON.stringify(rec)}\n`, () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(`runner: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
