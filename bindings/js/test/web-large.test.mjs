// A 100,000-event (about 106 MB) result stream in the page, in headless Chromium: built at
// test time with bench/bench.py's build_stream (the multi fixture's events, cloned), picked,
// timed with the marks the page sets (body[data-first-screen-ms], body[data-done-ms], both
// counted from the pick), scrolled, and its heap read. RUNNERWIRE_WEB_FIRST_MS and
// RUNNERWIRE_WEB_DONE_MS override the bounds (2000 and 6000 ms) on a slower machine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT } from './helpers.mjs';
import { serveWeb, WEB } from '../view.mjs';

const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FIRST_MS = Number(process.env.RUNNERWIRE_WEB_FIRST_MS ?? 2000);
const DONE_MS = Number(process.env.RUNNERWIRE_WEB_DONE_MS ?? 6000);
const EVENTS = 100_000;

test('a 100,000-event stream: first screen, everything, smooth scrolling, bounded memory', async () => {
  assert.ok(existsSync(browserPath), `no Chromium at ${browserPath}`);
  assert.ok(existsSync(join(WEB, 'dist', 'codec', 'runnerwire_codec.js')), 'web/dist is missing: run `make bindings`');
  const dir = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const file = join(dir, `runnerwire-web-large-${process.pid}.stream`);
  execFileSync('python3', ['-c', `import sys; sys.path.insert(0, 'bench'); import bench; bench.build_stream(${JSON.stringify(file)}, ${EVENTS})`], { cwd: ROOT });
  const { server, origin } = await serveWeb();
  const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox', '--enable-precise-memory-info'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${origin}/`);
    await page.waitForSelector('body[data-state="ready"]');
    await page.waitForTimeout(500); // the page's workers start and compile the component
    await page.setInputFiles('#file', file);
    await page.waitForSelector('body[data-first-screen-ms]', { timeout: 60000 });
    await page.waitForSelector('body[data-state="done"], body[data-state="failed"]', { timeout: 120000 });
    const m = await page.evaluate(() => ({
      state: document.body.dataset.state,
      status: document.querySelector('#state').textContent,
      first: Number(document.body.dataset.firstScreenMs),
      done: Number(document.body.dataset.doneMs),
      events: document.querySelector('#summary dd[data-key="events"]').textContent,
    }));
    const mb = (statSync(file).size / 1e6).toFixed(0);
    console.log(`# ${EVENTS} events, ${mb} MB: first screen ${m.first} ms, everything ${m.done} ms`);
    assert.equal(m.state, 'done', m.status);
    assert.equal(m.events, String(EVENTS));
    assert.match(m.status, /100,000 events, 151,000 output lines/);
    assert.ok(m.first <= FIRST_MS, `first screen in ${m.first} ms (bound ${FIRST_MS})`);
    assert.ok(m.done <= DONE_MS, `everything in ${m.done} ms (bound ${DONE_MS})`);
    mkdirSync(join(ROOT, 'target', 'web'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'target', 'web', 'large-first.png') });

    // Scroll: 120 frames through the whole output; only the rows on screen exist.
    const scroll = await page.evaluate(async () => {
      const out = document.querySelector('#output');
      const frames = [];
      let rows = 0;
      let last = performance.now();
      for (let k = 0; k < 120; k++) {
        out.scrollTop = ((out.scrollHeight - out.clientHeight) * k) / 119;
        await new Promise((r) => requestAnimationFrame(r));
        const now = performance.now();
        frames.push(now - last);
        last = now;
        rows = Math.max(rows, out.querySelectorAll('.row').length);
      }
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
      frames.sort((a, b) => a - b);
      const lastRow = [...out.querySelectorAll('.row')].at(-1);
      return { p95: frames[Math.floor(frames.length * 0.95)], median: frames[frames.length >> 1], rows, lastText: lastRow?.textContent, heap: performance.memory?.usedJSHeapSize };
    });
    console.log(`# scroll: median frame ${scroll.median.toFixed(1)} ms, p95 ${scroll.p95.toFixed(1)} ms, at most ${scroll.rows} rows in the DOM; page heap ${(scroll.heap / 1e6).toFixed(0)} MB`);
    assert.ok(scroll.rows < 200, `${scroll.rows} rows in the DOM`);
    assert.ok(scroll.p95 < 100, `p95 frame ${scroll.p95} ms`);
    assert.match(scroll.lastText, /web2\s+: ok=11/, 'the end of the output is reachable');
    // The page keeps each line's text, not the events: its heap stays well under the stream's size.
    assert.ok(scroll.heap < statSync(file).size, `page heap ${scroll.heap} bytes`);
    await page.screenshot({ path: join(ROOT, 'target', 'web', 'large-end.png') });

    // A link into the middle opens there.
    await page.evaluate(() => (location.hash = 'event=54324'));
    await page.waitForFunction(() => document.querySelector('#details').dataset.counter === '54324');
    assert.equal(await page.evaluate(() => document.querySelector('.row.sel')?.dataset.counter), '54324');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
    rmSync(file, { force: true });
  }
});
