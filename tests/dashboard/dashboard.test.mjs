#!/usr/bin/env node
// Headless-browser test of the caflens live dashboard (dashboard/web,
// dashboard/API.md).
//
//   npm ci --prefix tests/dashboard        # once: playwright-core, no browser
//   node tests/dashboard/dashboard.test.mjs --caflens build/apps/caflens/caflens \
//        --artifacts /tmp/dashboard-artifacts [--web-dir dashboard/web]
//
// It starts `caflens demo --scenario error_burst --dashboard -q`, waits for
// the `dashboard: http://127.0.0.1:PORT/` line on its stderr (60 s), and
// drives Debian's Chromium (/usr/bin/chromium, headless, through
// playwright-core; nothing is downloaded) through the dashboard:
//   1. every page renders real data (home cards, actors with a worker-*,
//      an actor's detail, supervision tree with children, metrics and a
//      metric's chart, investigations, alerts rules, logs with its level
//      filter and search, nodes with this node), no error banner and no
//      script error; a screenshot of each;
//   2. sorting the actors table by a numeric column (both directions, kept
//      across the 2 s refresh) and filtering it;
//   3. the investigate form: "running…", then the result with a error_burst
//      insight naming worker-1 (the demo's culprit) within 60 s, its detail
//      page lists that insight, the list shows it;
//   4. chart history survives a reload (points from /api/series at once);
//   5. token auth on a second demo bound to 0.0.0.0 with a token: 401
//      without / with a wrong token, 200 with `Authorization: Bearer`, the
//      browser works after `/?token=` (HttpOnly cookie).
// One line per check; the first failure ends the run with exit code 1.
// Children get SIGTERM, then SIGKILL after 5 s, whatever happens.
// By default the dashboard serves its embedded pages; `--web-dir DIR` sets
// CAFLENS_DASHBOARD_WEB_DIR=DIR for the demos (serve the files of DIR).
// Artifacts: screenshots (*.png) and the demos' output (*.log).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

// -- arguments -----------------------------------------------------------------

function parseArgs(argv) {
  const out = { caflens: null, artifacts: null, webDir: null, chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--caflens') out.caflens = val();
    else if (a === '--artifacts') out.artifacts = val();
    else if (a === '--web-dir') out.webDir = val();
    else if (a === '--chromium') out.chromium = val();
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!out.caflens) usage('--caflens PATH is required');
  if (!fs.existsSync(out.caflens)) usage(`--caflens ${out.caflens}: no such file`);
  if (out.webDir && !fs.existsSync(path.join(out.webDir, 'index.html')))
    usage(`--web-dir ${out.webDir}: no index.html there`);
  if (!out.artifacts) out.artifacts = fs.mkdtempSync(path.join(os.tmpdir(), 'caflens-dashboard-'));
  fs.mkdirSync(out.artifacts, { recursive: true });
  return out;
}

function usage(err) {
  const text = 'usage: node dashboard.test.mjs --caflens PATH [--artifacts DIR] [--web-dir DIR] [--chromium PATH]';
  if (err) {
    console.error(`dashboard test: ${err}\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
const T0 = Date.now();
const secs = (t) => ((Date.now() - t) / 1000).toFixed(1) + ' s';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const artifact = (name) => path.join(opts.artifacts, name);

// -- child processes -----------------------------------------------------------------

const children = new Set();

// Starts `caflens demo --scenario error_burst --dashboard -q ...extra` and
// resolves with {proc, url, port} once the dashboard line is on stderr.
function startDemo(label, extra, hostRe) {
  const args = ['demo', '--scenario', 'error_burst', '--dashboard', '-q', ...extra];
  const env = { ...process.env };
  delete env.CAFLENS_DASHBOARD_WEB_DIR;
  if (opts.webDir) env.CAFLENS_DASHBOARD_WEB_DIR = path.resolve(opts.webDir);
  const proc = spawn(opts.caflens, args, { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
  const child = { label, proc, exited: null };
  children.add(child);
  const out = fs.createWriteStream(artifact(`${label}.stdout.log`));
  const err = fs.createWriteStream(artifact(`${label}.stderr.log`));
  proc.stdout.pipe(out);
  proc.stderr.pipe(err);
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      child.exited = { code, signal };
      resolve(child.exited);
    });
    proc.on('error', (e) => {
      child.exited = { code: null, signal: null, error: e.message };
      resolve(child.exited);
    });
  });
  child.wait = exited;
  return new Promise((resolve, reject) => {
    let buf = '';
    const tail = [];
    const re = new RegExp(`dashboard: (http://(${hostRe}):(\\d+)/)`);
    const timer = setTimeout(() => {
      reject(new Error(`${label}: no "dashboard: http://${hostRe}:PORT/" line on stderr within 60 s `
        + `(\`${opts.caflens} ${args.join(' ')}\`); last stderr: ${JSON.stringify(tail.slice(-5))}`));
    }, 60000);
    proc.stderr.on('data', (chunk) => {
      buf += chunk.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        tail.push(line);
        if (tail.length > 20) tail.shift();
        const m = line.match(re);
        if (m) {
          clearTimeout(timer);
          resolve({ child, url: m[1], host: m[2], port: Number(m[3]) });
        }
      }
    });
    exited.then((x) => {
      clearTimeout(timer);
      reject(new Error(`${label}: exited (${x.error || `code ${x.code}, signal ${x.signal}`}) before the dashboard line; `
        + `last stderr: ${JSON.stringify(tail.slice(-5))}`));
    });
  });
}

