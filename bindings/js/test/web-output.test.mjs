// The page's job output view in headless Chromium (Debian's, or CHROMIUM=path), against
// recorded streams (among them `awx`, an AWX-shaped job recorded with ANSIBLE_FORCE_COLOR)
// and ones built here from them (256 and true colours, secrets in event data): terminal
// order, colours, tasks x hosts counted from the stream, search, links, keyboard, `view.mjs`
// and `runnerwire view`. Screenshots go to target/web/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT, FIXTURES, recordedResultStreams, inScratch } from './helpers.mjs';
import { SHOTS, useBrowser } from './web-harness.mjs';

const MULTI = join(FIXTURES, 'multi', 'result.stream');
const AWX = join(FIXTURES, 'awx', 'result.stream');
// The native CLI's `view` (built by `make build`; RUNNERWIRE_BIN names another).
const NATIVE = process.env.RUNNERWIRE_BIN ?? join(ROOT, 'target', 'release', 'runnerwire');
const ESC = '\u001b';

// ---- what a stream holds, computed here, not by the page ----------------------------------

const parseLine = (l) => JSON.parse(l.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (t) => (t.startsWith('"') ? t : 'null')));
export function eventsOf(text) {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try {
      return parseLine(l);
    } catch {
      return null;
    }
  }).filter((e) => e && e.uuid && Number.isInteger(e.counter));
}
const strip = (s) => s.replace(/\u001b\[[0-9;:]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[\u0000-\u0008\u000a-\u001f\u007f]/g, '');
/** The terminal's lines, event by event in stream order (AWX's start_line..end_line). */
export const terminalLines = (events) => events.flatMap((e) => (e.stdout ? e.stdout.split(/\r?\n/).map((l) => ({ counter: e.counter, text: strip(l) })) : []));

function resultOf(e) {
  const d = e.event_data ?? {};
  const changed = Boolean(d.res?.changed);
  if (/^runner_(item_)?on_ok$|^runner_on_async_ok$/.test(e.event)) return changed ? 'changed' : 'ok';
  if (/^runner_(item_)?on_failed$|^runner_on_async_failed$/.test(e.event)) return d.ignore_errors ? 'ignored' : 'failed';
  if (/^runner_(item_)?on_skipped$/.test(e.event)) return 'skipped';
  if (e.event === 'runner_on_unreachable') return 'unreachable';
  return '';
}

/** Tasks in order, each host's final result (item results only when there is no final one);
 * a failed, not ignored result after which the host still has results in the same play was
 * rescued (ansible reports rescues only as a count in the recap; the tests check them there). */
function taskTable(events) {
  const tasks = [];
  const byUuid = new Map();
  let play = -1;
  for (const e of events) {
    const d = e.event_data ?? {};
    if (e.event === 'playbook_on_play_start') play++;
    if (/^playbook_on_(handler_|cleanup_)?task_start$/.test(e.event)) {
      tasks.push({ name: d.task ?? d.name, play, hosts: {} });
      byUuid.set(d.task_uuid, tasks.at(-1));
      continue;
    }
    const r = resultOf(e);
    const t = byUuid.get(d.task_uuid) ?? tasks.at(-1);
    if (!r || !d.host || !t) continue;
    const item = e.event.startsWith('runner_item_on_');
    if (!item || !t.hosts[d.host] || t.hosts[d.host].item) t.hosts[d.host] = { res: r, item };
  }
  const later = (i, host) => tasks.slice(i + 1).some((t) => t.play === tasks[i].play && t.hosts[host]);
  return tasks.map((t, i) => ({
    name: t.name,
    hosts: Object.fromEntries(Object.entries(t.hosts).map(([h, c]) => [h, c.res === 'failed' && later(i, h) ? 'rescued' : c.res])),
  }));
}

/** The SGR styles of one stdout line as the page's classes ('b' bold, 'fN' colour N), per
 * styled run; `state` carries a style left open to the next line. Only the codes
 * ansible-playbook writes are known: any other fails the test rather than being guessed. */
function sgrRuns(line, state) {
  const runs = [];
  let last = 0;
  const push = (text) => {
    const classes = [state.bold ? 'b' : '', state.fg !== null ? `f${state.fg}` : ''].filter(Boolean).sort().join(' ');
    if (strip(text) && classes) runs.push([strip(text), classes]);
  };
  for (const m of line.matchAll(/\u001b\[([0-9;]*)m/g)) {
    push(line.slice(last, m.index));
    last = m.index + m[0].length;
    for (const code of (m[1] || '0').split(';').map(Number)) {
      if (code === 0) Object.assign(state, { bold: false, fg: null });
      else if (code === 1) state.bold = true;
      else if (code === 22) state.bold = false;
      else if (code >= 30 && code <= 37) state.fg = code - 30;
      else if (code >= 90 && code <= 97) state.fg = code - 90 + 8;
      else if (code === 39) state.fg = null;
      else throw new Error(`an SGR code this test does not know: ${code}`);
    }
  }
  push(line.slice(last));
  return runs;
}

/** Each terminal line's styled runs, as terminalLines orders the lines. */
const styledLines = (events) => events.flatMap((e) => {
  if (!e.stdout) return [];
  const state = { bold: false, fg: null };
  return e.stdout.split(/\r?\n/).map((l) => sgrRuns(l, state));
});

// ---- streams built from recorded ones -----------------------------------------------------

/** Rewrites a recorded stream's event lines with `edit(event)`; other lines stay as recorded. */
export function rewrite(path, edit) {
  return readFileSync(path, 'utf8').split('\n').map((l) => {
    if (!l.startsWith('{') || !l.includes('"counter"')) return l;
    let e;
    try {
      e = JSON.parse(l);
    } catch {
      return l; // NaN and Infinity: kept as recorded
    }
    return JSON.stringify(edit(e) ?? e);
  }).join('\n');
}

/** Colours as ansible-playbook prints them under ANSIBLE_FORCE_COLOR, a style spanning lines. */
export function colour(e) {
  const wrap = (code) => (e.stdout = `${ESC}[${code}m${e.stdout}${ESC}[0m`);
  const s = e.stdout ?? '';
  if (!s) return e;
  if (s.startsWith('ok:')) wrap('0;32');
  else if (s.startsWith('changed:')) wrap('0;33');
  else if (s.startsWith('skipping:')) wrap('0;36');
  else if (s.startsWith('fatal:') || s.startsWith('[ERROR]')) wrap('1;31');
  else if (s.includes('PLAY RECAP')) e.stdout = s.replace(/^(\w+)(\s+:)/gm, `${ESC}[0;33m$1${ESC}[0m$2`).replace(/(failed=0)/g, `${ESC}[38;5;208m$1${ESC}[0m`);
  else if (s.startsWith('included:')) e.stdout = `${ESC}[38;2;10;200;90mincluded:${ESC}[0m${s.slice(9)}`;
  return e;
}

const SECRETS = { password: 'hunter2-in-password', api_token: 'tok-abc-in-token', nested: { ssh_private_key: 'PRIVATE-KEY-BYTES' } };
const withSecrets = (e) => {
  if (e.event_data?.res) e.event_data.res.invocation = { module_args: { ...SECRETS, user: 'deploy' } };
  return e;
};

// ---- the page --------------------------------------------------------------------------

const web = useBrowser();

async function open(hash = '', { colorScheme = 'light', viewport = { width: 1280, height: 860 } } = {}) {
  const page = await web.browser.newPage({ colorScheme, viewport });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${web.origin}/${hash}`);
  await page.waitForSelector('body[data-state="ready"], body[data-state="working"]');
  return { page, errors };
}

async function pick(page, file) {
  await page.setInputFiles('#file', file);
  await page.waitForSelector('body[data-state="done"], body[data-state="failed"]', { timeout: 60000 });
  return page.evaluate(() => ({ state: document.body.dataset.state, status: document.querySelector('#state').textContent }));
}

/** Every output row, scrolling the virtual list from top to bottom. */
async function collectOutput(page) {
  return page.evaluate(async () => {
    const out = document.querySelector('#output');
    const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
    const rows = new Map();
    out.scrollTop = 0;
    for (;;) {
      await frame();
      for (const row of out.querySelectorAll('.row')) {
        rows.set(Number(row.dataset.line), {
          counter: Number(row.dataset.counter),
          text: row.querySelector('.t').textContent,
          classes: [...row.querySelectorAll('.t span')].map((s) => [s.textContent, s.className, s.style.color]),
        });
      }
      if (out.scrollTop + out.clientHeight >= out.scrollHeight - 1) break;
      out.scrollTop += out.clientHeight;
    }
    return [...rows].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
  });
}

test('every recorded stream: the output is every event stdout line, in counter order, as the terminal printed it', async () => {
  for (const { name, path } of recordedResultStreams()) {
    const { page, errors } = await open();
    const r = await pick(page, path);
    assert.equal(r.state, 'done', `${name}: ${r.status}`);
    const expected = terminalLines(eventsOf(readFileSync(path, 'utf8')));
    const rows = await collectOutput(page);
    assert.deepEqual(rows.map((x) => [x.counter, x.text]), expected.map((x) => [x.counter, x.text]), name);
    if (name === 'multi') {
      // The banner, then that task's host lines: not grouped by host.
      const at = rows.findIndex((x) => x.text.startsWith('TASK [Fail but carry on]'));
      assert.match(rows[at + 1].text, /^\[ERROR\]: Task failed|^fatal: \[/);
      assert.ok(rows.slice(at, at + 14).some((x) => x.text.startsWith('fatal: [db1]: FAILED!')));
      await page.screenshot({ path: join(SHOTS, 'output-multi.png') });
    }
    assert.deepEqual(errors, [], name);
    await page.close();
  }
});

test('ANSI colours render as styled text, carried across lines; no escape code reaches the page', async () => {
  await inScratch(async (dir) => {
    const file = join(dir, 'coloured.stream');
    writeFileSync(file, rewrite(MULTI, colour));
    for (const colorScheme of ['light', 'dark']) {
      const { page, errors } = await open('', { colorScheme });
      const r = await pick(page, file);
      assert.equal(r.state, 'done', r.status);
      const rows = await collectOutput(page);
      const expected = terminalLines(eventsOf(readFileSync(file, 'utf8')));
      assert.deepEqual(rows.map((x) => x.text), expected.map((x) => x.text));
      assert.ok(rows.every((x) => !x.text.includes(ESC) && !/\[0;3\dm|\[0m/.test(x.text)), 'no raw escape codes');
      const line = (re) => rows.find((x) => re.test(x.text));
      // ok: green (32 -> colour 2), on its first line and on the lines the style spans.
      assert.deepEqual(line(/^ok: \[web1\] => \(item=1\)/).classes[0].slice(0, 2), ['ok: [web1] => (item=1) => {', 'f2']);
      assert.equal(rows[rows.indexOf(line(/^ok: \[web1\] => \(item=1\)/)) + 1].classes[0][1], 'f2');
      assert.equal(line(/^changed: \[web2\]/).classes[0][1], 'f3');
      assert.deepEqual(line(/^fatal: \[db1\]/).classes[0][1].split(' ').sort(), ['b', 'f1']);
      assert.equal(line(/^skipping: \[db1\]/).classes[0][1], 'f6');
      assert.equal(line(/^included:/).classes[0][2], 'rgb(10, 200, 90)', 'true colour');
      const recap = line(/^web1\s+: ok=/);
      assert.equal(recap.classes.find((c) => c[0] === 'failed=0')[2], 'rgb(255, 135, 0)', '256-colour 208');
      await page.screenshot({ path: join(SHOTS, `output-coloured-${colorScheme}.png`) });
      assert.deepEqual(errors, []);
      await page.close();
    }
  });
});

test('tasks x hosts: each host result per task as the stream says, the recap from playbook_on_stats, a timeline', async () => {
  for (const name of ['multi', 'failing', 'awx']) {
    const path = join(FIXTURES, name, 'result.stream');
    const events = eventsOf(readFileSync(path, 'utf8'));
    const { page, errors } = await open();
    await pick(page, path);
    await page.click('#tab-tasks');
    const shown = await page.evaluate(() => ({
      tasks: [...document.querySelectorAll('#task-table tbody tr')].map((tr) => ({
        name: tr.querySelector('th a').textContent,
        hosts: Object.fromEntries([...tr.querySelectorAll('td[data-result]')].map((td) => [td.dataset.host, td.dataset.result])),
        duration: tr.querySelectorAll('td')[1].textContent,
      })),
      recap: Object.fromEntries([...document.querySelectorAll('#recap tbody tr')].map((tr) => [tr.dataset.host, Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.key, Number(td.textContent)]))])),
    }));
    const table = taskTable(events);
    assert.deepEqual(shown.tasks.map(({ name: n, hosts }) => ({ name: n, hosts })), table, name);
    // Failed, ignored and rescued cells per host agree with ansible's own recap counts.
    const stats0 = events.findLast((e) => e.event === 'playbook_on_stats')?.event_data ?? {};
    for (const [res, key] of [['failed', 'failures'], ['ignored', 'ignored'], ['rescued', 'rescued']]) {
      const cells = {};
      for (const t of table) for (const [h, r] of Object.entries(t.hosts)) if (r === res) cells[h] = (cells[h] ?? 0) + 1;
      assert.deepEqual(cells, Object.fromEntries(Object.entries(stats0[key] ?? {}).filter(([, n]) => n > 0)), `${name}: ${res} cells against the recap`);
    }
    assert.ok(shown.tasks.every((t) => /\d+(\.\d+)? m?s$/.test(t.duration)), JSON.stringify(shown.tasks.map((t) => t.duration)));
    const stats = events.findLast((e) => e.event === 'playbook_on_stats')?.event_data ?? {};
    for (const [host, row] of Object.entries(shown.recap)) {
      assert.deepEqual(row, {
        ok: stats.ok?.[host] ?? 0, changed: stats.changed?.[host] ?? 0, unreachable: stats.dark?.[host] ?? 0, failed: stats.failures?.[host] ?? 0,
        skipped: stats.skipped?.[host] ?? 0, rescued: stats.rescued?.[host] ?? 0, ignored: stats.ignored?.[host] ?? 0,
      }, `${name} recap ${host}`);
    }
    await page.screenshot({ path: join(SHOTS, `tasks-${name}.png`), fullPage: true });
    await page.click('#tab-timeline');
    const bars = await page.locator('#timeline .bar').count();
    assert.equal(bars, taskTable(events).length);
    assert.equal(await page.locator('#slowest li').count(), Math.min(10, bars));
    await page.screenshot({ path: join(SHOTS, `timeline-${name}.png`), fullPage: true });
    // A host cell links to that host's event in the output.
    await page.click('#tab-tasks');
    await page.click('#task-table td[data-result="failed"] a, #task-table td[data-result="ignored"] a');
    const sel = await page.evaluate(() => ({ tab: document.querySelector('#output-view').hidden, counter: document.querySelector('#details').dataset.counter, host: document.querySelector('#details dd[data-key="host"]')?.textContent }));
    assert.equal(sel.tab, false);
    const ev = events.find((e) => e.counter === Number(sel.counter));
    assert.match(ev.event, /runner_on_failed/);
    assert.equal(sel.host, ev.event_data.host);
    assert.deepEqual(errors, [], name);
    await page.close();
  }
});

test('a recorded AWX job: its own ANSIBLE_FORCE_COLOR colours, rescued and ignored results, search, a link to an event', async () => {
  const events = eventsOf(readFileSync(AWX, 'utf8'));
  const lines = terminalLines(events);
  const styles = styledLines(events);
  // The recording is coloured (green, yellow, red, cyan and bold at least), or this test proves nothing.
  const classes = new Set(styles.flat().map(([, c]) => c));
  for (const c of ['f2', 'f3', 'f1', 'f6']) assert.ok(classes.has(c), `the recording has no ${c} run: ${[...classes]}`);
  assert.ok([...classes].some((c) => c.split(' ').includes('b')), 'a bold run');
  for (const colorScheme of ['light', 'dark']) {
    const { page, errors } = await open('', { colorScheme });
    const r = await pick(page, AWX);
    assert.match(r.status, /^result\.stream: a complete, valid result stream/);
    const rows = await collectOutput(page);
    assert.deepEqual(rows.map((x) => [x.counter, x.text]), lines.map((x) => [x.counter, x.text]));
    assert.ok(rows.every((x) => !x.text.includes(ESC) && !/\[\d+(;\d+)*m/.test(x.text)), 'no raw escape codes');
    // Every styled run, line by line, as the recorded escapes say.
    assert.deepEqual(rows.map((x) => x.classes.filter(([, c]) => c).map(([t, c]) => [t, c.split(' ').sort().join(' ')])), styles);
    await page.screenshot({ path: join(SHOTS, `output-awx-${colorScheme}.png`) });
    assert.deepEqual(errors, []);
    await page.close();
  }

  // Rescued and ignored cells, where the stream has them, each a link to its event.
  const table = taskTable(events);
  const find = (res) => table.flatMap((t) => Object.entries(t.hosts).filter(([, r]) => r === res).map(([h]) => ({ task: t.name, host: h })));
  const rescued = find('rescued');
  const ignored = find('ignored');
  assert.ok(rescued.length > 0 && ignored.length > 0, 'the recording has a rescued and an ignored result');
  const { page, errors } = await open();
  await pick(page, AWX);
  await page.click('#tab-tasks');
  const cell = (task, host) => page.evaluate(([t, h]) => {
    const tr = [...document.querySelectorAll('#task-table tbody tr')].find((x) => x.querySelector('th a').textContent === t);
    const td = tr?.querySelector(`td[data-host="${CSS.escape(h)}"]`);
    return td && { result: td.dataset.result, text: td.querySelector('a').textContent, href: td.querySelector('a').getAttribute('href') };
  }, [task, host]);
  for (const [res, where] of [['rescued', rescued], ['ignored', ignored]]) {
    for (const { task, host } of where) {
      const shown = await cell(task, host);
      assert.equal(shown?.result, res, `${task} on ${host}`);
      assert.equal(shown.text, res);
      // The cell's link names the host's failed event for that task.
      const n = Number(new URLSearchParams(shown.href.slice(1)).get('event'));
      const ev = events.find((e) => e.counter === n);
      assert.equal(ev?.event, 'runner_on_failed', `${task} on ${host}: ${shown.href}`);
      assert.equal(ev.event_data.host, host);
      assert.equal(ev.event_data.task, task);
    }
  }
  await page.screenshot({ path: join(SHOTS, 'tasks-awx-rescued.png'), fullPage: true });

  // Search over the output: the lines holding the word, in order, with next.
  await page.click('#tab-output');
  const word = 'migration';
  const hits = lines.filter((l) => l.text.toLowerCase().includes(word));
  assert.ok(hits.length >= 2);
  await page.fill('#search', word.toUpperCase());
  await page.press('#search', 'Enter');
  const state = () => page.evaluate(() => ({ count: document.querySelector('#matches').textContent, cur: document.querySelector('.row.cur')?.dataset.counter, mark: document.querySelector('.row.cur mark')?.textContent }));
  let now = await state();
  assert.equal(now.count, `1 of ${hits.length}`);
  assert.equal(Number(now.cur), hits[0].counter);
  assert.equal(now.mark, word);
  await page.click('#next');
  now = await state();
  assert.equal(Number(now.cur), hits[1].counter);
  assert.deepEqual(errors, []);
  await page.close();

  // A link opens at its event: the rescue task's result on the rescued host.
  const rescue = events.find((e) => e.event === 'runner_on_ok' && e.event_data.host === rescued[0].host && e.event_data.task === 'Roll the migration back');
  assert.ok(rescue, 'the rescue task ran on the rescued host');
  const linked = await open(`#event=${rescue.counter}`);
  await pick(linked.page, AWX);
  await linked.page.waitForFunction((n) => document.querySelector('#details')?.dataset.counter === String(n), rescue.counter);
  const at = await linked.page.evaluate(() => {
    const row = document.querySelector('.row.sel');
    const out = document.querySelector('#output').getBoundingClientRect();
    const box = row?.getBoundingClientRect();
    return { counter: row?.dataset.counter, onScreen: box && box.top >= out.top && box.bottom <= out.bottom, host: document.querySelector('#details dd[data-key="host"]')?.textContent };
  });
  assert.deepEqual(at, { counter: String(rescue.counter), onScreen: true, host: rescued[0].host });
  await linked.page.screenshot({ path: join(SHOTS, 'link-awx-rescue.png') });
  assert.deepEqual(linked.errors, []);
  await linked.page.close();
});

test('search: output matches with next and previous, event data matches, host and result filters', async () => {
  const events = eventsOf(readFileSync(MULTI, 'utf8'));
  const lines = terminalLines(events);
  const { page, errors } = await open();
  await pick(page, MULTI);
  await page.fill('#search', 'FATAL');
  await page.press('#search', 'Enter');
  const fatal = lines.filter((l) => l.text.toLowerCase().includes('fatal'));
  const state = () => page.evaluate(() => ({ count: document.querySelector('#matches').textContent, cur: document.querySelector('.row.cur')?.dataset.counter, mark: document.querySelector('.row.cur mark')?.textContent, sel: document.querySelector('.row.sel')?.dataset.counter }));
  let s = await state();
  assert.equal(s.count, `1 of ${fatal.length}`);
  assert.equal(Number(s.cur), fatal[0].counter);
  assert.equal(s.mark, 'fatal');
  await page.click('#next');
  s = await state();
  assert.equal(s.count, `2 of ${fatal.length}`);
  assert.equal(Number(s.cur), fatal[1].counter);
  await page.press('#search', 'Shift+Enter');
  s = await state();
  assert.equal(s.count, `1 of ${fatal.length}`);
  await page.click('#prev');
  assert.equal((await state()).count, `${fatal.length} of ${fatal.length}`);

  // Event data: a uuid is in event 38's data, not in any output line.
  const target = events.find((e) => e.counter === 38);
  await page.check('#search-data');
  await page.fill('#search', target.uuid);
  await page.press('#search', 'Enter');
  await page.waitForFunction(() => /of 1$/.test(document.querySelector('#matches').textContent));
  assert.equal(Number((await state()).cur), 38);
  await page.uncheck('#search-data');

  // Filters: only db1's failed lines (and the banners) remain.
  await page.fill('#search', '');
  await page.press('#search', 'Enter');
  await page.selectOption('#host-filter', 'db1');
  await page.selectOption('#result-filter', 'ignored');
  const rows = await collectOutput(page);
  const byCounter = new Map(events.map((e) => [e.counter, e]));
  const hosted = rows.filter((r) => byCounter.get(r.counter).event_data?.host);
  assert.ok(hosted.length > 0);
  assert.ok(hosted.every((r) => byCounter.get(r.counter).event_data.host === 'db1' && resultOf(byCounter.get(r.counter)) === 'ignored'), JSON.stringify(hosted));
  assert.ok(rows.some((r) => r.text.startsWith('TASK [Fail but carry on]')));
  await page.screenshot({ path: join(SHOTS, 'filtered.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('links: #event=N opens at that event with its data, secrets masked as inspect masks them; folds and keys', async () => {
  await inScratch(async (dir) => {
    const file = join(dir, 'secrets.stream');
    writeFileSync(file, rewrite(MULTI, withSecrets));
    const { page, errors } = await open('#event=62');
    await pick(page, file);
    await page.waitForFunction(() => document.querySelector('#details pre.data').textContent.startsWith('{'));
    const shown = await page.evaluate(() => {
      const row = document.querySelector('.row.sel');
      const out = document.querySelector('#output').getBoundingClientRect();
      const box = row?.getBoundingClientRect();
      return { counter: row?.dataset.counter, onScreen: box && box.top >= out.top && box.bottom <= out.bottom, details: document.querySelector('#details').dataset.counter, data: document.querySelector('#details pre.data').textContent, hash: location.hash };
    });
    assert.equal(shown.counter, '62');
    assert.ok(shown.onScreen, 'the linked event is on screen');
    assert.equal(shown.details, '62');
    const data = JSON.parse(shown.data);
    assert.deepEqual(data.event_data.res.invocation.module_args, { password: '********', api_token: '********', nested: { ssh_private_key: '********' }, user: 'deploy' });
    assert.ok(!/hunter2|tok-abc|PRIVATE-KEY/.test(shown.data));
    await page.screenshot({ path: join(SHOTS, 'link-event-62.png') });

    // A byte offset: the event that starts there.
    const text = readFileSync(file, 'utf8');
    const at = Buffer.byteLength(text.slice(0, text.indexOf('"counter": 24,') >= 0 ? text.indexOf('"counter": 24,') : text.indexOf('"counter":24,')).replace(/[^\n]*$/, ''));
    await page.evaluate((o) => (location.hash = `offset=${o}`), at);
    await page.waitForFunction(() => document.querySelector('#details').dataset.counter === '24');

    // Keyboard: arrows move the selection, Left folds the task, Right unfolds it.
    await page.focus('#output');
    await page.keyboard.press('ArrowDown');
    // Rows are drawn on the next animation frame: wait for it rather than read them at once.
    await page.waitForFunction(() => document.querySelector('.row.sel')?.dataset.counter !== '24', null, { timeout: 5000 }).catch(() => {});
    assert.equal(await page.evaluate(() => document.querySelector('.row.sel').dataset.counter), '25');
    const before = await page.locator('.row').count();
    await page.keyboard.press('ArrowLeft');
    await page.waitForFunction(() => ![...document.querySelectorAll('.row .t')].some((t) => t.textContent.startsWith('changed: [web2]')));
    const folded = await page.evaluate(() => ({ rows: [...document.querySelectorAll('.row .t')].map((t) => t.textContent), sel: document.querySelector('.row.sel .t')?.textContent }));
    assert.ok(!folded.rows.some((t) => t.startsWith('changed: [web2]')), 'the task folded');
    assert.match(folded.sel, /^TASK \[Change something and notify\]/);
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => [...document.querySelectorAll('.row .t')].some((t) => t.textContent.startsWith('changed: [web2]')));
    assert.ok(before > 0);
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'search');
    assert.deepEqual(errors, []);
    await page.close();
  });
});

/** The URL a view server prints (the first line that has one). */
function servedUrl(child, name) {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\/#\S+/);
      if (m) resolve(m[0]);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}: ${out}`)));
  });
}

test('view.mjs serves the page and one stream, and the page opens it from the link', async () => {
  const child = spawn(process.execPath, [join(ROOT, 'bindings', 'js', 'view.mjs'), MULTI, '--no-open'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await servedUrl(child, 'view.mjs');
    const page = await web.browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const response = await page.goto(`${url}&event=100`);
    assert.match(response.headers()['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'/);
    await page.waitForSelector('body[data-state="done"]', { timeout: 30000 });
    assert.match(await page.textContent('#state'), /^result\.stream: a complete, valid result stream/);
    assert.equal(await page.evaluate(() => document.querySelector('.row.sel')?.dataset.counter), '100');
    // Nothing else of the disk is served.
    const base = new URL(url).origin;
    for (const path of ['/../fixtures/multi/result.stream', '/%2e%2e/Makefile', '/dist/../../Makefile']) {
      assert.equal((await fetch(base + path)).status, 404, path);
    }
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    child.kill();
  }
});

test('runnerwire view (the native CLI) serves the page and one stream, and the page opens it from the link', async () => {
  assert.ok(existsSync(NATIVE), `no native binary at ${NATIVE}: make build (or set RUNNERWIRE_BIN)`);
  const events = eventsOf(readFileSync(AWX, 'utf8'));
  const last = events.at(-1).counter;
  // No --web: the binary finds the checkout's web/ from target/release/.
  const env = { ...process.env };
  delete env.RUNNERWIRE_WEB;
  const child = spawn(NATIVE, ['view', AWX, '--no-open'], { stdio: ['ignore', 'pipe', 'inherit'], env });
  try {
    const url = await servedUrl(child, 'runnerwire view');
    assert.match(url, /#src=stream&name=result\.stream$/);
    const page = await web.browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const response = await page.goto(`${url}&event=${last}`);
    const headers = response.headers();
    assert.match(headers['content-security-policy'], /default-src 'none'; script-src 'self' 'wasm-unsafe-eval'/);
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['referrer-policy'], 'no-referrer');
    await page.waitForSelector('body[data-state="done"]', { timeout: 30000 });
    assert.match(await page.textContent('#state'), /^result\.stream: a complete, valid result stream/);
    await page.waitForFunction((n) => document.querySelector('.row.sel')?.dataset.counter === String(n), last);
    const rows = await collectOutput(page);
    assert.deepEqual(rows.map((x) => [x.counter, x.text]), terminalLines(events).map((x) => [x.counter, x.text]));
    await page.screenshot({ path: join(SHOTS, 'native-view-awx.png') });
    // Nothing else of the disk is served, and the stream is the file's bytes.
    const base = new URL(url).origin;
    assert.deepEqual(Buffer.from(await (await fetch(`${base}/stream`)).arrayBuffer()), readFileSync(AWX));
    for (const path of ['/../fixtures/awx/result.stream', '/%2e%2e/Makefile', '/dist/../../Makefile', '/%2e%2e%2fMakefile']) {
      assert.equal((await fetch(base + path)).status, 404, path);
    }
    assert.equal((await fetch(`${base}/stream`, { method: 'POST' })).status, 405);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    child.kill();
  }
});
