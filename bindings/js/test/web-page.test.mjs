// The web page in headless Chromium (Debian's, or CHROMIUM=path): served on 127.0.0.1,
// a recorded stream and a damaged one picked in the page, the DOM checked against what
// the stream holds; a screenshot is kept in target/web-page.png.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, FIXTURES, damagedCases } from './helpers.mjs';

const WEB = join(ROOT, 'web');
const TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

function serve() {
  const server = createServer((req, res) => {
    const path = normalize(join(WEB, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    if (!file.startsWith(WEB) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function pick(page, path) {
  await page.setInputFiles('#file', path);
  await page.waitForSelector('body[data-state="done"], body[data-state="failed"]');
  return page.evaluate(() => ({
    state: document.body.dataset.state,
    status: document.querySelector('#state').textContent,
    facts: Object.fromEntries([...document.querySelectorAll('#summary dd')].map((d) => [d.dataset.key, d.textContent])),
    problems: [...document.querySelectorAll('#problems li[data-kind]')].map((li) => ({ kind: li.dataset.kind, offset: Number(li.dataset.offset) })),
    hosts: Object.fromEntries([...document.querySelectorAll('#events details')].map((d) => [d.dataset.host, d.querySelectorAll('.event').length])),
    stdout: [...document.querySelectorAll('#events pre.stdout')].map((p) => p.textContent),
    archiveRows: document.querySelectorAll('#archives tr').length,
  }));
}

test('the page diagnoses a recorded stream and a damaged one, in the browser', async () => {
  assert.ok(existsSync(browserPath), `no Chromium at ${browserPath}: install Debian's chromium or set CHROMIUM`);
  assert.ok(existsSync(join(WEB, 'dist', 'codec', 'runnerwire_codec.js')), 'web/dist is missing: run `make bindings`');
  const server = await serve();
  const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForSelector('body[data-state="ready"]');

    // What the recorded stream holds, counted here from its lines.
    const streamPath = join(FIXTURES, 'multi', 'result.stream');
    const lines = readFileSync(streamPath, 'utf8').split('\n').filter((l) => l.startsWith('{'));
    const events = lines.map((l) => JSON.parse(l.replace(/\bNaN\b|-?Infinity\b/g, 'null'))).filter((e) => e.uuid && e.counter);
    const byHost = {};
    for (const e of events) {
      const host = e.event_data?.host ?? e.event_data?.remote_addr ?? '(no host)';
      byHost[host] = (byHost[host] ?? 0) + 1;
    }
    const good = await pick(page, streamPath);
    assert.equal(good.state, 'done', good.status);
    assert.match(good.status, /a complete, valid result stream/);
    assert.equal(good.facts.events, String(events.length));
    assert.equal(good.facts.problems, '0');
    assert.equal(good.facts.complete, 'yes (eof frame)');
    assert.deepEqual(good.hosts, byHost);
    assert.ok(good.stdout.some((s) => s.includes('PLAY RECAP')), 'event stdout is shown');
    assert.ok(good.archiveRows > 2, 'the archive listing is shown');
    mkdirSync(join(ROOT, 'target'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'target', 'web-page.png'), fullPage: true });

    const c = damagedCases().find((d) => d.name === 'counter-gap');
    const bad = await pick(page, join(FIXTURES, 'damaged', `${c.name}.stream`));
    assert.equal(bad.state, 'done', bad.status);
    assert.match(bad.status, new RegExp(`${c.kind} at byte ${c.offset}, line ${c.line}`));
    assert.ok(bad.problems.some((p) => p.kind === c.kind && p.offset === c.offset), JSON.stringify(bad.problems));
    assert.equal(bad.facts.problems, String(bad.problems.length));
    await page.screenshot({ path: join(ROOT, 'target', 'web-page-damaged.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});