// SIGTERM to the child's process group, SIGKILL after 5 s.
async function stopChild(child) {
  if (!children.has(child)) return null;
  children.delete(child);
  const t = Date.now();
  const signal = (sig) => {
    try {
      process.kill(-child.proc.pid, sig);
    } catch (e) {
      try {
        child.proc.kill(sig);
      } catch (e2) { /* gone */ }
    }
  };
  if (child.exited) return { ...child.exited, ms: 0, killed: false, before: true };
  signal('SIGTERM');
  const done = await Promise.race([child.wait, sleep(5000).then(() => null)]);
  if (done) return { ...done, ms: Date.now() - t, killed: false };
  signal('SIGKILL');
  const x = await Promise.race([child.wait, sleep(3000).then(() => ({ code: null, signal: 'SIGKILL?' }))]);
  return { ...x, ms: Date.now() - t, killed: true };
}

function killAllSync() {
  for (const c of children) {
    try {
      process.kill(-c.proc.pid, 'SIGKILL');
    } catch (e) { /* gone */ }
  }
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    console.log(`dashboard test: ${sig}, stopping`);
    await Promise.all([...children].map(stopChild));
    process.exit(130);
  });
}

// -- checks ---------------------------------------------------------------------------

class CheckFailed extends Error {}
const passed = [];

async function check(name, fn) {
  const t = Date.now();
  try {
    const detail = await fn();
    passed.push(name);
    console.log(`PASS ${name} (${secs(t)})${detail ? ' — ' + detail : ''}`);
  } catch (e) {
    console.log(`FAIL ${name} (${secs(t)}): ${e.message}`);
    throw new CheckFailed(name);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// Polls `probe` (async, returns a value) until `ok(value)` or timeout;
// the error names `what` and the last value seen.
async function until(what, probe, ok, timeout = 10000, every = 250) {
  const end = Date.now() + timeout;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await probe();
      lastErr = null;
      if (ok(last)) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= end) break;
    await sleep(every);
  }
  const seen = lastErr ? `error ${lastErr.message}` : JSON.stringify(last);
  throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}; last seen: ${seen && seen.length > 600 ? seen.slice(0, 600) + '…' : seen}`);
}

// -- browser helpers -----------------------------------------------------------------

function watch(page, label) {
  const errs = [];
  page.on('pageerror', (e) => errs.push(`${label}: uncaught ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errs.push(`${label}: console.error ${m.text()}`);
  });
  return errs;
}

async function noScriptErrors(errs) {
  assert(errs.length === 0, `script errors in the page: ${errs.join(' | ')}`);
}

const banner = (page) => page.evaluate(() => {
  const e = document.getElementById('errors');
  return !e || e.hidden ? '' : e.textContent;
});

async function noBanner(page, where) {
  const b = await banner(page);
  assert(!b, `${where}: the page shows an error banner: ${b}`);
}

async function go(page, hash, testid) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await until(`#${hash} to render [data-testid=${testid}] with data`, () => page.evaluate((id) => {
    const el = document.querySelector(`[data-testid="${id}"]`);
    const e = document.getElementById('errors');
    return { loaded: el ? el.getAttribute('data-loaded') : null, banner: !e || e.hidden ? '' : e.textContent };
  }, testid), (v) => v.loaded === '1' || v.banner, 15000);
  await noBanner(page, '#' + hash);
}

async function shot(page, name) {
  await page.screenshot({ path: artifact(name + '.png'), fullPage: true });
}

// -- the run --------------------------------------------------------------------------

