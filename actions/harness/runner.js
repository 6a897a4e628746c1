'use strict';
// The login harness runner: `node runner.js <action.js>` with a Login as JSON on stdin.
//
// It loads the Action, builds an Auth0-shaped post-login event from the input, runs
// onExecutePostLogin with a recording api and prints the recording as one JSON line on stdout.
// Everything the Action logs (console.*) is captured into the recording, never printed.
//
// stdin:  {"user": {"user_id", "email", "app_metadata", "user_metadata", ...},
//          "secrets": {"NAME": "value"}, "transaction": {...}, "client": {...},
//          "request": {...}, "tenant": {...}, "omit": ["transaction.id", ...]}
//                                                         (all but user.user_id optional)
// stdout: {"id_token_claims": {}, "access_token_claims": {}, "dropped_claims": [],
//          "app_metadata_set": {}, "user_metadata_set": {}, "denied": false, "deny_reason": "",
//          "logs": [], "threw": null | "<error text>"}
//
// The event follows Auth0's documented post-login event object
// (https://auth0.com/docs/customize/actions/explore-triggers/signup-and-login-triggers/login-trigger/post-login-event-object):
// event.transaction and event.request.hostname are optional there, so "omit" can take them out.
// A refresh-token exchange (transaction.protocol "oauth2-refresh-token") is a POST to /oauth/token
// whose body Auth0 passes in event.request.body (documented for refresh token flows only).
//
// Like Auth0, the recording api keeps only the custom claims a token would carry: a claim that is
// not namespaced by an http(s) URL, or whose namespace is on auth0.com, webtask.io or webtask.run
// (or a subdomain), is silently left out of the token by Auth0 ("Create Custom Claims",
// https://auth0.com/docs/secure/tokens/json-web-tokens/create-custom-claims); here it goes to
// dropped_claims instead, so a test cannot pass on a claim a real token would not hold.
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
  const tx = {
    id: crypto.randomUUID(),
    protocol: 'oidc-basic-profile',
    requested_scopes: ['openid', 'profile', 'email'],
    ...(input.transaction || {}),
  };
  const refresh = tx.protocol === 'oauth2-refresh-token';
  return {
    user,
    secrets: { ...(input.secrets || {}) },
    transaction: tx,
    client: { client_id: 'rulehook-harness', name: 'rulehook harness', metadata: {}, ...(input.client || {}) },
    request: {
      ip: '127.0.0.1',
      user_agent: 'rulehook-harness',
      hostname: 'rulehook-dev.local',
      method: refresh ? 'POST' : 'GET',
      query: {},
      body: refresh ? { grant_type: 'refresh_token' } : {},
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

const RESTRICTED_DOMAINS = ['auth0.com', 'webtask.io', 'webtask.run'];

/** Why Auth0 would drop a custom claim of that name, or '' when it keeps it. */
function dropReason(name) {
  let u;
  try {
    u = new URL(String(name));
  } catch {
    return 'not namespaced';
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || !u.hostname) return 'not namespaced';
  const host = u.hostname.toLowerCase();
  if (RESTRICTED_DOMAINS.some((d) => host === d || host.endsWith(`.${d}`))) return `namespace on ${host}`;
  return '';
}

/** Removes the dotted paths (e.g. "transaction.id") from the event. */
function omit(event, paths) {
  for (const path of paths || []) {
    const keys = String(path).split('.');
    const last = keys.pop();
    const parent = keys.reduce((o, k) => (isObject(o) ? o[k] : undefined), event);
    if (isObject(parent)) delete parent[last];
  }
  return event;
}

function recordingApi(rec) {
  const claims = (token, into) => ({
    setCustomClaim: (name, value) => {
      const why = dropReason(name);
      if (why) {
        rec.dropped_claims.push(`${token} ${name}: ${why}`);
        return;
      }
      into[name] = value === undefined ? null : value;
    },
  });
  return {
    idToken: claims('id_token', rec.id_token_claims),
    accessToken: claims('access_token', rec.access_token_claims),
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
    dropped_claims: [],
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
    await action.onExecutePostLogin(omit(buildEvent(input), input.omit), recordingApi(rec));
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
