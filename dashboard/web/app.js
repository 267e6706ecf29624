// caflens live dashboard: one page, hash routes, no framework.
// Every text from the API goes into the DOM as text (textContent / text
// nodes), never as markup. Data come from the JSON API (dashboard/API.md)
// and the SSE stream /api/events; charts use Chart.js (/chart.js, global
// `Chart`). Elements the browser test looks for carry data-testid.
'use strict';
(() => {
  // -- DOM helpers -----------------------------------------------------------

  const $ = (sel, root = document) => root.querySelector(sel);

  // h('td', {testid: 'x', class: 'num', onclick: f}, 'text', child, [more])
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'testid') el.setAttribute('data-testid', v);
        else if (k.startsWith('on') && typeof v === 'function')
          el.addEventListener(k.slice(2), v);
        else if (k === 'value' && 'value' in el) el.value = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    add(el, kids);
    return el;
  }

  function add(el, kids) {
    for (const k of [kids].flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      el.append(k instanceof Node ? k : String(k)); // strings become text nodes
    }
    return el;
  }

  const link = (href, text, attrs = {}) => h('a', { href, ...attrs }, text);
  const actorHref = (id) => '#/actors/' + encodeURIComponent(String(id));
  const invHref = (id) => '#/investigations/' + encodeURIComponent(String(id));

  // -- formatting ------------------------------------------------------------

  const DASH = '–';
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

  function num(v, digits = 2) {
    if (v === null || v === undefined || v === '') return DASH;
    if (typeof v !== 'number') return String(v);
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return v.toLocaleString('en-US', { maximumFractionDigits: digits });
  }

  function bytes(v) {
    if (!isNum(v)) return v === null || v === undefined ? DASH : String(v);
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let x = v;
    let i = 0;
    while (Math.abs(x) >= 1024 && i < units.length - 1) {
      x /= 1024;
      ++i;
    }
    return (i === 0 ? String(x) : x.toFixed(1)) + ' ' + units[i];
  }

  function duration(ms) {
    if (!isNum(ms)) return ms === null || ms === undefined ? DASH : String(ms);
    const neg = ms < 0;
    let s = Math.abs(ms) / 1000;
    let out;
    if (s < 1) out = Math.round(s * 1000) + ' ms';
    else if (s < 60) out = s.toFixed(s < 10 ? 2 : 1) + ' s';
    else {
      const d = Math.floor(s / 86400);
      s -= d * 86400;
      const hh = Math.floor(s / 3600);
      s -= hh * 3600;
      const m = Math.floor(s / 60);
      s = Math.floor(s - m * 60);
      out = d ? `${d}d ${hh}h ${m}m` : hh ? `${hh}h ${m}m ${s}s` : `${m}m ${s}s`;
    }
    return neg ? '-' + out : out;
  }

  const pad = (n, w = 2) => String(n).padStart(w, '0');

  // A point in time given as Unix s, ms or ns (by magnitude).
  function toMs(v) {
    if (!isNum(v)) return null;
    if (v > 1e17) return v / 1e6; // ns
    if (v > 1e14) return v / 1e3; // us
    if (v > 1e11) return v; // ms
    if (v > 1e8) return v * 1000; // s
    return null;
  }

  function clock(ms, withMs = false) {
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
      + (withMs ? '.' + pad(d.getMilliseconds(), 3) : '');
  }

  function when(v) {
    const ms = toMs(v);
    if (ms === null) return v === null || v === undefined ? DASH : String(v);
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `
      + clock(ms);
  }

  const pct = (v) => (isNum(v) ? v.toFixed(1) + ' %' : DASH);
  const json = (v) => JSON.stringify(v, null, 2);
  const compact = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

  function tagsText(tags) {
    if (!tags || typeof tags !== 'object') return '';
    return Object.keys(tags).sort().map((k) => `${k}=${tags[k]}`).join(', ');
  }

  function cell(v) {
    if (v === null || v === undefined) return DASH;
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v === 'number') return num(v);
    if (Array.isArray(v)) return v.map(compact).join(', ');
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  const badge = (text, kind) =>
    h('span', { class: 'badge ' + (kind || String(text || '').toLowerCase()) },
      text === null || text === undefined || text === '' ? DASH : String(text));

  // -- errors ----------------------------------------------------------------

  const errors = new Map(); // key -> message

  function renderErrors() {
    const box = $('#errors');
    box.replaceChildren();
    box.hidden = errors.size === 0;
    for (const [key, msg] of errors) {
      box.append(h('div', { class: 'error-line', 'data-key': key },
        h('span', { class: 'error-text' }, msg),
        h('button', {
          class: 'dismiss', title: 'dismiss', type: 'button',
          onclick: () => { errors.delete(key); renderErrors(); },
        }, '×')));
    }
  }

  function setError(key, err) {
    let msg = err instanceof Error ? err.message : String(err);
    if (err && err.status === 401)
      msg += ' — this dashboard needs a token: open /?token=TOKEN';
    if (errors.get(key) === msg) return;
    errors.set(key, msg);
    renderErrors();
  }

  function clearError(key) {
    if (errors.delete(key)) renderErrors();
  }

  function clearPageErrors() {
    let changed = false;
    for (const key of [...errors.keys()]) {
      if (key.startsWith('page:')) {
        errors.delete(key);
        changed = true;
      }
    }
    if (changed) renderErrors();
  }

  window.addEventListener('error', (ev) => {
    setError('js', 'dashboard script error: ' + (ev.message || ev.error));
  });
  window.addEventListener('unhandledrejection', (ev) => {
    const r = ev.reason;
    setError('js', 'dashboard script error: ' + (r && r.message ? r.message : r));
  });

  // -- API -------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // self: this process's node; fallback: the node the server reads without
  // ?node= (its "default", else self); selected: the user's choice.
  const nodeState = { self: null, fallback: null, selected: sessionStorage.getItem('caflens.node') || null, nodes: [] };

  function currentNode() {
    return nodeState.selected || nodeState.fallback || nodeState.self;
  }

  // `node`: add ?node= to the reads that take it (once the nodes are known).
  async function api(path, { method = 'GET', body, node = false } = {}) {
    let url = path;
    const cur = currentNode();
    if (node && cur)
      url += (url.includes('?') ? '&' : '?') + 'node=' + encodeURIComponent(cur);
    const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      opts.body = JSON.stringify(body);
      opts.headers['Content-Type'] = 'application/json';
    }
    let res;
    try {
      res = await fetch(url, opts);
    } catch (e) {
      throw new ApiError(0, `${method} ${url}: no answer (${e.message})`);
    }
    const text = await res.text();
    let data = null;
    let parsed = false;
    if (text) {
      try {
        data = JSON.parse(text);
        parsed = true;
      } catch (e) {
        parsed = false;
      }
    }
    if (!res.ok) {
      const why = parsed && data && typeof data.error === 'string'
        ? data.error : (text.slice(0, 300) || res.statusText);
      throw new ApiError(res.status, `${method} ${url} → ${res.status}: ${why}`);
    }
    if (!parsed)
      throw new ApiError(res.status, `${method} ${url}: the answer is not JSON: ${text.slice(0, 200)}`);
    return data;
  }

  // -- live events (SSE) -----------------------------------------------------

  const listeners = { sample: new Set(), telemetry: new Set(), investigation: new Set() };
  let source = null;

  function setLive(stateName, text) {
    const el = $('#live');
    el.dataset.state = stateName;
    el.textContent = text || stateName;
  }

  function connectEvents() {
    if (source) source.close();
    setLive('connecting');
    source = new EventSource('/api/events');
    source.onopen = () => {
      setLive('live');
      clearError('sse');
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        setLive('offline');
        setError('sse', 'live events (/api/events): the connection was refused; retrying in 5 s');
        setTimeout(connectEvents, 5000);
      } else {
        setLive('reconnecting');
      }
    };
    for (const type of Object.keys(listeners)) {
      source.addEventListener(type, (ev) => {
        let data;
        try {
          data = JSON.parse(ev.data);
        } catch (e) {
          setError('sse-' + type, `live event "${type}" is not JSON: ${String(ev.data).slice(0, 200)}`);
          return;
        }
        for (const fn of [...listeners[type]]) {
          try {
            fn(data);
          } catch (e) {
            setError('js', `handling the "${type}" event: ${e.message}`);
          }
        }
      });
    }
  }

  // -- pages: lifecycle -------------------------------------------------------

  let ctx = { alive: false, cleanups: [] };

  function newContext() {
    ctx.alive = false;
    for (const fn of ctx.cleanups) {
      try {
        fn();
      } catch (e) { /* ignore */ }
    }
    ctx = { alive: true, cleanups: [] };
    return ctx;
  }

  function on(c, type, fn) {
    listeners[type].add(fn);
    c.cleanups.push(() => listeners[type].delete(fn));
  }

  // Runs `fn` now and `ms` after each run ends, while the page lives;
  // returns a function asking for a run now. Errors land in the banner
  // under `key` (cleared by the next good run).
  function poller(c, key, ms, fn) {
    let timer = null;
    let running = false;
    let again = false;
    const run = async () => {
      if (!c.alive) return;
      if (running) {
        again = true;
        return;
      }
      clearTimeout(timer);
      running = true;
      try {
        await fn();
        if (c.alive) clearError(key);
      } catch (e) {
        if (c.alive) setError(key, e);
      } finally {
        running = false;
      }
      if (!c.alive) return;
      if (again) {
        again = false;
        run();
        return;
      }
      if (ms > 0) timer = setTimeout(run, ms);
    };
    c.cleanups.push(() => clearTimeout(timer));
    run();
    return run;
  }

  function pageRoot(name, title, ...kids) {
    const root = h('section', { class: 'page', testid: 'page-' + name, 'data-loaded': '0' },
      title ? h('h1', null, title) : null, ...kids);
    $('#app').replaceChildren(root);
    return root;
  }

  const loaded = (root) => root.setAttribute('data-loaded', '1');

  function table(testid, columns, opts = {}) {
    const thead = h('thead', null, h('tr', null, columns.map((c) =>
      h('th', { class: c.num ? 'num' : null, 'data-col': c.key }, c.label))));
    const tbody = h('tbody');
    const t = h('table', { testid, class: 'grid ' + (opts.class || '') }, thead, tbody);
    return { el: t, tbody, thead };
  }

  function emptyRow(tbody, colspan, text) {
    tbody.append(h('tr', { class: 'empty' }, h('td', { colspan }, text)));
  }

  // -- charts ------------------------------------------------------------------

  const COLORS = ['#1f5fbf', '#c0392b', '#2e8b57', '#8e44ad', '#d35400'];

  // A time chart with one line per dataset. The canvas carries
  // data-points (finite points of its first line, now) and
  // data-series-points (how many came from /api/series when it loaded).
  class TimeChart {
    constructor(canvas, labels, yfmt) {
      this.canvas = canvas;
      this.labels = labels;
      this.data = labels.map(() => []);
      this.max = 3600;
      this.fmt = yfmt || ((v) => num(v));
      this.chart = null;
      if (typeof window.Chart !== 'function') {
        setError('chart', 'Chart.js did not load (/chart.js): charts are off');
      } else {
        this.chart = new window.Chart(canvas, {
          type: 'line',
          data: {
            datasets: labels.map((label, i) => ({
              label,
              data: this.data[i],
              borderColor: COLORS[i % COLORS.length],
              backgroundColor: COLORS[i % COLORS.length],
              borderWidth: 1.5,
              pointRadius: 0,
              pointHitRadius: 6,
              tension: 0,
            })),
          },
          options: {
            animation: false,
            responsive: true,
            maintainAspectRatio: false,
            parsing: false,
            normalized: true,
            interaction: { mode: 'nearest', axis: 'x', intersect: false },
            scales: {
              x: {
                type: 'linear',
                ticks: { maxTicksLimit: 5, maxRotation: 0, callback: (v) => clock(v) },
              },
              y: {
                beginAtZero: true,
                ticks: { maxTicksLimit: 5, callback: (v) => this.fmt(v) },
              },
            },
            plugins: {
              legend: { display: labels.length > 1, labels: { boxWidth: 10 } },
              tooltip: {
                callbacks: {
                  title: (items) => (items.length ? clock(items[0].parsed.x, true) : ''),
                  label: (it) => `${it.dataset.label}: ${this.fmt(it.parsed.y)}`,
                },
              },
            },
          },
        });
      }
      this.mark();
    }

    static point(t, v) {
      return { x: t, y: isNum(v) ? v : NaN };
    }

    // `series`: one [[t, v], ...] (or undefined) per line.
    load(series, capacity) {
      if (isNum(capacity) && capacity > 0) this.max = capacity;
      series.forEach((pts, i) => {
        const arr = this.data[i];
        arr.length = 0;
        for (const p of Array.isArray(pts) ? pts : []) {
          if (Array.isArray(p) && p.length >= 2 && isNum(p[0])) arr.push(TimeChart.point(p[0], p[1]));
        }
        arr.sort((a, b) => a.x - b.x);
      });
      this.canvas.setAttribute('data-series-points', String(this.finite(0)));
      this.update();
    }

    // One value per line at time t (values already shown are skipped).
    append(t, values) {
      if (!isNum(t)) return;
      values.forEach((v, i) => {
        const arr = this.data[i];
        if (arr.length && arr[arr.length - 1].x >= t) return;
        arr.push(TimeChart.point(t, v));
        if (arr.length > this.max) arr.splice(0, arr.length - this.max);
      });
      this.update();
    }

    finite(i) {
      return this.data[i].filter((p) => Number.isFinite(p.y)).length;
    }

    mark() {
      this.canvas.setAttribute('data-points', String(this.finite(0)));
      this.canvas.setAttribute('data-lines', String(this.data.length));
    }

    update() {
      this.mark();
      if (!this.chart) return;
      // The x axis spans the data (not rounded to nice bounds).
      let lo = Infinity;
      let hi = -Infinity;
      for (const arr of this.data) {
        if (!arr.length) continue;
        lo = Math.min(lo, arr[0].x);
        hi = Math.max(hi, arr[arr.length - 1].x);
      }
      const x = this.chart.options.scales.x;
      x.min = Number.isFinite(lo) ? lo : undefined;
      x.max = Number.isFinite(hi) && hi > lo ? hi : undefined;
      this.chart.update('none');
    }

    destroy() {
      if (this.chart) this.chart.destroy();
      this.chart = null;
    }
  }

  function chartBox(testid, title, extra) {
    const canvas = h('canvas', { testid, 'aria-label': title, role: 'img' });
    const box = h('div', { class: 'chart-box', testid: testid + '-box' },
      h('div', { class: 'chart-title' }, title, extra || null),
      h('div', { class: 'chart-wrap' }, canvas));
    return { box, canvas };
  }

  // -- page: home ----------------------------------------------------------------

  const CARDS = [
    { key: 'node', label: 'node', field: 'node' },
    { key: 'version', label: 'version', field: 'version' },
    { key: 'uptime', label: 'uptime', field: 'uptime_s', fmt: (v) => duration(isNum(v) ? v * 1000 : v) },
    { key: 'cpu', label: 'CPU', field: 'cpu_percent', fmt: pct },
    { key: 'rss', label: 'RSS', field: 'rss_bytes', fmt: bytes },
    { key: 'actor-count', label: 'actors', field: 'actor_count' },
    { key: 'mailbox-depth', label: 'mailbox depth', field: 'mailbox_depth' },
    { key: 'messages-per-s', label: 'messages/s', field: 'messages_per_s', fmt: (v) => num(v, 1) },
    { key: 'threads', label: 'threads', field: 'threads' },
    { key: 'cores', label: 'cores', field: 'cores' },
    { key: 'nodes', label: 'nodes', field: 'nodes' },
    { key: 'investigating', label: 'investigating', field: 'investigating' },
    { key: 'store', label: 'store', field: 'store' },
  ];

  function pageHome(c) {
    const cards = {};
    const grid = h('div', { class: 'cards', testid: 'overview-cards' }, CARDS.map((d) => {
      const value = h('div', { class: 'card-value num', testid: `overview-${d.key}-value` }, DASH);
      const el = h('div', { class: 'card', testid: 'overview-' + d.key }, h('div', { class: 'card-label' }, d.label), value);
      cards[d.field] = { el, value, d };
      return el;
    }));
    const cpu = chartBox('chart-cpu', 'CPU %');
    const rss = chartBox('chart-rss', 'RSS');
    const msgs = chartBox('chart-messages', 'messages/s');
    const root = pageRoot('home', null, grid, h('div', { class: 'charts' }, cpu.box, rss.box, msgs.box));

    const setCard = (field, v) => {
      const k = cards[field];
      if (!k || v === undefined) return;
      k.value.textContent = k.d.fmt ? k.d.fmt(v) : cell(v);
      k.el.setAttribute('data-value', v === null ? '' : String(v));
    };

    const charts = [
      { chart: new TimeChart(cpu.canvas, ['cpu %'], (v) => num(v, 1)), field: 'cpu_percent' },
      { chart: new TimeChart(rss.canvas, ['rss'], bytes), field: 'rss_bytes' },
      { chart: new TimeChart(msgs.canvas, ['messages/s'], (v) => num(v, 1)), field: 'messages_per_s' },
    ];
    c.cleanups.push(() => charts.forEach((x) => x.chart.destroy()));

    // Samples that arrive before the history is in are kept and replayed.
    let pending = [];
    let history = false;
    const node = currentNode();
    on(c, 'sample', (s) => {
      if (node && s.node && s.node !== node) return;
      for (const x of charts.map((q) => q.field).concat(['actor_count', 'mailbox_depth'])) setCard(x, s[x]);
      if (!history) {
        pending.push(s);
        return;
      }
      for (const x of charts) x.chart.append(s.at, [s[x.field]]);
    });

    poller(c, 'page:series', 0, async () => {
      const r = await api('/api/series', { node: true });
      if (!c.alive) return;
      const series = (r && r.series) || {};
      for (const x of charts) x.chart.load([series[x.field]], r.capacity);
      history = true;
      for (const s of pending) for (const x of charts) x.chart.append(s.at, [s[x.field]]);
      pending = [];
      root.setAttribute('data-series', '1');
    });

    poller(c, 'page:overview', 2000, async () => {
      const o = await api('/api/overview', { node: true });
      if (!c.alive) return;
      for (const d of CARDS) setCard(d.field, o[d.field]);
      loaded(root);
    });
  }

  // -- page: actors ---------------------------------------------------------------

  const ACTOR_COLS = [
    { key: 'id', label: 'id', num: true },
    { key: 'name', label: 'name' },
    { key: 'kind', label: 'kind' },
    { key: 'mailbox_depth', label: 'mailbox', num: true },
    { key: 'processed', label: 'processed', num: true },
    { key: 'enqueued', label: 'enqueued', num: true },
    { key: 'processed_per_s', label: 'msg/s', num: true },
    { key: 'mean_handler_us', label: 'mean µs', num: true },
    { key: 'max_handler_us', label: 'max µs', num: true },
    { key: 'state_bytes', label: 'state', num: true, fmt: bytes },
    { key: 'pending_replies', label: 'pending', num: true },
    { key: 'unanswered_requests', label: 'unanswered', num: true },
    { key: 'parent', label: 'parent', num: true },
    { key: 'detached', label: 'detached' },
    { key: 'in_handler', label: 'in handler' },
  ];

  const actorsView = { sort: null, dir: 'asc', q: '' };

  // null/undefined last in both directions; numbers by value, before text.
  function compareValues(a, b, dir) {
    const na = a === null || a === undefined || a === '';
    const nb = b === null || b === undefined || b === '';
    if (na || nb) return na === nb ? 0 : na ? 1 : -1;
    let r;
    if (typeof a === 'number' && typeof b === 'number') r = a - b;
    else if (typeof a === 'number') r = -1;
    else if (typeof b === 'number') r = 1;
    else r = String(a).localeCompare(String(b), 'en', { numeric: true });
    return dir === 'desc' ? -r : r;
  }

  function pageActors(c) {
    const search = h('input', {
      type: 'search', testid: 'actors-search', placeholder: 'filter by name or kind',
      value: actorsView.q, 'aria-label': 'filter actors',
    });
    const count = h('span', { class: 'muted', testid: 'actors-count' });
    const t = table('actors-table', ACTOR_COLS);
    const root = pageRoot('actors', 'Actors', h('div', { class: 'toolbar' }, search, count),
      h('div', { class: 'scroll' }, t.el));
    let actors = [];

    const headers = [...t.thead.querySelectorAll('th')];
    headers.forEach((th, i) => {
      const col = ACTOR_COLS[i];
      th.classList.add('sortable');
      th.setAttribute('data-testid', 'actors-col-' + col.key);
      th.setAttribute('tabindex', '0');
      th.title = 'sort by ' + col.label;
      th.append(h('span', { class: 'arrow' }));
      const click = () => {
        if (actorsView.sort === col.key) actorsView.dir = actorsView.dir === 'asc' ? 'desc' : 'asc';
        else {
          actorsView.sort = col.key;
          actorsView.dir = col.num ? 'desc' : 'asc';
        }
        draw();
      };
      th.addEventListener('click', click);
      th.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          click();
        }
      });
    });

    function draw() {
      headers.forEach((th, i) => {
        const key = ACTOR_COLS[i].key;
        const active = actorsView.sort === key;
        th.classList.toggle('sorted', active);
        if (active) {
          th.setAttribute('aria-sort', actorsView.dir === 'asc' ? 'ascending' : 'descending');
          th.setAttribute('data-sort-dir', actorsView.dir);
        } else {
          th.removeAttribute('aria-sort');
          th.removeAttribute('data-sort-dir');
        }
        th.querySelector('.arrow').textContent = active ? (actorsView.dir === 'asc' ? ' ▲' : ' ▼') : '';
      });
      const q = actorsView.q.trim().toLowerCase();
      let rows = actors.filter((a) => !q
        || String(a.name ?? '').toLowerCase().includes(q)
        || String(a.kind ?? '').toLowerCase().includes(q));
      if (actorsView.sort) {
        const key = actorsView.sort;
        rows = rows.map((a, i) => ({ a, i }))
          .sort((x, y) => compareValues(x.a[key], y.a[key], actorsView.dir) || x.i - y.i)
          .map((x) => x.a);
      }
      count.textContent = `${rows.length} of ${actors.length} actors`;
      count.setAttribute('data-shown', String(rows.length));
      count.setAttribute('data-total', String(actors.length));
      t.tbody.replaceChildren();
      for (const a of rows) {
        const href = actorHref(a.id ?? a.name);
        const tr = h('tr', {
          testid: 'actor-row', class: 'clickable' + (a.in_handler ? ' busy' : ''),
          'data-actor-id': a.id, 'data-name': a.name,
          onclick: (ev) => {
            if (ev.target.closest('a')) return;
            location.hash = href;
          },
        });
        for (const col of ACTOR_COLS) {
          const v = a[col.key];
          let content;
          if (col.key === 'name') content = link(href, v ?? DASH, { testid: 'actor-link' });
          else if (col.key === 'parent' && v !== null && v !== undefined && v !== 0 && v !== '') content = link(actorHref(v), cell(v));
          else content = col.fmt ? col.fmt(v) : cell(v);
          tr.append(h('td', {
            class: col.num ? 'num' : null, 'data-col': col.key,
            'data-value': v === undefined || v === null ? '' : (typeof v === 'object' ? JSON.stringify(v) : String(v)),
          }, content));
        }
        t.tbody.append(tr);
      }
      if (!rows.length) emptyRow(t.tbody, ACTOR_COLS.length, actors.length ? 'no actor matches the filter' : 'no tracked actors');
    }

    search.addEventListener('input', () => {
      actorsView.q = search.value;
      draw();
    });

    poller(c, 'page:actors', 2000, async () => {
      const r = await api('/api/actors', { node: true });
      if (!c.alive) return;
      actors = Array.isArray(r && r.actors) ? r.actors : [];
      draw();
      loaded(root);
    });
  }

  // -- page: actor detail ----------------------------------------------------------

  function kvTable(testid, obj) {
    const t = h('table', { class: 'kv', testid });
    for (const [k, v] of Object.entries(obj || {})) {
      let val;
      if (v !== null && typeof v === 'object') val = h('pre', { class: 'inline-json' }, json(v));
      else if (k === 'parent' && v) val = link(actorHref(v), cell(v));
      else val = cell(v);
      t.append(h('tr', { 'data-key': k }, h('th', null, k),
        h('td', { class: typeof v === 'number' ? 'num' : null, 'data-value': typeof v === 'object' ? null : String(v) }, val)));
    }
    return t;
  }

  function pageActor(c, id) {
    const title = h('h1', null, 'Actor ', h('span', { class: 'mono' }, id));
    const info = h('div', { testid: 'actor-info' });
    const stateBox = h('div', { testid: 'actor-state-box' });
    const root = pageRoot('actor', null, h('div', { class: 'crumbs' }, link('#/actors', '← actors')), title,
      h('div', { class: 'two-col' },
        h('div', null, h('h2', null, 'Counters'), info),
        h('div', null, h('h2', null, 'State (get_state)'), stateBox)));
    root.setAttribute('data-actor', id);

    poller(c, 'page:actor', 2000, async () => {
      let r;
      try {
        r = await api('/api/actors/' + encodeURIComponent(id), { node: true });
      } catch (e) {
        if (e.status === 404 && c.alive) {
          info.replaceChildren(h('p', { class: 'notice', testid: 'actor-missing' }, `no actor "${id}" (it may have exited)`));
          stateBox.replaceChildren();
        }
        throw e;
      }
      if (!c.alive) return;
      const a = (r && r.info) || {};
      title.replaceChildren('Actor ', h('span', { class: 'mono' }, a.name ?? id),
        a.id !== undefined ? h('span', { class: 'muted' }, ` #${a.id}`) : null,
        a.kind ? h('span', { class: 'muted' }, ` (${a.kind})`) : null);
      info.replaceChildren(kvTable('actor-counters', a));
      if (r.state_error !== null && r.state_error !== undefined && r.state_error !== '') {
        stateBox.replaceChildren(h('div', { class: 'error-box', testid: 'actor-state-error' }, cell(r.state_error)));
      } else if (r.state === null || r.state === undefined) {
        stateBox.replaceChildren(h('p', { class: 'muted', testid: 'actor-state-none' }, 'this actor offers no state view'));
      } else {
        const pre = stateBox.querySelector('pre[data-testid="actor-state"]') || h('pre', { class: 'json', testid: 'actor-state' });
        const text = json(r.state);
        if (pre.textContent !== text) pre.textContent = text;
        if (!pre.isConnected) stateBox.replaceChildren(pre);
      }
      loaded(root);
    });
  }

  // -- page: supervision --------------------------------------------------------

  const openHistories = new Set();

  function lastRestart(child) {
    const hist = Array.isArray(child.history) ? child.history : [];
    let best = null;
    for (const x of hist) if (!best || (isNum(x.at_ms) && x.at_ms >= (best.at_ms ?? -Infinity))) best = x;
    return best;
  }

  function renderTree(t, path) {
    const key = path + '/' + (t.name ?? '');
    const children = Array.isArray(t.children) ? t.children : [];
    const head = h('div', { class: 'tree-head' },
      h('strong', { class: 'mono' }, t.name ?? DASH),
      t.actor ? link(actorHref(t.actor), ` #${t.actor}`, { class: 'muted' }) : null,
      ' ', badge(t.state),
      h('span', { class: 'fact' }, 'strategy ', h('b', { testid: 'tree-strategy' }, t.strategy ?? DASH)),
      h('span', { class: 'fact' }, 'intensity ', h('b', { class: 'num' }, `${cell(t.intensity)} / ${duration(t.period_ms)}`)),
      h('span', { class: 'fact' }, 'restarts in period ', h('b', { class: 'num', testid: 'tree-restarts' }, cell(t.restarts_in_period))),
      h('span', { class: 'fact' }, 'up ', h('b', { class: 'num' }, duration(t.uptime_ms))));
    const list = h('ul', { class: 'children' });
    for (const ch of children) {
      const last = lastRestart(ch);
      const hkey = key + '/' + ch.id;
      const hist = Array.isArray(ch.history) ? ch.history : [];
      let histEl = null;
      if (hist.length) {
        histEl = h('details', { class: 'history' }, h('summary', null, `history (${hist.length})`),
          h('ul', null, hist.map((x) => h('li', null, h('span', { class: 'num' }, duration(x.at_ms)), ' ', x.reason ?? DASH))));
        if (openHistories.has(hkey)) histEl.open = true;
        histEl.addEventListener('toggle', () => {
          if (histEl.open) openHistories.add(hkey);
          else openHistories.delete(hkey);
        });
      }
      const li = h('li', { testid: 'supervision-child', 'data-child-id': ch.id, 'data-status': ch.status, 'data-restarts': ch.restarts },
        h('div', { class: 'child-line' },
          badge(ch.status),
          h('span', { class: 'mono child-id' }, ch.id ?? DASH),
          ch.actor ? link(actorHref(ch.actor), `#${ch.actor}`, { class: 'muted' }) : h('span', { class: 'muted' }, 'not running'),
          h('span', { class: 'fact' }, ch.type ?? ''),
          h('span', { class: 'fact' }, ch.restart ?? ''),
          h('span', { class: 'fact' }, 'restarts ', h('b', { class: 'num', testid: 'child-restarts' }, cell(ch.restarts))),
          last ? h('span', { class: 'reason', testid: 'child-last-reason', title: 'last restart reason' }, '↻ ', last.reason ?? DASH) : null),
        histEl,
        ch.tree_error ? h('div', { class: 'error-box' }, 'tree: ', cell(ch.tree_error)) : null,
        ch.tree && typeof ch.tree === 'object' ? renderTree(ch.tree, hkey) : null);
      list.append(li);
    }
    if (!children.length) list.append(h('li', { class: 'muted' }, 'no children'));
    return h('div', { class: 'tree', testid: 'supervision-tree', 'data-name': t.name, 'data-children': String(children.length) }, head, list);
  }

  function pageSupervision(c) {
    const trees = h('div', { testid: 'supervision-trees' });
    const crashing = h('div');
    const gaveUp = h('div');
    const root = pageRoot('supervision', 'Supervision', trees, crashing, gaveUp);

    const refresh = poller(c, 'page:supervision', 3000, async () => {
      const r = await api('/api/supervision', { node: true });
      if (!c.alive) return;
      const list = Array.isArray(r && r.trees) ? r.trees : [];
      trees.replaceChildren(...list.map((t, i) => renderTree(t, String(i))));
      if (!list.length) trees.append(h('p', { class: 'muted' }, r && r.error ? `error: ${r.error}` : 'no supervision trees'));
      crashing.replaceChildren();
      const cc = Array.isArray(r.crashing_children) ? r.crashing_children : [];
      if (cc.length) {
        const t = table('crashing-children', [
          { key: 'supervisor', label: 'supervisor' }, { key: 'child', label: 'child' },
          { key: 'crashes_in_window', label: 'in window', num: true }, { key: 'crashes', label: 'crashes', num: true },
          { key: 'last_reason', label: 'last reason' }, { key: 'last_ago_ms', label: 'last', num: true }]);
        for (const x of cc) {
          t.tbody.append(h('tr', null, h('td', null, cell(x.supervisor)), h('td', { class: 'mono' }, cell(x.child)),
            h('td', { class: 'num' }, cell(x.crashes_in_window)), h('td', { class: 'num' }, cell(x.crashes)),
            h('td', null, cell(x.last_reason)), h('td', { class: 'num' }, isNum(x.last_ago_ms) ? duration(x.last_ago_ms) + ' ago' : DASH)));
        }
        crashing.append(h('h2', null, 'Crashing children', isNum(r.window_ms) ? h('span', { class: 'muted' }, ` (window ${duration(r.window_ms)})`) : null), t.el);
      }
      gaveUp.replaceChildren();
      const gu = Array.isArray(r.gave_up) ? r.gave_up : [];
      if (gu.length) {
        const t = table('gave-up', [
          { key: 'supervisor', label: 'supervisor' }, { key: 'child', label: 'child' }, { key: 'reason', label: 'reason' },
          { key: 'restarts', label: 'restarts', num: true }, { key: 'intensity', label: 'intensity', num: true },
          { key: 'ago_ms', label: 'when', num: true }]);
        for (const x of gu) {
          t.tbody.append(h('tr', null, h('td', null, cell(x.supervisor)), h('td', { class: 'mono' }, cell(x.child)),
            h('td', null, cell(x.reason)), h('td', { class: 'num' }, cell(x.restarts)),
            h('td', { class: 'num' }, `${cell(x.intensity)} / ${duration(x.period_ms)}`),
            h('td', { class: 'num' }, isNum(x.ago_ms) ? duration(x.ago_ms) + ' ago' : DASH)));
        }
        gaveUp.append(h('h2', null, 'Supervisors that gave up'), t.el);
      }
      root.setAttribute('data-trees', String(list.length));
      loaded(root);
    });
    on(c, 'telemetry', (ev) => {
      const name = String((ev && (ev.event ?? ev.name)) || '');
      if (name.includes('supervisor')) refresh();
    });
  }

  // -- page: metrics ----------------------------------------------------------------

  const metricsView = { selected: null, q: '' };

  function seriesKey(m) {
    const tags = m.tags && typeof m.tags === 'object' ? m.tags : {};
    return `${m.metric}{${Object.keys(tags).sort().map((k) => `${k}=${tags[k]}`).join(',')}}`;
  }

  const isDistribution = (m) => m.kind === 'distribution' || (m.recent && typeof m.recent === 'object');

  function pageMetrics(c) {
    const search = h('input', { type: 'search', testid: 'metrics-search', placeholder: 'filter by name or tag', value: metricsView.q });
    const t = table('metrics-table', [
      { key: 'metric', label: 'metric' }, { key: 'kind', label: 'kind' }, { key: 'tags', label: 'tags' },
      { key: 'value', label: 'value', num: true }, { key: 'updates', label: 'updates', num: true },
      { key: 'count', label: 'recent n', num: true }, { key: 'p50', label: 'p50', num: true },
      { key: 'p95', label: 'p95', num: true }, { key: 'p99', label: 'p99', num: true }]);
    const chartArea = h('div', { testid: 'metric-chart-area' });
    const root = pageRoot('metrics', 'Metrics', h('div', { class: 'toolbar' }, search,
      h('span', { class: 'muted' }, 'click a row for its chart')), chartArea, h('div', { class: 'scroll' }, t.el));
    let metrics = [];
    let chart = null;
    let chartKey = null;

    function setupChart() {
      const sel = metrics.find((m) => seriesKey(m) === metricsView.selected);
      if (!sel) {
        if (chart) chart.destroy();
        chart = null;
        chartKey = null;
        chartArea.replaceChildren(h('p', { class: 'muted' }, metricsView.selected ? '' : 'no metric selected'));
        return;
      }
      const key = seriesKey(sel);
      if (chartKey === key && chart) return;
      if (chart) chart.destroy();
      const dist = isDistribution(sel);
      const missing = h('div', { class: 'notice', testid: 'metric-chart-missing', hidden: true });
      const cb = chartBox('metric-chart', key, missing);
      cb.canvas.setAttribute('data-series-key', key);
      chartArea.replaceChildren(cb.box);
      chart = new TimeChart(cb.canvas, dist ? ['p50', 'p95', 'p99'] : ['value'], (v) => num(v, 3));
      chart.keys = dist ? [key + ':p50', key + ':p95', key + ':p99'] : [key];
      chart.missing = missing;
      chartKey = key;
      refreshSeries();
    }
    c.cleanups.push(() => chart && chart.destroy());

    function draw() {
      const q = metricsView.q.trim().toLowerCase();
      t.tbody.replaceChildren();
      let shown = 0;
      for (const m of metrics) {
        const key = seriesKey(m);
        if (q && !key.toLowerCase().includes(q) && !tagsText(m.tags).toLowerCase().includes(q)) continue;
        ++shown;
        const r = m.recent && typeof m.recent === 'object' ? m.recent : {};
        const tr = h('tr', {
          testid: 'metric-row', class: 'clickable' + (key === metricsView.selected ? ' selected' : ''),
          'data-metric': m.metric, 'data-series-key': key, 'aria-selected': key === metricsView.selected ? 'true' : 'false',
          onclick: () => {
            metricsView.selected = key;
            draw();
            setupChart();
          },
        },
        h('td', { class: 'mono' }, cell(m.metric)), h('td', null, cell(m.kind)), h('td', { class: 'mono' }, tagsText(m.tags)),
        h('td', { class: 'num' }, num(m.value, 3)), h('td', { class: 'num' }, cell(m.updates)),
        h('td', { class: 'num' }, cell(r.count)), h('td', { class: 'num' }, num(r.p50, 3)),
        h('td', { class: 'num' }, num(r.p95, 3)), h('td', { class: 'num' }, num(r.p99, 3)));
        t.tbody.append(tr);
      }
      if (!shown) emptyRow(t.tbody, 9, metrics.length ? 'no metric matches the filter' : 'no metrics');
      root.setAttribute('data-metrics', String(metrics.length));
    }

    search.addEventListener('input', () => {
      metricsView.q = search.value;
      draw();
    });

    const refreshSeries = poller(c, 'page:metric-series', 3000, async () => {
      if (!chart) return;
      const r = await api('/api/series', { node: true });
      if (!c.alive || !chart) return;
      const series = (r && r.series) || {};
      const absent = chart.keys.filter((k) => !(k in series));
      chart.missing.hidden = absent.length === 0;
      chart.missing.textContent = absent.length ? ` — /api/series has no ${absent.map((k) => `"${k}"`).join(', ')}` : '';
      chart.load(chart.keys.map((k) => series[k]), r.capacity);
    });

    poller(c, 'page:metrics', 3000, async () => {
      const r = await api('/api/metrics', { node: true });
      if (!c.alive) return;
      metrics = Array.isArray(r && r.metrics) ? r.metrics : [];
      draw();
      setupChart();
      loaded(root);
    });
  }

  // -- page: investigations ----------------------------------------------------------

  // Survives navigation: the dashboard's own investigation.
  const inv = { state: 'idle', reason: '', error: null, result: null, insights: null, insightsError: null, startedAt: 0 };
  const invListeners = new Set();
  const invChanged = () => invListeners.forEach((f) => f());

  async function fetchResultInsights(traceId) {
    // The store writes in batches: the detail may lag the event a little.
    for (let i = 0; i < 15; ++i) {
      if (!inv.result || inv.result.trace_id !== traceId) return;
      try {
        const d = await api('/api/investigations/' + encodeURIComponent(traceId));
        const ins = d && d.result && Array.isArray(d.result.insights) ? d.result.insights : [];
        if (inv.result && inv.result.trace_id === traceId) {
          inv.insights = ins;
          inv.insightsError = null;
          invChanged();
        }
        return;
      } catch (e) {
        if (e.status !== 404 || i === 14) {
          inv.insightsError = e.message;
          invChanged();
          return;
        }
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  listeners.investigation.add((d) => {
    if (d && typeof d.error === 'string' && d.error) {
      inv.state = 'failed';
      inv.error = d.error;
      inv.result = null;
    } else {
      inv.state = 'done';
      inv.error = null;
      inv.result = d || {};
      inv.insights = null;
      inv.insightsError = null;
      if (inv.result.trace_id) fetchResultInsights(inv.result.trace_id);
    }
    invChanged();
  });

  function insightCulprits(i) {
    return Array.isArray(i.culprits) ? i.culprits.map(String) : [];
  }

  function renderInvStatus(statusEl, resultEl, button) {
    statusEl.setAttribute('data-state', inv.state);
    button.disabled = inv.state === 'starting' || inv.state === 'running';
    if (inv.state === 'idle') statusEl.textContent = '';
    else if (inv.state === 'starting') statusEl.textContent = 'starting…';
    else if (inv.state === 'running') statusEl.textContent = `running… (${inv.reason ? `"${inv.reason}"` : 'no reason given'})`;
    else if (inv.state === 'failed') statusEl.textContent = 'failed: ' + (inv.error || 'unknown error');
    else if (inv.state === 'done') statusEl.textContent = 'done';
    resultEl.replaceChildren();
    resultEl.hidden = !inv.result;
    if (!inv.result) return;
    const r = inv.result;
    resultEl.setAttribute('data-trace-id', r.trace_id ?? '');
    resultEl.setAttribute('data-pattern', r.pattern ?? '');
    resultEl.setAttribute('data-culprit', r.culprit ?? '');
    resultEl.append(
      h('div', { class: 'result-head' },
        h('span', null, 'pattern ', h('b', { testid: 'result-pattern' }, r.pattern || DASH)),
        h('span', null, 'culprit ', h('b', { class: 'mono', testid: 'result-culprit' }, r.culprit || DASH)),
        r.trace_id ? link(invHref(r.trace_id), 'details →', { testid: 'investigation-result-link' }) : null),
      h('p', { testid: 'result-summary' }, r.summary || DASH));
    if (inv.insights) {
      const ul = h('ul', { class: 'insights-brief' });
      for (const i of inv.insights) {
        ul.append(h('li', {
          testid: 'investigation-result-insight', 'data-pattern': i.pattern ?? '',
          'data-culprits': insightCulprits(i).join(','),
        }, badge(i.severity), ' ', h('b', null, i.pattern ?? DASH), ' — ', insightCulprits(i).join(', ') || DASH,
        i.summary ? h('span', { class: 'muted' }, ' · ' + i.summary) : null));
      }
      if (!inv.insights.length) ul.append(h('li', { class: 'muted' }, 'no insights'));
      resultEl.append(ul);
    } else if (inv.insightsError) {
      resultEl.append(h('div', { class: 'error-box' }, 'insights: ' + inv.insightsError));
    } else if (r.trace_id) {
      resultEl.append(h('p', { class: 'muted' }, 'loading insights…'));
    }
  }

  const invView = { pattern: '', culprit: '', limit: '50' };

  function pageInvestigations(c) {
    const reason = h('input', { type: 'text', testid: 'investigate-reason', placeholder: 'what is wrong? (e.g. workers keep crashing)', value: inv.reason, size: 50, required: true, 'aria-label': 'reason' });
    const button = h('button', { type: 'submit', testid: 'investigate-button', class: 'primary' }, 'Investigate');
    const status = h('span', { testid: 'investigation-status', class: 'status' });
    const result = h('div', { testid: 'investigation-result', class: 'result', hidden: true });
    const form = h('form', { testid: 'investigate-form', class: 'toolbar' }, reason, button, status);
    const running = h('div', { testid: 'investigations-running', class: 'muted' });
    const fPattern = h('input', { type: 'search', testid: 'investigations-filter-pattern', placeholder: 'pattern (exact)', value: invView.pattern });
    const fCulprit = h('input', { type: 'search', testid: 'investigations-filter-culprit', placeholder: 'culprit contains', value: invView.culprit });
    const fLimit = h('select', { testid: 'investigations-filter-limit' }, ['20', '50', '200'].map((n) => h('option', { value: n }, n)));
    fLimit.value = invView.limit;
    const t = table('investigations-table', [
      { key: 'started_at', label: 'started' }, { key: 'trace_id', label: 'trace' }, { key: 'trigger', label: 'trigger' },
      { key: 'severity', label: 'severity' }, { key: 'pattern', label: 'pattern' }, { key: 'culprit', label: 'culprit' },
      { key: 'summary', label: 'summary' }, { key: 'duration', label: 'took', num: true }, { key: 'tokens', label: 'tokens', num: true },
      { key: 'cost_usd', label: 'cost $', num: true }]);
    const storeNote = h('p', { class: 'notice', testid: 'investigations-no-store', hidden: true }, 'no store: investigations are not kept (start with a store to list them)');
    const root = pageRoot('investigations', 'Investigations',
      h('h2', null, 'New investigation'), form, result,
      h('h2', null, 'Stored investigations'), running,
      h('div', { class: 'toolbar' }, fPattern, fCulprit, h('label', null, 'limit ', fLimit)), storeNote,
      h('div', { class: 'scroll' }, t.el));

    const show = () => renderInvStatus(status, result, button);
    invListeners.add(show);
    c.cleanups.push(() => invListeners.delete(show));
    show();

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      inv.reason = reason.value.trim();
      inv.state = 'starting';
      inv.error = null;
      inv.result = null;
      inv.insights = null;
      inv.startedAt = Date.now();
      invChanged();
      try {
        await api('/api/investigations', { method: 'POST', body: { reason: inv.reason } });
        if (inv.state === 'starting') inv.state = 'running';
        clearError('page:investigate');
      } catch (e) {
        inv.state = 'failed';
        inv.error = e.message;
        setError('page:investigate', e);
      }
      invChanged();
      refresh();
    });

    const refresh = poller(c, 'page:investigations', 5000, async () => {
      const qs = new URLSearchParams();
      if (invView.pattern.trim()) qs.set('pattern', invView.pattern.trim());
      if (invView.culprit.trim()) qs.set('culprit', invView.culprit.trim());
      qs.set('limit', invView.limit);
      const r = await api('/api/investigations?' + qs.toString());
      if (!c.alive) return;
      storeNote.hidden = r.store !== false;
      running.replaceChildren();
      if (r.running !== undefined && r.running !== null) {
        const text = typeof r.running === 'string' ? r.running : JSON.stringify(r.running);
        running.append(h('details', null, h('summary', null, 'coordinator status'), h('pre', { class: 'json' }, typeof r.running === 'string' ? text : json(r.running))));
      }
      const list = Array.isArray(r.investigations) ? r.investigations : [];
      t.tbody.replaceChildren();
      for (const x of list) {
        const took = isNum(x.finished_at) && isNum(x.started_at) ? duration(x.finished_at - x.started_at) : DASH;
        const tokens = isNum(x.input_tokens) || isNum(x.output_tokens) ? (x.input_tokens || 0) + (x.output_tokens || 0) : null;
        t.tbody.append(h('tr', { testid: 'investigation-row', 'data-trace-id': x.trace_id, 'data-pattern': x.pattern ?? '', 'data-culprit': x.culprit ?? '' },
          h('td', { class: 'num' }, when(x.started_at)),
          h('td', { class: 'mono' }, link(invHref(x.trace_id), x.trace_id ?? DASH)),
          h('td', null, cell(x.trigger)),
          h('td', null, badge(x.severity)),
          h('td', null, cell(x.pattern)),
          h('td', { class: 'mono' }, cell(x.culprit)),
          h('td', { class: 'summary' }, cell(x.summary), x.partial ? h('span', { class: 'badge warning' }, 'partial') : null),
          h('td', { class: 'num' }, took),
          h('td', { class: 'num' }, cell(tokens)),
          h('td', { class: 'num' }, isNum(x.cost_usd) ? x.cost_usd.toFixed(4) : DASH)));
      }
      if (!list.length) emptyRow(t.tbody, 10, 'no investigations');
      root.setAttribute('data-count', String(list.length));
      loaded(root);
    });

    // The store writes the result a moment after the event: ask again then.
    let later = null;
    c.cleanups.push(() => clearTimeout(later));
    on(c, 'investigation', () => {
      refresh();
      clearTimeout(later);
      later = setTimeout(refresh, 1500);
    });
    let debounce = null;
    const filterChanged = () => {
      invView.pattern = fPattern.value;
      invView.culprit = fCulprit.value;
      invView.limit = fLimit.value;
      clearTimeout(debounce);
      debounce = setTimeout(refresh, 250);
    };
    c.cleanups.push(() => clearTimeout(debounce));
    fPattern.addEventListener('input', filterChanged);
    fCulprit.addEventListener('input', filterChanged);
    fLimit.addEventListener('change', filterChanged);
  }

  // -- page: investigation detail -------------------------------------------------------

  function listCell(xs) {
    if (!Array.isArray(xs) || !xs.length) return DASH;
    return h('ul', { class: 'plain' }, xs.map((x) => h('li', null, compact(x))));
  }

  function pageInvestigation(c, traceId) {
    const body = h('div');
    const root = pageRoot('investigation', null, h('div', { class: 'crumbs' }, link('#/investigations', '← investigations')),
      h('h1', null, 'Investigation ', h('span', { class: 'mono' }, traceId)), body);
    root.setAttribute('data-trace-id', traceId);

    // A result just announced may not be in the store yet: a 404 is shown
    // and asked again every second for a while.
    let tries = 0;
    let retry = null;
    c.cleanups.push(() => clearTimeout(retry));
    const run = poller(c, 'page:investigation', 0, async () => {
      let d;
      try {
        d = await api('/api/investigations/' + encodeURIComponent(traceId));
      } catch (e) {
        if (c.alive) {
          body.replaceChildren(h('p', { class: 'notice', testid: 'investigation-missing' },
            e.status === 404 ? 'no such investigation (not stored, or not yet written)' : 'could not load it'));
          if ((e.status === 404 || e.status === 503) && ++tries <= 15) retry = setTimeout(run, 1000);
        }
        throw e;
      }
      if (!c.alive) return;
      const row = d.row || {};
      const res = d.result || {};
      const parts = [];

      parts.push(h('p', { class: 'summary-text', testid: 'investigation-summary' }, res.summary || row.summary || DASH));
      const meta = {};
      for (const k of ['reason', 'trigger', 'node', 'brain', 'severity', 'pattern', 'culprit', 'partial']) if (k in row) meta[k] = row[k];
      if ('started_at' in row) meta.started = when(row.started_at);
      if (isNum(row.finished_at) && isNum(row.started_at)) meta.took = duration(row.finished_at - row.started_at);
      for (const k of ['input_tokens', 'output_tokens', 'cost_usd']) if (k in row) meta[k] = row[k];
      for (const k of ['iterations', 'llm_calls', 'llm_retries']) if (k in res) meta[k] = res[k];
      parts.push(kvTable('investigation-meta', meta));

      if (Array.isArray(res.errors) && res.errors.length) {
        parts.push(h('div', { class: 'error-box', testid: 'investigation-errors' }, h('b', null, 'errors: '), res.errors.map(compact).join('; ')));
      }

      // insights
      const insights = Array.isArray(res.insights) ? res.insights : [];
      const it = table('insights-table', [
        { key: 'pattern', label: 'pattern' }, { key: 'severity', label: 'severity' }, { key: 'culprits', label: 'culprits' },
        { key: 'root_cause', label: 'root cause' }, { key: 'evidence', label: 'evidence' }, { key: 'confidence', label: 'confidence' }]);
      for (const i of insights) {
        let evidence;
        if (i.evidence !== undefined && i.evidence !== null) {
          evidence = Array.isArray(i.evidence) ? listCell(i.evidence) : (typeof i.evidence === 'object' ? h('pre', { class: 'inline-json' }, json(i.evidence)) : String(i.evidence));
        } else {
          evidence = h('div', null,
            Array.isArray(i.matched_observations) && i.matched_observations.length ? listCell(i.matched_observations) : null,
            Array.isArray(i.notification_ids) && i.notification_ids.length ? h('div', { class: 'muted' }, 'notifications: ' + i.notification_ids.join(', ')) : null);
        }
        it.tbody.append(h('tr', { testid: 'insight-row', 'data-pattern': i.pattern ?? '', 'data-culprits': insightCulprits(i).join(',') },
          h('td', null, h('b', null, cell(i.pattern)), i.summary ? h('div', { class: 'muted' }, i.summary) : null),
          h('td', null, badge(i.severity)),
          h('td', { class: 'mono' }, insightCulprits(i).join(', ') || DASH),
          h('td', null, cell(i.root_cause)),
          h('td', null, evidence),
          h('td', null, cell(i.confidence), i.grounded ? h('div', { class: 'muted' }, 'grounded') : null)));
      }
      if (!insights.length) emptyRow(it.tbody, 6, 'no insights');
      parts.push(h('h2', null, `Insights (${insights.length})`), h('div', { class: 'scroll' }, it.el));

      // notifications
      const notes = Array.isArray(res.notifications) ? res.notifications : [];
      const nt = table('notifications-table', [
        { key: 'id', label: 'id' }, { key: 'skill', label: 'skill' }, { key: 'anomaly_type', label: 'anomaly' },
        { key: 'severity', label: 'severity' }, { key: 'actors', label: 'actors' }, { key: 'observation', label: 'observation' },
        { key: 'hypothesis', label: 'hypothesis' }, { key: 'context', label: 'context' }, { key: 'snapshot_ids', label: 'snapshots' },
        { key: 'detected_at', label: 'detected' }]);
      for (const n of notes) {
        nt.tbody.append(h('tr', { testid: 'notification-row', 'data-anomaly': n.anomaly_type ?? '' },
          h('td', { class: 'mono' }, cell(n.id)), h('td', null, cell(n.skill)), h('td', null, cell(n.anomaly_type)),
          h('td', null, badge(n.severity)), h('td', { class: 'mono' }, cell(n.actors)), h('td', null, cell(n.observation)),
          h('td', null, cell(n.hypothesis)),
          h('td', { class: 'mono details' }, n.context === undefined || n.context === null ? DASH : compact(n.context)),
          h('td', { class: 'mono' }, cell(n.snapshot_ids)), h('td', { class: 'num' }, when(n.detected_at))));
      }
      if (!notes.length) emptyRow(nt.tbody, 10, 'no notifications');
      parts.push(h('h2', null, `Notifications (${notes.length})`), h('div', { class: 'scroll' }, nt.el));

      // operators
      const ops = Array.isArray(res.operators) ? res.operators : [];
      if (ops.length) {
        const ot = table('operators-table', [
          { key: 'skill', label: 'skill' }, { key: 'node', label: 'node' }, { key: 'state', label: 'state' },
          { key: 'iterations', label: 'iterations', num: true }, { key: 'stop_reason', label: 'stopped' },
          { key: 'error', label: 'error' }, { key: 'restarts', label: 'restarts', num: true },
          { key: 'llm_calls', label: 'model calls', num: true }, { key: 'duration_us', label: 'took', num: true }, { key: 'summary', label: 'summary' }]);
        for (const o of ops) {
          ot.tbody.append(h('tr', { testid: 'operator-row' },
            h('td', null, cell(o.skill)), h('td', null, cell(o.node)), h('td', null, badge(o.state)),
            h('td', { class: 'num' }, cell(o.iterations)), h('td', null, cell(o.stop_reason)), h('td', null, o.error ? cell(o.error) : DASH),
            h('td', { class: 'num' }, cell(o.restarts)), h('td', { class: 'num' }, cell(o.llm_calls)),
            h('td', { class: 'num' }, isNum(o.duration_us) ? duration(o.duration_us / 1000) : DASH), h('td', null, cell(o.summary))));
        }
        parts.push(h('h2', null, `Operators (${ops.length})`), h('div', { class: 'scroll' }, ot.el));
      }

      // actions
      const acts = Array.isArray(res.actions) ? res.actions : [];
      if (acts.length) {
        const at = table('actions-table', [{ key: 'id', label: 'id' }, { key: 'action', label: 'action' }, { key: 'status', label: 'status' },
          { key: 'args', label: 'args' }, { key: 'reason', label: 'reason' }, { key: 'result', label: 'result' }]);
        for (const a of acts) {
          at.tbody.append(h('tr', null, h('td', { class: 'mono' }, cell(a.id)), h('td', null, cell(a.action)), h('td', null, badge(a.status)),
            h('td', { class: 'mono' }, cell(a.args)), h('td', null, cell(a.reason)), h('td', { class: 'mono' }, cell(a.result))));
        }
        parts.push(h('h2', null, `Actions (${acts.length})`), at.el);
      }

      // snapshots
      const snaps = Array.isArray(d.snapshots) ? d.snapshots : [];
      const snapBox = h('div', { testid: 'snapshots' });
      for (const s of snaps) {
        const pre = h('pre', { class: 'json' });
        const det = h('details', { testid: 'snapshot', 'data-skill': s.skill ?? '' },
          h('summary', null, h('span', { class: 'mono' }, cell(s.id)), ' · ', cell(s.skill), ' · ', cell(s.node), ' · ', when(s.captured_at)), pre);
        det.addEventListener('toggle', () => {
          if (det.open && !pre.textContent) pre.textContent = typeof s.data === 'string' ? s.data : json(s.data);
        });
        snapBox.append(det);
      }
      if (!snaps.length) snapBox.append(h('p', { class: 'muted' }, 'no snapshots'));
      parts.push(h('h2', null, `Snapshots (${snaps.length})`), snapBox);

      // timeline: the store's rows {time_ns, event, measurements, metadata}
      const tl = Array.isArray(d.timeline) ? d.timeline : [];
      // A call's stop (or exception) carries its duration: one row per call.
      const isCall = (e) => /\.(tool|llm)\./.test(String(e.event ?? '')) && !/\.start$/.test(String(e.event ?? ''));
      const onlyCalls = h('input', { type: 'checkbox', testid: 'timeline-calls-only' });
      onlyCalls.checked = tl.some(isCall);
      const tt = table('timeline-table', [{ key: 'at', label: 'at', num: true }, { key: 'event', label: 'event' },
        { key: 'who', label: 'operator / node' }, { key: 'what', label: 'tool / model' },
        { key: 'duration', label: 'duration', num: true }, { key: 'details', label: 'details' }]);
      const t0 = tl.length && isNum(tl[0].time_ns) ? tl[0].time_ns : null;
      const shown = ['intent', 'iteration', 'skill', 'operator', 'node', 'tool_name', 'tool', 'name', 'model', 'trace_id'];
      const fill = () => {
        tt.tbody.replaceChildren();
        let n = 0;
        for (const e of tl) {
          if (onlyCalls.checked && !isCall(e)) continue;
          ++n;
          const md = e.metadata && typeof e.metadata === 'object' ? e.metadata : {};
          const ms = e.measurements && typeof e.measurements === 'object' ? e.measurements : {};
          const rest = {};
          for (const [k, v] of Object.entries(md)) if (!shown.includes(k)) rest[k] = v;
          for (const [k, v] of Object.entries(ms)) if (!/time$|^duration$/.test(k)) rest[k] = v;
          const detail = Object.keys(rest).length ? JSON.stringify(rest) : '';
          const at = isNum(e.time_ns) && t0 !== null ? '+' + duration((e.time_ns - t0) / 1e6) : DASH;
          tt.tbody.append(h('tr', { testid: 'timeline-row', 'data-event': e.event ?? '' },
            h('td', { class: 'num' }, at),
            h('td', { class: 'mono' }, String(e.event ?? DASH).replace(/^caflens\./, '')),
            h('td', null, cell(md.intent ?? md.skill ?? md.operator ?? md.node)
              + (isNum(md.iteration) ? ' #' + md.iteration : '')),
            h('td', { class: 'mono' }, cell(md.tool_name ?? md.tool ?? md.model ?? md.name)),
            h('td', { class: 'num' }, isNum(ms.duration) ? duration(ms.duration / 1e6) : ''),
            h('td', { class: 'mono details', title: detail }, detail.length > 160 ? detail.slice(0, 157) + '...' : detail)));
        }
        if (!n) emptyRow(tt.tbody, 6, 'no timeline events');
      };
      onlyCalls.addEventListener('change', fill);
      fill();
      parts.push(h('h2', null, `Timeline (${tl.length} events)`),
        h('label', { class: 'muted' }, onlyCalls, ' tool and model calls only'),
        h('div', { class: 'scroll' }, tt.el));

      body.replaceChildren(...parts);
      loaded(root);
    });
  }

  // -- page: alerts -------------------------------------------------------------------

  function pageAlerts(c) {
    const rules = table('alert-rules-table', [{ key: 'name', label: 'name' }, { key: 'metric', label: 'metric' },
      { key: 'condition', label: 'condition' }, { key: 'threshold', label: 'threshold', num: true },
      { key: 'for_ms', label: 'for', num: true }, { key: 'description', label: 'description' }]);
    const fired = table('alerts-fired-table', [{ key: 'at', label: 'at' }, { key: 'name', label: 'rule' },
      { key: 'value', label: 'value', num: true }, { key: 'threshold', label: 'threshold', num: true }, { key: 'details', label: 'details' }]);
    const root = pageRoot('alerts', 'Alerts', h('h2', null, 'Fired (newest first)'), h('div', { class: 'scroll' }, fired.el),
      h('h2', null, 'Rules'), h('div', { class: 'scroll' }, rules.el));
    poller(c, 'page:alerts', 3000, async () => {
      const r = await api('/api/alerts');
      if (!c.alive) return;
      const rs = Array.isArray(r && r.rules) ? r.rules : [];
      rules.tbody.replaceChildren();
      for (const x of rs) {
        rules.tbody.append(h('tr', { testid: 'alert-rule-row', 'data-name': x.name },
          h('td', { class: 'mono' }, cell(x.name)), h('td', { class: 'mono' }, cell(x.metric)), h('td', null, cell(x.condition)),
          h('td', { class: 'num' }, num(x.threshold, 3)), h('td', { class: 'num' }, isNum(x.for_ms) ? duration(x.for_ms) : cell(x.for_ms)),
          h('td', null, cell(x.description))));
      }
      if (!rs.length) emptyRow(rules.tbody, 6, 'no alert rules');
      const fs = Array.isArray(r && r.fired) ? r.fired : [];
      fired.tbody.replaceChildren();
      for (const x of fs) {
        fired.tbody.append(h('tr', { testid: 'alert-fired-row', 'data-name': x.name },
          h('td', { class: 'num' }, when(x.at)), h('td', { class: 'mono' }, cell(x.name)),
          h('td', { class: 'num' }, num(x.value, 3)), h('td', { class: 'num' }, num(x.threshold, 3)),
          h('td', { class: 'mono details' }, x.details === undefined ? DASH : compact(x.details))));
      }
      if (!fs.length) emptyRow(fired.tbody, 5, 'no alert fired');
      root.setAttribute('data-rules', String(rs.length));
      root.setAttribute('data-fired', String(fs.length));
      loaded(root);
    });
  }

  // -- page: logs ------------------------------------------------------------------------

  const logsView = { level: '', q: '' };

  function pageLogs(c) {
    const level = h('select', { testid: 'logs-level', 'aria-label': 'level' },
      [['', 'all levels'], ['trace', 'trace'], ['debug', 'debug'], ['info', 'info'], ['warning', 'warning'], ['error', 'error']]
        .map(([v, l]) => h('option', { value: v }, l)));
    level.value = logsView.level;
    const search = h('input', { type: 'search', testid: 'logs-search', placeholder: 'search text', value: logsView.q });
    const count = h('span', { class: 'muted', testid: 'logs-count' });
    const t = table('logs-table', [{ key: 'ago_ms', label: 'ago', num: true }, { key: 'level', label: 'level' },
      { key: 'source', label: 'source' }, { key: 'message', label: 'message' }], { class: 'logs' });
    const root = pageRoot('logs', 'Logs', h('div', { class: 'toolbar' }, level, search, count, h('span', { class: 'muted' }, 'newest first')),
      h('div', { class: 'scroll' }, t.el));
    const refresh = poller(c, 'page:logs', 2000, async () => {
      const qs = new URLSearchParams();
      if (logsView.level) qs.set('level', logsView.level);
      if (logsView.q.trim()) qs.set('q', logsView.q.trim());
      const s = qs.toString();
      const r = await api('/api/logs' + (s ? '?' + s : ''), { node: true });
      if (!c.alive) return;
      const lines = Array.isArray(r && r.lines) ? r.lines : [];
      t.tbody.replaceChildren();
      for (const l of [...lines].reverse()) {
        t.tbody.append(h('tr', { testid: 'log-line', 'data-level': l.level ?? '', class: 'lvl-' + String(l.level ?? '') },
          h('td', { class: 'num' }, isNum(l.ago_ms) ? duration(l.ago_ms) : cell(l.ago_ms)),
          h('td', null, badge(l.level)), h('td', { class: 'mono' }, cell(l.source)), h('td', { class: 'message' }, cell(l.message))));
      }
      if (!lines.length) emptyRow(t.tbody, 4, 'no log lines');
      count.textContent = `${lines.length} lines`;
      root.setAttribute('data-lines', String(lines.length));
      loaded(root);
    });
    let debounce = null;
    c.cleanups.push(() => clearTimeout(debounce));
    level.addEventListener('change', () => {
      logsView.level = level.value;
      refresh();
    });
    search.addEventListener('input', () => {
      logsView.q = search.value;
      clearTimeout(debounce);
      debounce = setTimeout(refresh, 250);
    });
  }

  // -- page: nodes ---------------------------------------------------------------------------

  function pageNodes(c) {
    const t = table('nodes-table', [{ key: 'name', label: 'name' }, { key: 'address', label: 'address' },
      { key: 'state', label: 'state' }, { key: 'version', label: 'version' }, { key: 'skills', label: 'skills' },
      { key: 'last_seen_ms', label: 'last seen', num: true }, { key: 'reason', label: 'reason' }, { key: 'select', label: '' }]);
    const root = pageRoot('nodes', 'Nodes', h('div', { class: 'scroll' }, t.el));
    poller(c, 'page:nodes', 3000, async () => {
      const r = await loadNodes();
      if (!c.alive) return;
      const list = Array.isArray(r && r.nodes) ? r.nodes : [];
      t.tbody.replaceChildren();
      for (const n of list) {
        const ms = toMs(n.last_seen_ms);
        const seen = ms !== null ? when(ms) : isNum(n.last_seen_ms) ? duration(n.last_seen_ms) + ' ago' : cell(n.last_seen_ms);
        const chosen = n.name === currentNode();
        t.tbody.append(h('tr', { testid: 'node-row', 'data-node-name': n.name, 'data-state': n.state ?? '', class: chosen ? 'selected' : null },
          h('td', { class: 'mono' }, cell(n.name)), h('td', { class: 'mono' }, cell(n.address)), h('td', null, badge(n.state)),
          h('td', null, cell(n.version)), h('td', { class: 'skills' }, Array.isArray(n.skills) ? n.skills.join(', ') : cell(n.skills)),
          h('td', { class: 'num' }, seen), h('td', null, n.reason ? cell(n.reason) : ''),
          h('td', null, chosen ? h('span', { class: 'muted' }, 'selected')
            : h('button', { type: 'button', onclick: () => selectNode(n.name) }, 'select'))));
      }
      if (!list.length) emptyRow(t.tbody, 8, 'no nodes');
      root.setAttribute('data-nodes', String(list.length));
      loaded(root);
    });
  }

  // -- node selector ------------------------------------------------------------------------

  async function loadNodes() {
    const r = await api('/api/nodes');
    nodeState.self = r && typeof r.self === 'string' ? r.self : null;
    nodeState.fallback = r && typeof r.default === 'string' && r.default ? r.default : nodeState.self;
    nodeState.nodes = Array.isArray(r && r.nodes) ? r.nodes : [];
    if (nodeState.selected && !nodeState.nodes.some((n) => n.name === nodeState.selected)) {
      nodeState.selected = null;
      sessionStorage.removeItem('caflens.node');
    }
    const sel = $('#node-select');
    const want = currentNode() || '';
    const label = (n) => n.name + (n.state === 'self' ? ' (this node)' : n.state && n.state !== 'connected' ? ` (${n.state})` : '');
    const want_ = nodeState.nodes.map((n) => `${n.name}\t${label(n)}`).join('\n');
    const have = [...sel.options].map((o) => `${o.value}\t${o.textContent}`).join('\n');
    if (want_ !== have) sel.replaceChildren(...nodeState.nodes.map((n) => h('option', { value: n.name }, label(n))));
    sel.value = want;
    return r;
  }

  function selectNode(name) {
    nodeState.selected = name === (nodeState.fallback || nodeState.self) ? null : name;
    if (nodeState.selected) sessionStorage.setItem('caflens.node', nodeState.selected);
    else sessionStorage.removeItem('caflens.node');
    $('#node-select').value = name;
    route();
  }

  // -- router ----------------------------------------------------------------------------------

  const PAGES = {
    home: pageHome,
    actors: pageActors,
    supervision: pageSupervision,
    metrics: pageMetrics,
    investigations: pageInvestigations,
    alerts: pageAlerts,
    logs: pageLogs,
    nodes: pageNodes,
  };

  function route() {
    const raw = location.hash.replace(/^#\/?/, '');
    if (!raw) {
      history.replaceState(null, '', '#/home');
    }
    const [page, ...rest] = (raw || 'home').split('/');
    let arg = null;
    if (rest.length && rest.join('/') !== '') {
      try {
        arg = decodeURIComponent(rest.join('/'));
      } catch (e) {
        arg = rest.join('/');
      }
    }
    const c = newContext();
    clearPageErrors();
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.route === page);
    document.body.setAttribute('data-route', page);
    window.scrollTo(0, 0);
    if (page === 'actors' && arg !== null) return pageActor(c, arg);
    if (page === 'investigations' && arg !== null) return pageInvestigation(c, arg);
    const fn = PAGES[page];
    if (!fn) {
      pageRoot('not-found', 'Not found', h('p', null, 'No page ', h('code', null, '#/' + raw), '. ', link('#/home', 'Go home')));
      return undefined;
    }
    document.title = 'caflens · ' + page;
    return fn(c);
  }

  // -- start ---------------------------------------------------------------------------------------

  function start() {
    $('#node-select').addEventListener('change', (ev) => selectNode(ev.target.value));
    window.addEventListener('hashchange', route);
    connectEvents();
    const nodesTick = async () => {
      try {
        await loadNodes();
        clearError('nodes');
      } catch (e) {
        setError('nodes', e);
      }
    };
    nodesTick().then(() => route());
    setInterval(nodesTick, 10000);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
