// SPDX-License-Identifier: Apache-2.0
/*
 * Drives Debian's chromium (headless, through playwright-core, no downloaded
 * browser) over a flame graph page from file://, with the network blocked.
 *
 *   node html_browser.js check PAGE EXPECT.json SHOTS_PREFIX
 *   node html_browser.js diff  PAGE EXPECT.json SHOTS_PREFIX
 *   node html_browser.js bench PAGE...
 *
 * check and diff print "pass: ..." / "fail: ..." lines for test_html.sh;
 * bench prints "PAGE BYTES SCRIPT_MS PAINT_MS WALL_MS" per page: the page's
 * own clock from navigation start when its script has drawn the graph, and
 * at the frame after (the graph on the screen).  Exit status 2 when the browser cannot run.
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

let chromium;
try {
  ({ chromium } = require(path.resolve(__dirname, '../../build/node_modules/playwright-core')));
} catch (e) {
  console.log('cannot run: playwright-core is not installed (make deps)');
  process.exit(2);
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let failed = 0;
function ok(what) { console.log('pass: ' + what); }
function bad(what) { console.log('fail: ' + what); failed++; }
function check(what, cond, detail) { if (cond) ok(what); else bad(what + (detail ? ': ' + detail : '')); }
function near(a, b, tol) { return Math.abs(a - b) <= tol; }

async function open(profileDir) {
  const ctx = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS,
    viewport: { width: 1280, height: 820 }, deviceScaleFactor: 1,
  });
  const net = [], errors = [];
  /* Nothing but the page's own file may be asked for. */
  await ctx.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    net.push(url);
    return route.abort();
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.type() + ': ' + m.text()); });
  page.on('pageerror', (e) => errors.push('exception: ' + e.message));
  page.on('requestfailed', (r) => { if (!r.url().startsWith('file:')) net.push(r.url()); });
  return { ctx, page, net, errors };
}

async function load(page, file) {
  await page.goto('file://' + path.resolve(file));
  await page.waitForSelector('body[data-ready]', { timeout: 20000 });
}

const data = (page) => page.evaluate(() => Object.assign({}, document.body.dataset));
const rect = (page, name) => page.evaluate((n) => window.bpfprofFlame.frameRect(n), name);
const shot = (page, file) => page.screenshot({ path: file, fullPage: true });

/* One capture's page: totals, zoom, search, sample type, label filter, views. */
async function runCheck(b, file, want, shots) {
  const { page } = b;
  await load(page, file);
  let d = await data(page);
  check('root total equals go tool pprof -top\'s (' + want.total + ')', +d.total === want.total, 'page says ' + d.total);
  await shot(page, shots + '-flame.png');

  /* Hover shows the function, its file:line and the numbers. */
  let r = await rect(page, want.zoom);
  check('frame ' + want.zoom + ' is drawn', !!r);
  if (!r) return;
  await page.mouse.move(r.x + Math.min(20, r.w / 2), r.y + r.h / 2);
  const tip = await page.$eval('#tip', (e) => (e.hidden ? '' : e.textContent));
  check('hover shows ' + want.zoom + ' with file:line and flat/cum', tip.includes(want.zoom) && /\.c:\d+/.test(tip) && /flat .*cum /.test(tip), tip);
  await shot(page, shots + '-hover.png');

  /* A click zooms: the frame becomes the whole width, the table follows it. */
  await page.mouse.click(r.x + Math.min(20, r.w / 2), r.y + r.h / 2);
  d = await data(page);
  check('clicking ' + want.zoom + ' zooms to it', d.zoom === want.zoom && +d.zoomTotal === r.total, JSON.stringify(d));
  const z = await rect(page, want.zoom);
  check('the zoomed frame spans the width', z && z.w > 1200, z && z.w);
  const rows = await page.evaluate(() => window.bpfprofFlame.rows());
  check('the top table follows the zoom (no ' + want.other + ' below ' + want.zoom + ')',
    rows.length > 0 && rows.every((x) => x[x.length - 1] !== want.other),
    rows.map((x) => x[x.length - 1]).join(','));
  await shot(page, shots + '-zoom.png');
  await page.click('#back');
  d = await data(page);
  check('back returns to the root', d.zoom === 'root');

  /* Search: the matching functions and their share of the total. */
  await page.fill('#search', want.search);
  const m = await page.$eval('#match', (e) => ({ text: e.textContent, value: +e.dataset.value }));
  const share = (100 * want.searchValue / want.total).toFixed(2) + '%';
  check('search ' + want.search + ' matches burn_a and burn_b\'s cum as pprof, ' + share + ' of the total', m.value === want.searchValue && m.text.includes('(' + share + ' of total)'), m.text);
  const hits = await page.$$eval('#top tbody tr.hit td.name', (t) => t.map((x) => x.textContent).sort());
  check('search highlights ' + want.searchHits.join(', ') + ' in the table', JSON.stringify(hits) === JSON.stringify(want.searchHits), hits.join(','));
  await shot(page, shots + '-search.png');
  await page.fill('#search', '');

  /* Icicle: root on top. */
  await page.click('#icicle');
  const ic = await rect(page, 'root');
  check('icicle puts the root on top', ic && ic.y < (await page.$eval('#canvas', (c) => c.getBoundingClientRect().top + window.scrollY)) + 2);
  await shot(page, shots + '-icicle.png');
  await page.click('#icicle');

  /* Sample type: samples instead of cpu. */
  await page.selectOption('#type', String(want.samplesIndex));
  d = await data(page);
  check('switching the sample type gives samples\' total (' + want.samples + ')', +d.total === want.samples, d.total);
  await page.selectOption('#type', String(want.cpuIndex));

  /* Label filter: one thread. */
  if (want.tid) {
    await page.selectOption('select[data-key="tid"]', want.tid);
    d = await data(page);
    check('label filter tid=' + want.tid + ' gives pprof -tagfocus\'s ' + want.tidTotal, +d.total === want.tidTotal, d.total);
    await shot(page, shots + '-filter.png');
  }
}

