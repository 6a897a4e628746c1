'use strict';
/**
 * rulehook post-login Action (Auth0 Actions, Node 22 runtime; also runs on Node 20).
 *
 * A thin client: it holds no rules. On every login and refresh it POSTs a subset of the event to
 * `${RULEHOOK_URL}/v1/post-login` with an HS256 callout token, puts the roles rulehook answers into
 * the `${CLAIM_NAMESPACE}/roles` claim of the ID token and the access token, and, only when rulehook
 * answers `written_by: "action"`, persists the answer's metadata with api.user.setAppMetadata /
 * setUserMetadata. It never throws.
 *
 * Secrets (event.secrets):
 *   RULEHOOK_URL      required. Base URL of rulehook. https, or http for a loopback host only.
 *   CALLOUT_SECRET    required, >= 32 bytes. HS256 key, the same as rulehook's CALLOUT_SECRET.
 *   CLAIM_NAMESPACE   required. e.g. https://music.example.com -> claim https://music.example.com/roles.
 *                     An http(s) URL whose host is not auth0.com, webtask.io, webtask.run or a
 *                     subdomain of one: Auth0 silently drops other claims ("Create Custom Claims"
 *                     in the Auth0 docs), so such a namespace is refused like a missing one.
 *   FAILURE_POLICY    open (default) | closed. What to do when rulehook cannot give an answer:
 *                     open keeps the user's current app_metadata.roles in the claims and lets the
 *                     login proceed; closed denies the login with a neutral reason.
 *   TIMEOUT_MS        callout timeout, default 5000, capped at 9000 (Auth0 asks for < 10 s).
 *   CALLOUT_AUDIENCE  `aud` of the token; default RULEHOOK_URL without trailing slashes. Must equal
 *                     rulehook's CALLOUT_AUDIENCE.
 *   CALLOUT_ISSUER    `iss` of the token; default `https://${AUTH0_DOMAIN}/` when the AUTH0_DOMAIN
 *                     secret is set, else `https://${event.request.hostname}/`. rulehook's default
 *                     is `https://$AUTH0_DOMAIN/`, so with a custom domain set AUTH0_DOMAIN (or
 *                     CALLOUT_ISSUER) here.
 *   AUTH0_DOMAIN      optional, the tenant domain; only used for the CALLOUT_ISSUER default.
 *
 * A 503 whose body is rulehook's JSON error means rulehook's own closed failure policy refused the
 * login: it is denied whatever FAILURE_POLICY says here. Any other failure (network, timeout,
 * another status, a redirect, a malformed answer, a missing secret) follows FAILURE_POLICY.
 *
 * Logs carry only non-sensitive facts: never the token, a secret, an email or the event.
 */
const crypto = require('node:crypto');

