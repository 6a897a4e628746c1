// The rulehook dev console. Plain JavaScript, no framework: it calls the console's JSON endpoints
// under /dev/api/ and redraws. Nothing is loaded from anywhere but this rulehook.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { users: [], selected: '', pollTimer: 0, busy: false };

async function call(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    throw new Error((data && data.message) || `${method} ${path}: ${res.status}`);
  }
  return data;
}

const show = (v) => (v === undefined || v === null ? '(none)' : JSON.stringify(v));
const pretty = (v) => JSON.stringify(v, null, 2);

function text(el, s, cls) {
  el.textContent = s;
  el.className = cls || '';
}

// --- users ---------------------------------------------------------------------------------

function renderUsers() {
  const body = $('users').tBodies[0];
  body.replaceChildren();
  for (const u of state.users) {
    const tr = document.createElement('tr');
    if (u.user_id === state.selected) tr.className = 'selected';
    const pick = document.createElement('button');
    pick.type = 'button';
    pick.textContent = u.user_id;
    pick.setAttribute('aria-label', `select ${u.user_id}`);
    pick.addEventListener('click', () => select(u.user_id));
    const cells = [pick, (u.roles || []).join(', ') || '(none)',
      u.display_name === null ? '(none)' : u.display_name,
      u.plays === null ? 'not recorded' : String(u.plays)];
    for (const c of cells) {
      const td = document.createElement('td');
      if (c instanceof Node) td.append(c); else td.textContent = c;
      tr.append(td);
    }
    body.append(tr);
  }
  const sel = $('user-select');
  const keep = state.selected;
  sel.replaceChildren();
  for (const u of state.users) {
    const o = document.createElement('option');
    o.value = o.textContent = u.user_id;
    sel.append(o);
  }
  if (!keep && state.users.length) state.selected = state.users[0].user_id;
  sel.value = state.selected;
}

function select(id) {
  state.selected = id;
  $('user-select').value = id;
  const u = state.users.find((x) => x.user_id === id);
  if (u && u.plays !== null) setPlays(u.plays);
  renderUsers();
  refreshHistory();
}

function setPlays(n) {
  $('plays').value = n;
  $('plays-range').value = Math.min(n, Number($('plays-range').max));
}

// latest numbers each kind of refresh, so that an answer overtaken by a newer request is dropped
// rather than drawn over the newer one.
const latest = { users: 0, history: 0 };

async function refreshUsers() {
  const seq = ++latest.users;
  const users = await call('GET', '/dev/api/users');
  if (seq !== latest.users) return;
  state.users = users;
  renderUsers();
}

async function createUser(ev) {
  ev.preventDefault();
  const roles = $('new-roles').value.split(',').map((s) => s.trim()).filter(Boolean);
  const nu = { user_id: $('new-id').value.trim(), roles, display_name: $('new-name').value };
  try {
    const u = await call('POST', '/dev/api/users', nu);
    $('create-form').reset();
    await refreshUsers();
    select(u.user_id);
    text($('create-msg'), `created ${u.user_id}`, 'good');
  } catch (e) {
    text($('create-msg'), e.message, 'bad');
  }
}

// --- login and play ------------------------------------------------------------------------

async function login(ev) {
  ev.preventDefault();
  if (state.busy) return;
  const req = { user_id: $('user-select').value };
  if (!$('keep-plays').checked && $('plays').value !== '') req.plays = Number($('plays').value);
  state.busy = true;
  text($('login-msg'), `logging in ${req.user_id} through the real Action…`);
  try {
    renderLogin(await call('POST', '/dev/api/login', req));
    text($('login-msg'), `logged in ${req.user_id}`, 'good');
  } catch (e) {
    text($('login-msg'), e.message, 'bad');
  } finally {
    state.busy = false;
    poll();
  }
}

function metadataText(m) {
  return `app_metadata  ${JSON.stringify(m.app_metadata || {})}\nuser_metadata ${JSON.stringify(m.user_metadata || {})}`;
}

function renderLogin(r) {
  $('result').hidden = false;
  if (r.denied) {
    text($('result-id-roles'), `login denied: ${r.deny_reason}`, 'bad');
    text($('result-access-roles'), '(no tokens)', 'bad');
  } else {
    text($('result-id-roles'), show(r.id_token_roles));
    text($('result-access-roles'), show(r.access_token_roles));
  }
  const answer = r.callout || {};
  const degraded = answer.degraded || [];
  let writer = answer.written_by || r.written_by;
  if (writer === 'rulehook' && degraded.includes('management_api')) writer += ' (queued: the worker writes it once the tenant answers)';
  else if (writer === 'rulehook') writer += ' (one Management API PATCH)';
  else if (writer === 'action') writer += ' (api.user.setAppMetadata / setUserMetadata)';
  else if (writer === 'none') writer += ' (nothing changed: no Management API call)';
  text($('result-written-by'), writer);
  text($('result-degraded'), degraded.length ? degraded.join(', ') : 'nothing', degraded.length ? 'bad' : 'good');
  $('result-before').textContent = metadataText(r.before);
  $('result-after').textContent = metadataText(r.after);
  $('result-callout').textContent = r.callout ? pretty(r.callout) : '(rulehook gave no answer)';
  $('result-logs').textContent = (r.action_logs || []).join('\n') || '(nothing)';
}