/* A diff page: the two functions move by what the two profiles say. */
async function runDiff(b, file, want, shots) {
  const { page } = b;
  await load(page, file);
  const d = await data(page);
  check('diff: new total ' + want.total + ', base total ' + want.baseTotal, +d.total === want.total && +d.baseTotal === want.baseTotal, JSON.stringify(d));
  for (const f of want.funcs) {
    const r = await rect(page, f.name);
    if (!r) { bad('diff: ' + f.name + ' is drawn'); continue; }
    const now = 100 * r.total / want.total, was = 100 * r.base / want.baseTotal;
    check('diff: ' + f.name + ' ' + was.toFixed(1) + '% -> ' + now.toFixed(1) + '% as pprof (' + f.base.toFixed(1) + ' -> ' + f.now.toFixed(1) + ')',
      near(now, f.now, 0.1) && near(was, f.base, 0.1));
    check('diff: ' + f.name + ' moved ' + (now - was).toFixed(1) + ' points, expected ' + f.expect + ' +- ' + f.tol,
      near(now - was, f.expect, f.tol));
    await page.mouse.move(r.x + 10, r.y + r.h / 2);
    const tip = await page.$eval('#tip', (e) => (e.hidden ? '' : e.textContent));
    check('diff: hovering ' + f.name + ' shows the base numbers', /base: flat/.test(tip), tip);
    if (f === want.funcs[0]) await shot(page, shots + '-diff-hover.png');
  }
  const colour = await page.evaluate((name) => {
    const r = window.bpfprofFlame.frameRect(name), c = document.getElementById('canvas');
    const cr = c.getBoundingClientRect(), px = c.getContext('2d').getImageData(r.x - cr.left - window.scrollX + r.w / 2, r.y - cr.top - window.scrollY + 2, 1, 1).data;
    return [px[0], px[1], px[2]];
  }, want.funcs[0].name);
  const grew = want.funcs[0].expect > 0;
  check('diff: ' + want.funcs[0].name + ' is coloured as ' + (grew ? 'grown (red)' : 'shrunk (green)'),
    grew ? colour[0] > colour[1] + 40 : colour[1] > colour[0] + 40, colour.join(','));
  await page.mouse.move(1, 1);
  await shot(page, shots + '-diff.png');
}

async function runBench(b, files) {
  for (const f of files) {
    const t0 = Date.now();
    await load(b.page, f);
    await b.page.waitForSelector('body[data-paint-ms]', { timeout: 60000 });
    const d = await data(b.page);
    console.log(path.basename(f) + ' ' + fs.statSync(f).size + ' ' + (+d.renderMs).toFixed(0) + ' ' + (+d.paintMs).toFixed(0) + ' ' + (Date.now() - t0));
  }
}

(async () => {
  const [mode, file, ...rest] = process.argv.slice(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfprof-chromium-'));
  let b;
  try {
    b = await open(dir);
  } catch (e) {
    console.log('cannot run: chromium does not start: ' + String(e.message).split('\n')[0]);
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(2);
  }
  try {
    if (mode === 'bench') {
      await runBench(b, [file, ...rest]);
    } else {
      const want = JSON.parse(fs.readFileSync(rest[0], 'utf8'));
      await (mode === 'diff' ? runDiff : runCheck)(b, file, want, rest[1]);
      check('no request left the page (' + (b.net.join(' ') || 'none') + ')', b.net.length === 0);
      check('no console error or exception', b.errors.length === 0, b.errors.join(' | '));
    }
  } catch (e) {
    bad('the browser run: ' + String(e.message).split('\n')[0]);
  } finally {
    await b.ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
})();
