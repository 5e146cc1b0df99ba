// The web page in headless Chromium (Debian's, or CHROMIUM=path): the inspector's panels
// for a recorded stream; every damaged stream, each problem `inspect` reports jumping to its
// place; hostile streams (markup and ANSI-wrapped markup in every field, the file's name)
// staying text under the page's Content-Security-Policy; the hostile corpus read without
// a page error. Screenshots go to target/web/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, damagedCases } from './helpers.mjs';
import { WEB } from '../view.mjs';
import { SHOTS, useBrowser } from './web-harness.mjs';

const MULTI = join(FIXTURES, 'multi', 'result.stream');
const ESC = '\u001b';

const web = useBrowser();

async function open() {
  const page = await web.browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = [];
  const requests = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${web.origin}/`);
  await page.waitForSelector('body[data-state="ready"]');
  // A violation would mean the first wall (text only) let something through to the second.
  await page.evaluate(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, errors, requests };
}

async function pick(page, file) {
  await page.setInputFiles('#file', file);
  await page.waitForSelector('body[data-state="done"], body[data-state="failed"]', { timeout: 60000 });
  return page.evaluate(() => ({
    state: document.body.dataset.state,
    status: document.querySelector('#state').textContent,
    facts: Object.fromEntries([...document.querySelectorAll('#summary dd')].map((d) => [d.dataset.key, d.textContent])),
    problems: [...document.querySelectorAll('#problems li[data-kind]')].map((li) => ({ kind: li.dataset.kind, offset: Number(li.dataset.offset) })),
    archiveRows: document.querySelectorAll('#archives tr').length,
  }));
}

const eventLines = (text) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l.replace(/\bNaN\b|-?Infinity\b/g, 'null'))).filter((e) => e.uuid && e.counter);

test('the inspect view diagnoses a recorded stream', async () => {
  const events = eventLines(readFileSync(MULTI, 'utf8'));
  const { page, errors } = await open();
  const good = await pick(page, MULTI);
  assert.equal(good.state, 'done', good.status);
  assert.match(good.status, /a complete, valid result stream/);
  assert.equal(good.facts.events, String(events.length));
  assert.equal(good.facts.problems, '0');
  assert.equal(good.facts.complete, 'yes (eof frame)');
  assert.ok(good.archiveRows > 2, 'the archive listing is shown');
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  await page.click('#tab-inspect');
  await page.screenshot({ path: join(SHOTS, 'inspect-multi.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('every damaged stream: its problems are listed, and each jumps to its place in the output', async () => {
  // A case that needs limits other than the defaults (line-too-long) is not one the page can show: it has no limit settings.
  for (const c of damagedCases().filter((d) => !d.limits)) {
    const path = join(FIXTURES, 'damaged', `${c.name}.stream`);
    const bytes = readFileSync(path);
    // Where each line that looks like an event starts, and whether it parses.
    const starts = [];
    for (let at = 0; at < bytes.length; at = bytes.indexOf(10, at) + 1 || bytes.length) {
      const end = bytes.indexOf(10, at);
      if (bytes.subarray(at, at + 200).toString().includes('"counter"')) starts.push(at);
      if (end < 0) break;
    }
    const decodable = (o) => {
      const end = bytes.indexOf(10, o);
      try {
        JSON.parse(bytes.subarray(o, end < 0 ? bytes.length : end).toString().replace(/\bNaN\b|-?Infinity\b/g, 'null'));
        return true;
      } catch {
        return false;
      }
    };
    const { page, errors } = await open();
    const bad = await pick(page, path);
    assert.equal(bad.state, 'done', `${c.name}: ${bad.status}`);
    assert.match(bad.status, new RegExp(`${c.kind} at byte ${c.offset}, line ${c.line}`), c.name);
    assert.ok(bad.problems.some((p) => p.kind === c.kind && p.offset === c.offset), `${c.name}: ${JSON.stringify(bad.problems)}`);
    assert.equal(bad.facts.problems, String(bad.problems.length), c.name);
    const hasEvents = starts.some(decodable);
    for (const p of bad.problems.slice(0, 5)) {
      await page.click(`#problem-bar li[data-offset="${p.offset}"] a`);
      if (!hasEvents) {
        // No event to show it at: the problem's entry in the inspect view.
        await page.waitForSelector(`#inspect-view:not([hidden]) #problems li.target[data-offset="${p.offset}"]`);
        await page.click('#tab-output');
        continue;
      }
      await page.waitForFunction((o) => document.querySelector('#details dd.bad')?.textContent.includes(`at byte ${o},`), p.offset, { timeout: 5000 }).catch(() => assert.fail(`${c.name}: no jump to ${p.offset}`));
      // The event shown starts at the problem's byte, or is the first one after it (the
      // last event when none follows).
      const shown = await page.evaluate(() => Number(document.querySelector('#details dd[data-key="byte offset"]').textContent));
      const after = starts.filter((o) => o >= p.offset && decodable(o));
      if (after.length) assert.ok(shown >= p.offset && !starts.some((o) => o >= p.offset && o < shown && decodable(o)), `${c.name}: problem at ${p.offset}, event at ${shown}`);
      else assert.ok(shown < p.offset, `${c.name}: problem at ${p.offset}, event at ${shown}`);
    }
    if (c.name === 'counter-gap') {
      assert.equal(await page.evaluate(() => document.querySelector('.row.sel')?.dataset.counter), '13');
      await page.screenshot({ path: join(SHOTS, 'damaged-counter-gap.png') });
    }
    assert.deepEqual(errors, [], c.name);
    await page.close();
  }
});