async function recordPlay() {
  const id = $('user-select').value;
  try {
    const r = await call('POST', '/dev/api/play', { user_id: id });
    const ok = r.status >= 200 && r.status < 300;
    const plays = r.body && r.body.plays !== undefined ? `: ${r.body.plays} plays` : '';
    text($('play-msg'), `play recorded for ${id}${plays} (HTTP ${r.status})`, ok ? 'good' : 'bad');
    if (ok && r.body && r.body.plays !== undefined) setPlays(r.body.plays);
  } catch (e) {
    text($('play-msg'), e.message, 'bad');
  }
  poll();
}

// --- faults, status, history, settings -----------------------------------------------------

async function setFaults() {
  const tenant = document.querySelector('input[name=tenant-fault]:checked').value;
  try {
    renderStatus(await call('PUT', '/dev/api/faults', { tenant, redis_paused: $('fault-redis').checked }));
  } catch (e) {
    text($('status-redis'), e.message, 'bad');
  }
}

function renderStatus(s) {
  text($('status-redis'), s.redis, s.redis === 'ok' ? 'good' : 'bad');
  text($('status-queue'), s.queue_depth === null ? 'could not be read' : `${s.queue_depth} pending`, s.queue_depth ? 'bad' : '');
  text($('status-gate'), s.gate, s.gate === 'open' ? '' : 'bad');
  text($('status-breaker'), s.breaker, s.breaker === 'closed' ? '' : 'bad');
  const w = s.writes;
  text($('status-writes'), `${w.written} written, ${w.queued} queued, ${w.applied} applied by the worker, ${w.failed} failed`);
  const dl = $('settings');
  dl.replaceChildren();
  const st = s.settings;
  for (const [k, v] of [['playlist_editor at', `${st.threshold} plays`], ['default displayName', JSON.stringify(st.default_display_name)],
    ['WRITE_MODE', st.write_mode], ['FAILURE_POLICY', st.failure_policy], ['rulehook', st.rulehook_url], ['emulated tenant', st.tenant_url]]) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
  if (document.activeElement && document.activeElement.name === 'tenant-fault') return; // keep the user's focus
  for (const r of document.querySelectorAll('input[name=tenant-fault]')) r.checked = r.value === s.faults.tenant;
  $('fault-redis').checked = s.faults.redis_paused;
}

function describeChange(c) {
  return `${c.object}.${c.key}: ${show(c.before)} → ${show(c.after)}`;
}

async function refreshHistory() {
  const id = state.selected;
  $('history-user').textContent = id || 'no user';
  if (!id) return;
  const seq = ++latest.history;
  let entries;
  try {
    entries = await call('GET', `/dev/api/history?user=${encodeURIComponent(id)}`);
    if (seq !== latest.history) return;
  } catch (e) {
    $('history').replaceChildren(Object.assign(document.createElement('li'), { textContent: e.message, className: 'bad' }));
    return;
  }
  const ol = $('history');
  ol.replaceChildren();
  if (!entries.length) {
    ol.append(Object.assign(document.createElement('li'), { textContent: 'nothing recorded yet' }));
  }
  for (const e of entries) {
    const li = document.createElement('li');
    const when = new Date(e.time).toLocaleTimeString();
    li.textContent = `${when} ${e.reason}: ${(e.changes || []).map(describeChange).join('; ')}`;
    ol.append(li);
  }
}

async function poll() {
  try {
    const [s] = await Promise.all([call('GET', '/dev/api/status'), refreshUsers(), refreshHistory()]);
    renderStatus(s);
  } catch (e) {
    text($('status-redis'), `dev stopped answering: ${e.message}`, 'bad');
  }
}

function start() {
  $('create-form').addEventListener('submit', createUser);
  $('login-form').addEventListener('submit', login);
  $('play-btn').addEventListener('click', recordPlay);
  $('user-select').addEventListener('change', (ev) => select(ev.target.value));
  $('plays-range').addEventListener('input', (ev) => { $('plays').value = ev.target.value; });
  $('plays').addEventListener('input', (ev) => { $('plays-range').value = ev.target.value; });
  for (const r of document.querySelectorAll('input[name=tenant-fault]')) r.addEventListener('change', setFaults);
  $('fault-redis').addEventListener('change', setFaults);
  poll().then(() => { if (state.selected) select(state.selected); });
  state.pollTimer = setInterval(() => { if (!document.hidden && !state.busy) poll(); }, 1000);
}

document.addEventListener('DOMContentLoaded', start);