const DEFAULT_TIMEOUT_MS = 5000;
const MAX_TIMEOUT_MS = 9000;
const TOKEN_TTL_SECONDS = 60;
const MIN_SECRET_BYTES = 32;
const DENY_REASON = 'Sign-in is temporarily unavailable. Please try again later.';
const WRITERS = new Set(['rulehook', 'action', 'none']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const RESTRICTED_CLAIM_DOMAINS = ['auth0.com', 'webtask.io', 'webtask.run'];

/** Failure is an expected failure; its message is safe to log (it never holds user data). */
class Failure extends Error {
  constructor(message, deny = false) {
    super(message);
    this.name = 'Failure';
    this.deny = deny;
  }
}

exports.onExecutePostLogin = async (event, api) => {
  const secrets = (event && event.secrets) || {};
  const policy = failurePolicy(secrets);
  const claim = claimName(secrets);
  const started = Date.now();
  try {
    const cfg = settings(event, secrets);
    const answer = await callout(event, cfg);
    apply(api, claim, answer);
    const degraded = answer.degraded && answer.degraded.length ? answer.degraded.join(',') : 'none';
    log(`ok in ${Date.now() - started} ms: ${answer.roles.length} role(s), written_by=${answer.written_by}, degraded=${degraded}`);
  } catch (err) {
    onFailure(event, api, policy, claim, err);
  }
};

function failurePolicy(secrets) {
  const raw = String(secrets.FAILURE_POLICY || 'open').trim().toLowerCase();
  if (raw !== 'open' && raw !== 'closed') {
    log('unknown FAILURE_POLICY, using open');
    return 'open';
  }
  return raw;
}

function claimName(secrets) {
  const ns = nonEmpty(secrets.CLAIM_NAMESPACE) ? secrets.CLAIM_NAMESPACE.trim().replace(/\/+$/, '') : '';
  return ns && !namespaceProblem(ns) ? `${ns}/roles` : '';
}

/** Why Auth0 would drop claims under ns, or '' when ns is a usable namespace. */
function namespaceProblem(ns) {
  let u;
  try {
    u = new URL(ns);
  } catch {
    return 'CLAIM_NAMESPACE must be an http(s) URL';
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || !u.hostname) return 'CLAIM_NAMESPACE must be an http(s) URL';
  const host = u.hostname.toLowerCase();
  if (RESTRICTED_CLAIM_DOMAINS.some((d) => host === d || host.endsWith(`.${d}`))) {
    return 'CLAIM_NAMESPACE is on an Auth0 domain, whose claims Auth0 drops';
  }
  return '';
}

function settings(event, secrets) {
  const missing = ['RULEHOOK_URL', 'CALLOUT_SECRET', 'CLAIM_NAMESPACE'].filter((k) => !nonEmpty(secrets[k]));
  const issuer = issuerOf(event, secrets);
  if (!issuer) missing.push('CALLOUT_ISSUER (or AUTH0_DOMAIN)');
  if (missing.length) throw new Failure(`missing secret(s): ${missing.join(', ')}`);
  const nsProblem = namespaceProblem(secrets.CLAIM_NAMESPACE.trim().replace(/\/+$/, ''));
  if (nsProblem) throw new Failure(nsProblem);

  if (Buffer.byteLength(secrets.CALLOUT_SECRET, 'utf8') < MIN_SECRET_BYTES) {
    throw new Failure(`CALLOUT_SECRET is shorter than ${MIN_SECRET_BYTES} bytes`);
  }
  const base = secrets.RULEHOOK_URL.trim().replace(/\/+$/, '');
  let url;
  try {
    url = new URL(`${base}/v1/post-login`);
  } catch {
    throw new Failure('RULEHOOK_URL is not a URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new Failure('RULEHOOK_URL must be https (http only for a loopback host)');
  }
  const userId = event && event.user && event.user.user_id;
  if (!nonEmpty(userId)) throw new Failure('event has no user_id');

  return {
    url: url.href,
    secret: secrets.CALLOUT_SECRET,
    audience: nonEmpty(secrets.CALLOUT_AUDIENCE) ? secrets.CALLOUT_AUDIENCE : base,
    issuer,
    timeoutMs: timeoutOf(secrets.TIMEOUT_MS),
    userId,
  };
}

function issuerOf(event, secrets) {
  if (nonEmpty(secrets.CALLOUT_ISSUER)) return secrets.CALLOUT_ISSUER;
  if (nonEmpty(secrets.AUTH0_DOMAIN)) return `https://${secrets.AUTH0_DOMAIN.trim()}/`;
  const host = event && event.request && event.request.hostname;
  return nonEmpty(host) ? `https://${host}/` : '';
}

function timeoutOf(raw) {
  const n = Number(raw);
  if (raw === undefined || raw === null || raw === '' || !Number.isFinite(n) || n <= 0) {
    return DEFAULT_TIMEOUT_MS;
  }
  return Math.min(Math.floor(n) || 1, MAX_TIMEOUT_MS);
}

/** The subset of the event that CONTRACT.md names; nothing else (no secrets) leaves Auth0. */
function calloutBody(event) {
  const user = event.user;
  const tx = event.transaction || {};
  const client = event.client || {};
  const req = event.request || {};
  return {
    user: {
      user_id: user.user_id,
      email: user.email,
      app_metadata: user.app_metadata || {},
      user_metadata: user.user_metadata || {},
    },
    transaction: { id: tx.id },
    client: { client_id: client.client_id, name: client.name },
    request: { ip: req.ip, user_agent: req.user_agent },
  };
}

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

function sign(claims, secret) {
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const sig = crypto.createHmac('sha256', secret).update(input).digest('base64url');
  return `${input}.${sig}`;
}

async function callout(event, cfg) {
  // Serialized once: these exact bytes are hashed into bsh and sent.
  const body = Buffer.from(JSON.stringify(calloutBody(event)), 'utf8');
  const iat = Math.floor(Date.now() / 1000);
  const token = sign({
    iss: cfg.issuer,
    aud: cfg.audience,
    sub: cfg.userId,
    iat,
    exp: iat + TOKEN_TTL_SECONDS,
    jti: crypto.randomUUID(),
    bsh: crypto.createHash('sha256').update(body).digest('base64url'),
  }, cfg.secret);

  let status;
  let text;
  try {
    const res = await fetch(cfg.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
      body,
      redirect: 'error', // never replay the token and the body to another location
      signal: AbortSignal.timeout(cfg.timeoutMs),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    throw new Failure(networkReason(err, cfg.timeoutMs));
  }

  if (status === 503 && isRulehookError(text)) {
    throw new Failure('rulehook answered 503 (its failure policy is closed)', true);
  }
  if (status !== 200) throw new Failure(`rulehook answered ${status}`);
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new Failure('answer is not JSON');
  }
  const problem = checkAnswer(answer, cfg.userId);
  if (problem) throw new Failure(`malformed answer: ${problem}`);
  return answer;
}

function networkReason(err, timeoutMs) {
  const name = err && err.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `timeout after ${timeoutMs} ms`;
  const code = err && err.cause && err.cause.code;
  return typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? `network error ${code}` : 'network error';
}

function isRulehookError(text) {
  try {
    const v = JSON.parse(text);
    return isObject(v) && typeof v.error === 'string';
  } catch {
    return false;
  }
}

/** Returns what is wrong with a 200 answer, or '' when it has the shape of CONTRACT.md. */
function checkAnswer(a, userId) {
  if (!isObject(a)) return 'not an object';
  if (!Array.isArray(a.roles) || !a.roles.every((r) => typeof r === 'string')) return 'roles is not a list of strings';
  if (!WRITERS.has(a.written_by)) return 'unknown written_by';
  if (!isObject(a.app_metadata)) return 'app_metadata is not an object';
  if (!isObject(a.user_metadata)) return 'user_metadata is not an object';
  if (a.user_id !== undefined && a.user_id !== userId) return 'answer is for another user';
  if (a.degraded !== undefined && !(Array.isArray(a.degraded) && a.degraded.every((d) => typeof d === 'string'))) {
    return 'degraded is not a list of strings';
  }
  return '';
}

function apply(api, claim, answer) {
  setRoles(api, claim, answer.roles);
  if (answer.written_by !== 'action') return;
  for (const [key, value] of Object.entries(answer.app_metadata)) {
    guarded(() => api.user.setAppMetadata(key, value), 'setAppMetadata');
  }
  for (const [key, value] of Object.entries(answer.user_metadata)) {
    guarded(() => api.user.setUserMetadata(key, value), 'setUserMetadata');
  }
}

function setRoles(api, claim, roles) {
  if (!claim) return;
  api.idToken.setCustomClaim(claim, [...roles]);
  api.accessToken.setCustomClaim(claim, [...roles]);
}

function onFailure(event, api, policy, claim, err) {
  const reason = err instanceof Failure ? err.message : `unexpected ${(err && err.name) || 'error'}`;
  const deny = policy === 'closed' || (err instanceof Failure && err.deny);
  if (deny) {
    guarded(() => api.access.deny(DENY_REASON), 'access.deny');
    log(`callout failed (${reason}); login denied`);
    return;
  }
  const roles = currentRoles(event && event.user);
  guarded(() => setRoles(api, claim, roles), 'setCustomClaim');
  log(`callout failed (${reason}); failure policy open: kept ${roles.length} current role(s)${claim ? '' : ', no claim (CLAIM_NAMESPACE missing or invalid)'}`);
}

/** The user's roles as Auth0 holds them now: app_metadata.roles, strings only. */
function currentRoles(user) {
  const roles = user && user.app_metadata && user.app_metadata.roles;
  if (typeof roles === 'string') return [roles];
  return Array.isArray(roles) ? roles.filter((r) => typeof r === 'string') : [];
}

function guarded(fn, what) {
  try {
    fn();
  } catch (err) {
    log(`${what} failed (${(err && err.name) || 'error'})`);
  }
}

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmpty(v) {
  return typeof v === 'string' && v.trim() !== '';
}

function log(msg) {
  console.log(`rulehook: ${msg}`);
}