// Markup, script, ANSI-wrapped markup, an OSC 8 hyperlink and a CSS-looking colour in every
// field the page shows; the payloads set window.__pwned if they ever run.
const PAYLOADS = [
  '<img src=x onerror="window.__pwned=1">',
  `${ESC}[31m<script>window.__pwned=2</script>${ESC}[0m`,
  `${ESC}]8;;javascript:window.__pwned=3${ESC}\\click${ESC}]8;;${ESC}\\`,
  `${ESC}[38;2;1;2;3;url(http://127.0.0.2/x)m<svg onload="window.__pwned=4">${ESC}[0m`,
  '"><iframe src="http://127.0.0.2/"></iframe>',
  `${ESC}[1;4;7m<a href="javascript:window.__pwned=5">a</a>${ESC}[0m`,
];

function hostileStream() {
  let k = 0;
  const next = () => PAYLOADS[k++ % PAYLOADS.length];
  return readFileSync(MULTI, 'utf8').split('\n').map((l) => {
    if (!l.startsWith('{')) return l;
    let e;
    try {
      e = JSON.parse(l);
    } catch {
      return l;
    }
    if (e.status) e.status = `failed ${next()}`;
    if (e.counter) {
      e.stdout = `${e.stdout ?? ''}\r\n${next()}`;
      const d = (e.event_data ??= {});
      if (d.host) d.host = `${d.host}${next()}`;
      if (d.task) d.task = `${d.task}${next()}`;
      if (d.play) d.play = `${d.play}${next()}`;
      d.extra = { html: next(), [next()]: next() };
      if (e.event === 'playbook_on_stats') d.ok = { [`web1${next()}`]: 1 };
    }
    return JSON.stringify(e);
  }).join('\n');
}

test('hostile streams stay text: markup and ANSI-wrapped markup in every field, and in the file name', async () => {
  const { page, errors, requests } = await open();
  const name = '<img src=x onerror="window.__pwned=9">.stream';
  await page.setInputFiles('#file', { name, mimeType: 'application/octet-stream', buffer: Buffer.from(hostileStream()) });
  await page.waitForSelector('body[data-state="done"], body[data-state="failed"]', { timeout: 60000 });
  const visit = async () => {
    for (const tab of ['#tab-tasks', '#tab-timeline', '#tab-inspect', '#tab-output']) await page.click(tab);
    await page.evaluate(async () => {
      const out = document.querySelector('#output');
      window.__text = '';
      for (out.scrollTop = 0; ; out.scrollTop += out.clientHeight) {
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
        window.__text += out.textContent;
        if (out.scrollTop + out.clientHeight >= out.scrollHeight - 1) break;
      }
    });
    await page.click('#output .row');
    await page.waitForFunction(() => document.querySelector('#details pre.data').textContent.startsWith('{'));
    await page.selectOption('#host-filter', { index: 1 });
    await page.fill('#search', '<script>');
    await page.press('#search', 'Enter');
  };
  await visit();
  const seen = await page.evaluate(() => ({
    pwned: window.__pwned,
    violations: window.__violations,
    foreign: [...document.querySelectorAll('body img, body script, body iframe, body svg, body object, body embed, body style, body link')].length,
    hrefs: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')).filter((h) => !h.startsWith('#')),
    status: document.querySelector('#state').textContent,
    text: window.__text,
    hosts: [...document.querySelectorAll('#host-filter option')].map((o) => o.textContent),
    title: document.title,
  }));
  assert.equal(seen.pwned, undefined);
  assert.deepEqual(seen.violations, []);
  assert.equal(seen.foreign, 0, 'no element from the stream');
  assert.deepEqual(seen.hrefs, [], 'every link is a fragment of this page');
  assert.ok(seen.status.startsWith(name), seen.status);
  assert.ok(seen.title.startsWith(name));
  assert.ok(seen.text.includes('<script>window.__pwned=2</script>'), 'the markup shows as text');
  assert.ok(!seen.text.includes(ESC), 'no raw escape');
  assert.ok(seen.hosts.some((h) => h.includes('<img src=x')), JSON.stringify(seen.hosts));
  const allowed = new Set(['', '/', '/app.mjs', '/codec.mjs', '/model.mjs', '/worker.mjs', '/style.css', '/favicon.svg']);
  const foreign = requests.filter((u) => {
    const url = new URL(u);
    return url.origin !== web.origin || !(allowed.has(url.pathname) || url.pathname.startsWith('/dist/'));
  });
  assert.deepEqual(foreign, [], 'no request the page did not make itself');
  await page.screenshot({ path: join(SHOTS, 'hostile.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('the page carries a strict Content-Security-Policy and no inline script or style', async () => {
  const html = readFileSync(join(WEB, 'index.html'), 'utf8');
  const csp = html.match(/http-equiv="Content-Security-Policy" content="([^"]+)"/)?.[1];
  assert.ok(csp, 'a CSP meta tag');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.match(csp, /connect-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|'unsafe-eval'|\*|data:|blob:/);
  assert.doesNotMatch(html.replace(/<script type="module" src="app\.mjs"><\/script>/, ''), /<script|<style|style="| on\w+=/);
  const js = ['app.mjs', 'model.mjs', 'worker.mjs', 'codec.mjs'].map((f) => readFileSync(join(WEB, f), 'utf8')).join('\n');
  assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\('(style|on)/);
});

test('the hostile corpus: every result stream is read without a page error', async () => {
  const dir = join(FIXTURES, 'hostile', 'result');
  const { page, errors } = await open();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.stream'))) {
    const r = await pick(page, join(dir, name));
    assert.ok(['done', 'failed'].includes(r.state), `${name}: ${r.status}`);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  }
  assert.deepEqual(errors, []);
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  await page.close();
});
