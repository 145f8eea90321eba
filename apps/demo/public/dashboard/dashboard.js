// The coordination dashboard page: plain JavaScript, no framework, no build step.
// It reads /dashboard/snapshot once (which tells whether the session cookie is good), then follows
// /dashboard/stream (server-sent events; EventSource sends the cookie). Every value from the server
// is written with textContent or a DOM property, never parsed as HTML.
'use strict';

(() => {
  const RETRY_MS = 3000;
  const $ = (id) => document.getElementById(id);
  let source = null;
  let retryTimer = null;
  let shownLocks = new Set();

  // ---- DOM helpers ----------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function setText(id, text) {
    $(id).textContent = text === undefined || text === null ? '–' : String(text);
  }

  function row(cells) {
    const tr = document.createElement('tr');
    for (const cell of cells) {
      const td = document.createElement('td');
      if (cell instanceof Node) td.appendChild(cell);
      else td.textContent = cell === undefined || cell === null ? '–' : String(cell);
      tr.appendChild(td);
    }
    return tr;
  }

  function duration(ms) {
    if (ms === undefined || ms === null) return '–';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
  }

  function percent(ratio) {
    return ratio === null || ratio === undefined ? '–' : `${(ratio * 100).toFixed(1)} %`;
  }

  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }

  function minuteLabel(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
  }

  // ---- states of the page ---------------------------------------------------------------------

  function setLive(text, kind) {
    const badge = $('live');
    badge.textContent = text;
    badge.className = `badge badge-${kind}`;
  }

  function showLogin(reason) {
    closeStream();
    $('board').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    setText('who', reason);
    setLive('not logged in', 'idle');
  }

  function showBoard() {
    $('login').hidden = true;
    $('board').hidden = false;
    $('logout').hidden = false;
  }

  function closeStream() {
    if (source) source.close();
    source = null;
    clearTimeout(retryTimer);
  }

  function retryLater() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(start, RETRY_MS);
  }

  // ---- talking to the demo --------------------------------------------------------------------

  async function start() {
    closeStream();
    let response;
    try {
      response = await fetch('/dashboard/snapshot', { credentials: 'same-origin', headers: { accept: 'application/json' } });
    } catch {
      setLive('offline', 'bad');
      retryLater();
      return;
    }
    if (response.status === 400 || response.status === 401 || response.status === 403) {
      showLogin(response.status === 401 ? 'Your session has ended or is not valid.' : 'Not logged in.');
      return;
    }
    if (!response.ok) {
      setLive(`error ${response.status}`, 'bad');
      retryLater();
      return;
    }
    render(await response.json());
    connect();
  }

  function connect() {
    source = new EventSource('/dashboard/stream');
    source.addEventListener('open', () => setLive('live', 'live'));
    source.addEventListener('snapshot', (event) => render(JSON.parse(event.data)));
    // The session the stream was opened with has ended (logged out here or elsewhere, expired):
    // start over, which shows the login form, rather than reconnect to be refused.
    source.addEventListener('session-ended', () => void start());
    source.addEventListener('error', () => {
      if (source && source.readyState === EventSource.CLOSED) {
        // Refused (the session ended) or unreachable: start over, which tells which.
        setLive('offline', 'bad');
        retryLater();
      } else {
        setLive('reconnecting', 'idle');
      }
    });
  }

  async function login(form) {
    const body = { userId: form.elements.userId.value.trim(), companyId: form.elements.companyId.value.trim() };
    setText('login-error', '');
    let response;
    try {
      response = await fetch('/auth/login', {
        method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
    } catch {
      setText('login-error', 'The demo could not be reached.');
      return;
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      const message = Array.isArray(problem.message) ? problem.message.join('; ') : problem.message || problem.detail || `error ${response.status}`;
      setText('login-error', `Could not log in: ${message}`);
      return;
    }
    await start();
  }

  async function logout() {
    closeStream();
    await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => undefined);
    showLogin('Logged out.');
  }

  // ---- rendering a snapshot -------------------------------------------------------------------

  function render(snapshot) {
    showBoard();
    setText('who', `Company ${snapshot.companyId}`);
    setText('instance', `Instance ${snapshot.instanceId}`);
    setText('updated', clock(snapshot.at));
    $('updated').dateTime = snapshot.at;
    renderLocks(snapshot.locks);
    renderRedis(snapshot.redis);
    renderRateLimits(snapshot.rateLimits);
    renderCache(snapshot.cache);
    setText('sessions-active', snapshot.sessions.active);
    renderQueues(snapshot.queues);
    renderStreams(snapshot.streams);
    for (const panel of document.querySelectorAll('[data-part]')) {
      panel.classList.toggle('unavailable', snapshot.unavailable.includes(panel.dataset.part));
    }
  }

  function renderLocks(locks) {
    const body = $('locks').tBodies[0];
    const shown = new Set();
    body.replaceChildren(...locks.map((lock) => {
      const id = `${lock.key}#${lock.fencingToken}`;
      shown.add(id);
      const holder = el('span', `tag ${lock.local ? 'tag-local' : 'tag-remote'}`, lock.local ? 'this instance' : 'another instance');
      const tr = row([
        el('span', 'mono', lock.key), el('span', 'mono', lock.fencingToken), el('span', 'mono', lock.owner),
        duration(lock.heldForMs), duration(lock.expiresInMs), lock.renewals ?? '–', lock.waiters, holder,
      ]);
      tr.dataset.lockKey = lock.key;
      tr.dataset.fencingToken = String(lock.fencingToken);
      if (!shownLocks.has(id)) tr.classList.add('fresh');
      return tr;
    }));
    shownLocks = shown;
    $('locks-empty').hidden = locks.length > 0;
  }

  function renderRedis(redis) {
    const status = $('redis-status');
    status.textContent = redis.status;
    status.className = `status status-${redis.status}`;
    setText('redis-breaker', redis.breaker ?? 'n/a (memory driver)');
    setText('redis-driver', redis.topology ? `${redis.driver} (${redis.topology})` : redis.driver);
    setText('redis-ping', redis.pingLatencyMs === undefined ? '–' : `${redis.pingLatencyMs.toFixed(1)} ms`);
    setText('redis-reconnects', redis.reconnects);
  }

  function renderRateLimits(rateLimits) {
    setText('rate-minutes', rateLimits.decisions.length);
    const decisions = rateLimits.decisions.map((m) => ({ minute: m.minute, parts: [['allowed', m.allowed], ['denied', m.denied]] }));
    bars('decisions-chart', decisions, (m) => `${minuteLabel(m.minute)}: ${m.parts[0][1]} allowed, ${m.parts[1][1]} denied`);
    setText('decisions-allowed', rateLimits.decisions.reduce((sum, m) => sum + m.allowed, 0));
    setText('decisions-denied', rateLimits.decisions.reduce((sum, m) => sum + m.denied, 0));
    const violations = rateLimits.violations.map((m) => ({ minute: m.minute, parts: [['violations', m.count]] }));
    bars('violations-chart', violations, (m) => `${minuteLabel(m.minute)}: ${m.parts[0][1]} violations`);
    setText('violations-total', rateLimits.violations.reduce((sum, m) => sum + m.count, 0));
    $('violations-truncated').hidden = !rateLimits.violationsTruncated;
    $('recent-violations').replaceChildren(...rateLimits.recent.map((v) => {
      const item = el('li');
      const at = el('time', '', clock(v.at));
      at.dateTime = v.at;
      item.append(at, el('span', 'mono', v.policy), el('span', 'mono', v.key));
      return item;
    }));
    $('recent-empty').hidden = rateLimits.recent.length > 0;
  }

  /** A bar per minute, its parts stacked; heights relative to the busiest minute. */
  function bars(id, minutes, describe) {
    const chart = $(id);
    const max = Math.max(1, ...minutes.map((m) => m.parts.reduce((sum, [, n]) => sum + n, 0)));
    chart.replaceChildren(...minutes.map((m) => {
      const bar = el('div', 'bar');
      bar.title = describe(m);
      for (const [kind, n] of m.parts) {
        const part = el('span', kind);
        part.style.height = `${(n / max) * 100}%`;
        bar.appendChild(part);
      }
      return bar;
    }));
    let labels = chart.nextElementSibling;
    if (!labels || !labels.classList.contains('bar-label')) {
      labels = el('div', 'bar-label');
      chart.after(labels);
    }
    labels.replaceChildren(...minutes.map((m, i) => el('span', '', i % 3 === 0 || i === minutes.length - 1 ? minuteLabel(m.minute) : '')));
  }

  function renderCache(cache) {
    setText('cache-recent-ratio', percent(cache.recent.hitRatio));
    setText('cache-recent-reads', cache.recent.hits + cache.recent.misses);
    setText('cache-ratio', percent(cache.hits + cache.misses === 0 ? null : cache.hitRatio));
    setText('cache-counts', `${cache.hits} / ${cache.misses}`);
    setText('cache-stale', cache.staleServes);
    setText('cache-l1', cache.l1Entries);
  }

  function renderQueues(queues) {
    $('queues').tBodies[0].replaceChildren(...queues.map((q) => row([el('span', 'mono', q.name), q.depth])));
  }

  function renderStreams(streams) {
    $('streams').tBodies[0].replaceChildren(...streams.map((s) => row([
      el('span', 'mono', `${s.stream} / ${s.group}`), s.lag === null ? 'unknown' : s.lag, s.pending, s.consumers,
    ])));
    $('streams-empty').hidden = streams.length > 0;
  }

  // ---- wiring ---------------------------------------------------------------------------------

  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void login(event.currentTarget);
  });
  $('logout').addEventListener('click', () => void logout());
  void start();
})();