async function main() {
  console.log(`dashboard test: ${opts.caflens}${opts.webDir ? ` (pages from ${opts.webDir})` : ' (embedded pages)'}; artifacts in ${opts.artifacts}`);
  let demo;
  await check('demo starts with its dashboard', async () => {
    demo = await startDemo('demo', [], '127\\.0\\.0\\.1');
    return demo.url;
  });
  const base = demo.url;

  const browser = await chromium.launch({ executablePath: opts.chromium, headless: true, args: ['--no-sandbox'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const errs = watch(page, 'dashboard');
    page.setDefaultTimeout(15000);

    // -- 1. pages ----------------------------------------------------------------
    let selfNode = null;
    await check('page home: cards with data', async () => {
      const res = await page.goto(base + '#/home');
      assert(res && res.status() === 200, `GET / answered ${res && res.status()}`);
      await go(page, '/home', 'page-home');
      const v = await until('a positive actor count and an RSS on the cards', () => page.evaluate(() => {
        const val = (k) => document.querySelector(`[data-testid="overview-${k}"]`)?.getAttribute('data-value');
        return { actors: val('actor-count'), rss: val('rss'), node: val('node'), version: val('version'), uptime: val('uptime') };
      }), (x) => Number(x.actors) > 0 && Number(x.rss) > 0, 10000);
      selfNode = v.node;
      assert(v.node, 'the node card is empty');
      assert(v.version, 'the version card is empty');
      await shot(page, 'home');
      await noScriptErrors(errs);
      return `node ${v.node}, version ${v.version}, ${v.actors} actors, RSS ${(Number(v.rss) / 1048576).toFixed(1)} MiB`;
    });

    let workerId = null;
    await check('page actors: table with a worker-*', async () => {
      await go(page, '/actors', 'page-actors');
      const rows = await until('actor rows including a worker-*', () => page.$$eval('[data-testid="actors-table"] [data-testid="actor-row"]',
        (trs) => trs.map((tr) => ({ id: tr.getAttribute('data-actor-id'), name: tr.getAttribute('data-name') }))),
      (xs) => xs.some((x) => (x.name || '').startsWith('worker-')), 10000);
      const workers = rows.filter((x) => (x.name || '').startsWith('worker-'));
      workerId = workers[0].id;
      await shot(page, 'actors');
      await noScriptErrors(errs);
      return `${rows.length} actors, workers: ${workers.map((x) => x.name).join(' ')}`;
    });

    await check('page actor detail: counters and state view', async () => {
      await page.click(`[data-testid="actor-row"][data-actor-id="${workerId}"] [data-testid="actor-link"]`);
      await until('the URL #/actors/<id>', () => page.evaluate(() => location.hash), (h) => h === `#/actors/${encodeURIComponent(workerId)}`, 5000);
      await until('the actor page to load', () => page.evaluate(() => {
        const el = document.querySelector('[data-testid="page-actor"]');
        const e = document.getElementById('errors');
        return { loaded: el?.getAttribute('data-loaded'), banner: !e || e.hidden ? '' : e.textContent };
      }), (v) => v.loaded === '1' || v.banner, 10000);
      await noBanner(page, `#/actors/${workerId}`);
      const v = await page.evaluate(() => ({
        counters: [...document.querySelectorAll('[data-testid="actor-counters"] tr')].map((tr) => tr.getAttribute('data-key')),
        state: document.querySelector('[data-testid="actor-state"]')?.textContent ?? null,
        stateError: document.querySelector('[data-testid="actor-state-error"]')?.textContent ?? null,
        none: !!document.querySelector('[data-testid="actor-state-none"]'),
      }));
      assert(v.counters.includes('processed') && v.counters.includes('mailbox_depth'),
        `the counters table lacks processed/mailbox_depth: ${v.counters.join(',')}`);
      assert(v.state !== null || v.stateError !== null || v.none, 'neither a state view nor its error is shown');
      await shot(page, 'actor');
      await noScriptErrors(errs);
      return `actor ${workerId}: ${v.counters.length} fields, ${v.state !== null ? `state ${v.state.length} chars of JSON` : v.stateError !== null ? `state error "${v.stateError}"` : 'no state view'}`;
    });

    await check('page supervision: a tree with children', async () => {
      await go(page, '/supervision', 'page-supervision');
      const trees = await until('a supervision tree with children', () => page.$$eval('[data-testid="supervision-tree"]',
        (ts) => ts.map((t) => ({ name: t.getAttribute('data-name'), children: Number(t.getAttribute('data-children')),
          strategy: t.querySelector('[data-testid="tree-strategy"]')?.textContent })) ),
      (xs) => xs.some((x) => x.children > 0), 10000);
      const kids = await page.$$eval('[data-testid="supervision-child"]', (ls) => ls.map((l) => `${l.getAttribute('data-child-id')}:${l.getAttribute('data-status')}`));
      await shot(page, 'supervision');
      await noScriptErrors(errs);
      return `${trees.length} trees (${trees.map((t) => `${t.name} ${t.strategy}`).join(', ')}), children ${kids.slice(0, 8).join(' ')}${kids.length > 8 ? ' …' : ''}`;
    });

    await check('page metrics: table and a metric chart', async () => {
      await go(page, '/metrics', 'page-metrics');
      const rows = await until('metric rows', () => page.$$eval('[data-testid="metric-row"]', (trs) => trs.map((tr) => ({
        key: tr.getAttribute('data-series-key'), kind: tr.children[1]?.textContent, n: tr.children[5]?.textContent }))),
      (xs) => xs.length > 0, 10000);
      // A metric whose series the sampler keeps: a counter/sum/last_value, or a distribution with recent samples.
      const pick = rows.find((r) => r.kind !== 'distribution') || rows.find((r) => r.n && r.n !== '0' && r.n !== '–') || rows[0];
      await page.click(`[data-testid="metric-row"][data-series-key="${pick.key.replace(/"/g, '\\"')}"]`);
      const v = await until(`a chart of ${pick.key} with points from /api/series`, () => page.evaluate(() => {
        const c = document.querySelector('[data-testid="metric-chart"]');
        const miss = document.querySelector('[data-testid="metric-chart-missing"]');
        return { key: c?.getAttribute('data-series-key'), points: Number(c?.getAttribute('data-points') ?? -1), missing: miss && !miss.hidden ? miss.textContent : '' };
      }), (x) => x.points > 0, 12000);
      await noBanner(page, '#/metrics');
      await shot(page, 'metrics');
      await noScriptErrors(errs);
      return `${rows.length} metrics; chart of ${v.key}: ${v.points} points`;
    });

    await check('page investigations: renders', async () => {
      await go(page, '/investigations', 'page-investigations');
      const v = await page.evaluate(() => ({
        table: !!document.querySelector('[data-testid="investigations-table"]'),
        rows: document.querySelectorAll('[data-testid="investigation-row"]').length,
        button: !!document.querySelector('[data-testid="investigate-button"]'),
      }));
      assert(v.table && v.button, 'no investigations table or no Investigate button');
      await shot(page, 'investigations');
      await noScriptErrors(errs);
      return `${v.rows} stored investigations listed`;
    });

    await check('page alerts: rules', async () => {
      await go(page, '/alerts', 'page-alerts');
      const rules = await until('alert rule rows', () => page.$$eval('[data-testid="alert-rule-row"]', (trs) => trs.map((tr) => tr.getAttribute('data-name'))),
        (xs) => xs.length > 0, 5000);
      const fired = await page.$$eval('[data-testid="alert-fired-row"]', (trs) => trs.length);
      await shot(page, 'alerts');
      await noScriptErrors(errs);
      return `${rules.length} rules (${rules.join(', ')}), ${fired} fired`;
    });

    await check('page logs: renders, level filter, search', async () => {
      await go(page, '/logs', 'page-logs');
      const n = await page.evaluate(() => document.querySelectorAll('[data-testid="log-line"]').length);
      const levels = await page.$$eval('[data-testid="log-line"]', (trs) => [...new Set(trs.map((t) => t.getAttribute('data-level')))]);
      await shot(page, 'logs');
      // The level filter: only error lines (worker-1 rejects HEIC uploads with errors).
      const lines = () => page.$$eval('[data-testid="log-line"]', (trs) => trs.map((t) => ({
        level: t.getAttribute('data-level'), message: t.querySelector('td.message')?.textContent || '' })));
      await page.selectOption('[data-testid="logs-level"]', 'error');
      const errors = await until('only error lines after choosing the level "error"', lines,
        (xs) => xs.length > 0 && xs.every((x) => x.level === 'error'), 6000);
      await page.selectOption('[data-testid="logs-level"]', '');
      // The text search.
      await page.fill('[data-testid="logs-search"]', 'HEIC');
      const found = await until('only lines containing "HEIC" after searching it', lines,
        (xs) => xs.length > 0 && xs.every((x) => /HEIC/.test(x.message)), 6000);
      await page.fill('[data-testid="logs-search"]', '');
      await noBanner(page, '#/logs');
      await noScriptErrors(errs);
      return `${n} lines (levels: ${levels.join(', ') || 'none'}); level=error: ${errors.length} lines; "HEIC": ${found.length} lines`;
    });

    await check('page nodes: lists this node', async () => {
      await go(page, '/nodes', 'page-nodes');
      const nodes = await until('a node row with state "self"', () => page.$$eval('[data-testid="node-row"]',
        (trs) => trs.map((tr) => ({ name: tr.getAttribute('data-node-name'), state: tr.getAttribute('data-state') }))),
      (xs) => xs.some((x) => x.state === 'self'), 5000);
      const self = nodes.find((x) => x.state === 'self');
      assert(!selfNode || self.name === selfNode, `the self row is "${self.name}", the overview says "${selfNode}"`);
      const options = await page.$$eval('#node-select option', (os) => os.map((o) => o.value));
      assert(options.includes(self.name), `the node selector lacks ${self.name}: ${options.join(',')}`);
      await shot(page, 'nodes');
      await noScriptErrors(errs);
      return `${nodes.length} node(s): ${nodes.map((x) => `${x.name} (${x.state})`).join(', ')}`;
    });

    // -- 2. sorting -------------------------------------------------------------------
    await check('actors table sorts by a numeric column', async () => {
      await go(page, '/actors', 'page-actors');
      const col = 'processed';
      const read = () => page.evaluate((k) => {
        const th = document.querySelector(`[data-testid="actors-col-${k}"]`);
        const vals = [...document.querySelectorAll(`[data-testid="actor-row"] td[data-col="${k}"]`)].map((td) => td.getAttribute('data-value'));
        return { dir: th?.getAttribute('data-sort-dir'), arrow: th?.querySelector('.arrow')?.textContent?.trim(), vals };
      }, col);
      const sorted = (vals, dir) => {
        const xs = vals.filter((v) => v !== '').map(Number);
        assert(xs.every((x) => Number.isFinite(x)), `non-numeric ${col} values: ${vals.join(',')}`);
        for (let i = 1; i < xs.length; ++i) if (dir === 'asc' ? xs[i] < xs[i - 1] : xs[i] > xs[i - 1]) return false;
        return true;
      };
      const before = await read();
      await page.click(`[data-testid="actors-col-${col}"]`);
      const first = await read();
      assert(first.dir === 'asc' || first.dir === 'desc', `no sort direction after a click on "${col}"`);
      assert(sorted(first.vals, first.dir), `after one click (${first.dir}) ${col} is not sorted: ${first.vals.join(',')}`);
      assert(first.arrow === (first.dir === 'asc' ? '▲' : '▼'), `the header shows "${first.arrow}" for ${first.dir}`);
      await page.click(`[data-testid="actors-col-${col}"]`);
      const second = await read();
      assert(second.dir && second.dir !== first.dir, `a second click did not toggle the direction (${first.dir} → ${second.dir})`);
      assert(sorted(second.vals, second.dir), `after two clicks (${second.dir}) ${col} is not sorted: ${second.vals.join(',')}`);
      const distinct = new Set(second.vals).size;
      if (distinct > 1)
        assert(first.vals.join() !== second.vals.join(), 'toggling the direction did not change the order');
      // The 2 s refresh keeps the order.
      await sleep(2600);
      const later = await read();
      assert(later.dir === second.dir && sorted(later.vals, later.dir), `after a refresh the order is lost: ${later.dir} ${later.vals.join(',')}`);
      await noScriptErrors(errs);
      return `${col}: ${first.dir} [${first.vals.slice(0, 5).join(', ')}…], then ${second.dir} [${second.vals.slice(0, 5).join(', ')}…] (unsorted was [${before.vals.slice(0, 5).join(', ')}…])`;
    });

    await check('actors table filters by name/kind', async () => {
      await page.fill('[data-testid="actors-search"]', 'worker');
      const check1 = () => page.evaluate(() => [...document.querySelectorAll('[data-testid="actor-row"]')].map((tr) => ({
        name: tr.getAttribute('data-name'), kind: tr.querySelector('td[data-col="kind"]')?.getAttribute('data-value') })));
      const rows = await check1();
      assert(rows.length > 0, 'no row matches "worker"');
      const bad = rows.filter((r) => !`${r.name} ${r.kind}`.toLowerCase().includes('worker'));
      assert(!bad.length, `rows not matching "worker": ${bad.map((r) => r.name).join(', ')}`);
      await sleep(2600);
      const later = await check1();
      assert(later.length > 0 && later.every((r) => `${r.name} ${r.kind}`.toLowerCase().includes('worker')), 'the filter is lost after a refresh');
      await page.fill('[data-testid="actors-search"]', '');
      return `${rows.length} rows match "worker"`;
    });

    // -- 3. investigation ---------------------------------------------------------
    let traceId = null;
    await check('investigate: error_burst insight naming worker-1', async () => {
      await go(page, '/investigations', 'page-investigations');
      await page.fill('[data-testid="investigate-reason"]', 'some uploads are rejected with errors');
      const t = Date.now();
      await page.click('[data-testid="investigate-button"]');
      const st = await until('the status to show running… (or a result)', () => page.evaluate(() => {
        const s = document.querySelector('[data-testid="investigation-status"]');
        return { state: s?.getAttribute('data-state'), text: s?.textContent };
      }), (x) => x.state === 'running' || x.state === 'done' || x.state === 'failed', 10000);
      assert(st.state !== 'failed', `the investigation failed to start: ${st.text}`);
      assert(st.state === 'done' || /running…/.test(st.text), `the status reads "${st.text}"`);
      const r = await until('an investigation result with an error_burst insight naming worker-1', () => page.evaluate(() => {
        const s = document.querySelector('[data-testid="investigation-status"]');
        const el = document.querySelector('[data-testid="investigation-result"]');
        return {
          state: s?.getAttribute('data-state'), status: s?.textContent,
          shown: !!el && !el.hidden,
          trace: el?.getAttribute('data-trace-id'), pattern: el?.getAttribute('data-pattern'), culprit: el?.getAttribute('data-culprit'),
          insights: [...document.querySelectorAll('[data-testid="investigation-result-insight"]')].map((i) => ({
            pattern: i.getAttribute('data-pattern'), culprits: i.getAttribute('data-culprits') })),
        };
      }), (x) => x.state === 'failed' || (x.shown && (
        (x.pattern === 'error_burst' && /\bworker-1\b/.test(x.culprit || ''))
        || x.insights.some((i) => i.pattern === 'error_burst' && (i.culprits || '').split(',').some((c) => /\bworker-1\b/.test(c))))), 60000, 500);
      assert(r.state !== 'failed', `the investigation failed: ${r.status}`);
      traceId = r.trace;
      assert(traceId, 'the result has no trace id');
      await shot(page, 'investigation-result');
      await noScriptErrors(errs);
      return `status "${st.text}", result after ${((Date.now() - t) / 1000).toFixed(1)} s; trace ${traceId}: top pattern ${r.pattern}, culprit ${r.culprit}; insights ${r.insights.map((i) => `${i.pattern}[${i.culprits}]`).join(' ') || '(not loaded)'}`;
    });

    await check('investigation detail lists the insight', async () => {
      await page.click('[data-testid="investigation-result-link"]');
      await until('the investigation page to load', () => page.evaluate(() => {
        const el = document.querySelector('[data-testid="page-investigation"]');
        const e = document.getElementById('errors');
        return { loaded: el?.getAttribute('data-loaded'), hash: location.hash, banner: !e || e.hidden ? '' : e.textContent };
      }), (v) => v.loaded === '1' || v.banner, 15000);
      await noBanner(page, `#/investigations/${traceId}`);
      const v = await page.evaluate(() => ({
        hash: location.hash,
        summary: document.querySelector('[data-testid="investigation-summary"]')?.textContent,
        insights: [...document.querySelectorAll('[data-testid="insight-row"]')].map((r) => ({ pattern: r.getAttribute('data-pattern'), culprits: r.getAttribute('data-culprits') })),
        notifications: document.querySelectorAll('[data-testid="notification-row"]').length,
        snapshots: document.querySelectorAll('[data-testid="snapshot"]').length,
        timeline: document.querySelectorAll('[data-testid="timeline-row"]').length,
      }));
      assert(v.hash === `#/investigations/${encodeURIComponent(traceId)}`, `the link led to ${v.hash}`);
      assert(v.insights.some((i) => i.pattern === 'error_burst' && (i.culprits || '').split(',').some((c) => /\bworker-1\b/.test(c))),
        `no error_burst insight naming worker-1 on the detail page: ${JSON.stringify(v.insights)}`);
      assert(v.summary && v.summary !== '–', 'the summary is empty');
      // Open a snapshot: its JSON appears.
      if (v.snapshots) {
        await page.click('[data-testid="snapshot"] summary');
        await until('an opened snapshot to show its JSON', () => page.$eval('[data-testid="snapshot"] pre', (p) => p.textContent.length),
          (n) => n > 2, 3000, 100);
      }
      await shot(page, 'investigation');
      await noScriptErrors(errs);
      return `${v.insights.length} insights, ${v.notifications} notifications, ${v.snapshots} snapshots, ${v.timeline} timeline events`;
    });

    await check('investigation is listed (and filters)', async () => {
      await go(page, '/investigations', 'page-investigations');
      await until(`a row for ${traceId}`, () => page.$$eval('[data-testid="investigation-row"]', (trs) => trs.map((t) => t.getAttribute('data-trace-id'))),
        (xs) => xs.includes(traceId), 10000);
      await page.fill('[data-testid="investigations-filter-pattern"]', 'error_burst');
      await page.fill('[data-testid="investigations-filter-culprit"]', 'worker-1');
      const rows = await until('the filtered list to hold it', () => page.$$eval('[data-testid="investigation-row"]', (trs) => trs.map((t) => t.getAttribute('data-trace-id'))),
        (xs) => xs.includes(traceId), 10000);
      await page.fill('[data-testid="investigations-filter-pattern"]', 'no_such_pattern_xyz');
      await until('the filter to empty the list', () => page.$$eval('[data-testid="investigation-row"]', (trs) => trs.length), (n) => n === 0, 10000);
      await page.fill('[data-testid="investigations-filter-pattern"]', '');
      await page.fill('[data-testid="investigations-filter-culprit"]', '');
      await noBanner(page, '#/investigations');
      await noScriptErrors(errs);
      return `${rows.length} row(s) for pattern=error_burst culprit=worker-1`;
    });

    // -- 4. chart history ---------------------------------------------------------
    await check('charts: live points, history survives a reload', async () => {
      await go(page, '/home', 'page-home');
      const points = () => page.evaluate(() => Object.fromEntries(['chart-cpu', 'chart-rss', 'chart-messages'].map((id) => {
        const c = document.querySelector(`[data-testid="${id}"]`);
        const inst = c && window.Chart && window.Chart.getChart ? window.Chart.getChart(c) : null;
        return [id, { points: Number(c?.getAttribute('data-points') ?? -1), series: c?.getAttribute('data-series-points'),
          chart: inst ? inst.data.datasets[0].data.length : null }];
      })));
      const p0 = await until('the charts to load /api/series', points, (x) => Object.values(x).every((c) => c.series !== null && c.series !== undefined), 10000);
      const p1 = await until('a live sample (SSE) to add a point', points, (x) => x['chart-rss'].points > p0['chart-rss'].points, 10000);
      const t = Date.now();
      await page.reload();
      const p2 = await until('history points right after the reload', points,
        (x) => Object.values(x).every((c) => c.series !== null && c.series !== undefined), 5000, 50);
      const ms = Date.now() - t;
      for (const [id, c] of Object.entries(p2)) {
        assert(Number(c.series) > 1, `${id}: ${c.series} point(s) from /api/series after the reload (want > 1)`);
        assert(c.chart === null || c.chart >= Number(c.series), `${id}: the Chart instance holds ${c.chart} points`);
      }
      assert(p2['chart-rss'].chart !== null, 'no Chart.js instance on the RSS canvas (Chart.js did not load?)');
      await shot(page, 'home-reloaded');
      await noBanner(page, '#/home');
      await noScriptErrors(errs);
      return `live: rss ${p0['chart-rss'].points} → ${p1['chart-rss'].points} points; after reload (${ms} ms): `
        + Object.entries(p2).map(([id, c]) => `${id} ${c.series}`).join(', ');
    });

    await context.close();

    // -- 5. token -------------------------------------------------------------------
    let demo2;
    await check('token demo starts on 0.0.0.0', async () => {
      demo2 = await startDemo('demo-token', ['--dashboard-listen', '0.0.0.0:0', '--dashboard-token', 's3cret'], '0\\.0\\.0\\.0');
      return demo2.url;
    });
    const tb = `http://127.0.0.1:${demo2.port}`;
    await check('token enforced on the API', async () => {
      const get = (p, headers = {}, redirect = 'follow') => fetch(tb + p, { headers, redirect });
      const none = await get('/api/overview');
      const noneBody = await none.text();
      assert(none.status === 401, `no token: ${none.status} (want 401): ${noneBody.slice(0, 200)}`);
      let err = null;
      try {
        err = JSON.parse(noneBody).error;
      } catch (e) { /* checked below */ }
      assert(typeof err === 'string' && err, `the 401 body is not {"error": ...}: ${noneBody.slice(0, 200)}`);
      const good = await get('/api/overview', { Authorization: 'Bearer s3cret' });
      const goodBody = await good.text();
      assert(good.status === 200, `Bearer s3cret: ${good.status} (want 200): ${goodBody.slice(0, 200)}`);
      const o = JSON.parse(goodBody);
      assert(typeof o.actor_count === 'number', `the overview lacks actor_count: ${goodBody.slice(0, 200)}`);
      const wrong = await get('/api/overview', { Authorization: 'Bearer s3cret-not' });
      assert(wrong.status === 401, `a wrong bearer token: ${wrong.status} (want 401)`);
      const wrongCookie = await get('/api/overview', { Cookie: 'caflens_token=nope' });
      assert(wrongCookie.status === 401, `a wrong cookie: ${wrongCookie.status} (want 401)`);
      const goodCookie = await get('/api/overview', { Cookie: 'caflens_token=s3cret' });
      assert(goodCookie.status === 200, `the right cookie: ${goodCookie.status} (want 200)`);
      const page0 = await get('/');
      assert(page0.status === 401, `GET / without the token: ${page0.status} (want 401)`);
      const js = await get('/app.js');
      assert(js.status === 401, `GET /app.js without the token: ${js.status} (want 401)`);
      const wrongQ = await get('/?token=wrong', {}, 'manual');
      assert(wrongQ.status === 401, `GET /?token=wrong: ${wrongQ.status} (want 401)`);
      const goodQ = await get('/?token=s3cret', {}, 'manual');
      assert(goodQ.status >= 300 && goodQ.status < 400, `GET /?token=s3cret: ${goodQ.status} (want a redirect)`);
      const cookie = goodQ.headers.get('set-cookie') || '';
      assert(/caflens_token=s3cret/.test(cookie) && /HttpOnly/i.test(cookie), `GET /?token=s3cret set no HttpOnly cookie: "${cookie}"`);
      return `401 without/with a wrong token or cookie, 200 with Bearer or cookie; /?token= → ${goodQ.status} ${goodQ.headers.get('location')}, "${cookie}"`;
    });

    await check('token: the browser works after /?token=', async () => {
      const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
      const p = await ctx.newPage();
      const perrs = watch(p, 'token page');
      const res = await p.goto(`${tb}/?token=s3cret`);
      assert(res && res.status() === 200, `/?token=s3cret ended with ${res && res.status()} at ${p.url()}`);
      assert(new URL(p.url()).search === '', `the token stays in the URL: ${p.url()}`);
      const cookies = await ctx.cookies(tb);
      const c = cookies.find((x) => x.name === 'caflens_token');
      assert(c && c.httpOnly, `no HttpOnly caflens_token cookie: ${JSON.stringify(cookies)}`);
      await until('the home page with a positive actor count', () => p.evaluate(() => {
        const e = document.getElementById('errors');
        return { actors: document.querySelector('[data-testid="overview-actor-count"]')?.getAttribute('data-value'),
          live: document.querySelector('[data-testid="live-status"]')?.getAttribute('data-state'), banner: !e || e.hidden ? '' : e.textContent };
      }), (v) => Number(v.actors) > 0 && v.live === 'live', 15000);
      await noBanner(p, 'token home');
      await go(p, '/actors', 'page-actors');
      await shot(p, 'token-actors');
      await noScriptErrors(perrs);
      // A wrong token in a fresh browser: 401.
      const ctx2 = await browser.newContext();
      const p2 = await ctx2.newPage();
      const r2 = await p2.goto(`${tb}/?token=wrong`);
      assert(r2 && r2.status() === 401, `/?token=wrong in the browser: ${r2 && r2.status()} (want 401)`);
      const r3 = await p2.goto(`${tb}/`);
      assert(r3 && r3.status() === 401, `/ without a cookie in the browser: ${r3 && r3.status()} (want 401)`);
      await ctx2.close();
      await ctx.close();
      return 'cookie set, home and actors load, live events connected; a wrong token gets 401';
    });

    await check('demos stop on SIGTERM', async () => {
      const a = await stopChild(demo2.child);
      const b = await stopChild(demo.child);
      const text = (x) => (x.before ? `had exited (code ${x.code}, signal ${x.signal})`
        : x.killed ? `needed SIGKILL after ${x.ms} ms` : `exited in ${x.ms} ms (code ${x.code}, signal ${x.signal})`);
      assert(!a.killed && !b.killed && !a.before && !b.before, `demo: ${text(b)}; token demo: ${text(a)}`);
      return `demo ${text(b)}; token demo ${text(a)}`;
    });
  } finally {
    await browser.close().catch(() => {});
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  code = 1;
  if (!(e instanceof CheckFailed)) console.log(`FAIL dashboard test: ${e.stack || e.message}`);
} finally {
  const stops = await Promise.all([...children].map(async (c) => [c.label, await stopChild(c)]));
  for (const [label, x] of stops) if (x && x.killed) console.log(`note: ${label} needed SIGKILL`);
}
console.log(`${code === 0 ? 'PASSED' : 'FAILED'}: ${passed.length} checks passed in ${secs(T0)}; artifacts in ${opts.artifacts}`);
process.exit(code);
