// The failures AWX and Receptor users have reported, taken to the Node package's `process`
// (the CLI's side of each is tests/integration/field_failures.rs). Each run has a time limit:
// a hang fails. A damaged stream rejects with a StreamError whose message is the very line
// `validate` prints, whose jobExplanation starts with upstream's words, and every event file
// left is a whole event.

import test from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { spawnSync } from 'node:child_process';

import { process as processStage, StreamError } from '../index.mjs';
import { CLI, FIXTURES, inScratch } from './helpers.mjs';

const LIMIT_MS = 60_000;
const fixture = (name) => readFileSync(join(FIXTURES, name, 'result.stream'));

function linesAt(bytes) {
  const out = [];
  let at = 0;
  while (at < bytes.length) {
    const nl = bytes.indexOf(10, at);
    const end = nl < 0 ? bytes.length : nl + 1;
    out.push({ at, line: bytes.subarray(at, end) });
    at = end;
  }
  return out;
}

const isEvent = (line) => line.includes('"uuid": "') && line.includes('"counter": ') && !line.subarray(0, 10).toString().startsWith('{"status"');

/** What the CLI's validate prints for `bytes`, without the program name. */
function validateLine(bytes) {
  const run = spawnSync(globalThis.process.execPath, [CLI, 'validate', '-'], { input: bytes });
  assert.equal(run.status, 65);
  return run.stderr.toString().trim().replace(/^runnerwire: /, '');
}

/** `promise`, or a failure after the time limit. */
function withinLimit(promise) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${LIMIT_MS} ms: a hang`)), LIMIT_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function eventFiles(pdd) {
  const dir = join(pdd, 'artifacts', 'job', 'job_events');
  return Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name)).toString()]));
}

async function* pieces(bytes, sizes) {
  let i = 0;
  for (let at = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

async function refused(bytes, pdd) {
  try {
    await withinLimit(processStage(bytes, pdd, { ident: 'job', quiet: true }));
  } catch (e) {
    assert.ok(e instanceof StreamError, String(e));
    assert.equal(e.message, validateLine(bytes));
    const whole = new Set(linesAt(bytes).filter(({ line }) => isEvent(line)).map(({ line }) => line.toString().replace(/\n$/, '')));
    for (const [name, content] of Object.entries(eventFiles(pdd))) assert.ok(whole.has(content), `${name} is not a whole event`);
    return e;
  }
  assert.fail('a damaged stream was accepted');
}

test('short reads: a byte at a time and odd sizes give what one read gives', async () => {
  await inScratch(async (dir) => {
    const bytes = fixture('multi');
    const whole = await withinLimit(processStage(bytes, join(dir, 'whole'), { ident: 'job', quiet: true }));
    assert.equal(whole.status, 'successful');
    for (const [name, sizes] of [['bytewise', [1]], ['odd', [7, 4093, 1, 65537, 13]]]) {
      const run = await withinLimit(processStage(pieces(bytes, sizes), join(dir, name), { ident: 'job', quiet: true }));
      assert.equal(run.status, 'successful', name);
      assert.deepEqual(eventFiles(join(dir, name)), eventFiles(join(dir, 'whole')), name);
    }
  });
});

test('an input left open after the eof frame is not waited on', async () => {
  await inScratch(async (dir) => {
    const open = new PassThrough();
    open.write(fixture('simple'));
    // Never ended: as a socket whose writer does not shut down.
    const run = await withinLimit(processStage(open, join(dir, 'pdd'), { ident: 'job', quiet: true }));
    assert.equal(run.status, 'successful');
  });
});

/** The multi-host recording's events repeated past `size` bytes, counters and uuids renumbered. */
function longStream(size) {
  const lines = linesAt(fixture('multi')).map(({ line }) => line.toString());
  const isTemplate = (l) => l.startsWith('{"uuid": "');
  const first = lines.findIndex(isTemplate);
  const last = lines.length - 1 - [...lines].reverse().findIndex(isTemplate);
  const before = lines.slice(0, first).filter((l) => l.includes('"counter": ')).length;
  const out = lines.slice(0, first);
  let length = out.join('').length;
  for (let i = 0; length < size; i++) {
    const hex = (n, w) => n.toString(16).padStart(w, '0');
    const line = lines[first + (i % (last + 1 - first))].replace(/^\{"uuid": "[^"]*", "counter": \d+/, `{"uuid": "${hex(i, 8)}-0000-4000-8000-${hex(i, 12)}", "counter": ${before + i + 1}`);
    out.push(line);
    length += line.length;
  }
  return Buffer.from(out.concat(lines.slice(last + 1)).join(''));
}

test('a stream cut at exactly 10 MiB, inside a line and at the line before: refused, whole event files only', async () => {
  await inScratch(async (dir) => {
    const cut = 10 * 1024 * 1024;
    const bytes = longStream(cut + 1024 * 1024);
    const at = linesAt(bytes.subarray(0, cut)).at(-1).at;
    assert.ok(at < cut);
    const atLine = await refused(bytes.subarray(0, at), join(dir, 'boundary'));
    assert.equal(atLine.problem, 'missing-eof');
    assert.ok(atLine.jobExplanation.startsWith('Unexpected empty line encountered during worker stream.'), atLine.jobExplanation);
    const midLine = await refused(bytes.subarray(0, cut), join(dir, 'mid-line'));
    assert.equal(midLine.problem, 'truncated-line');
    assert.ok(midLine.jobExplanation.startsWith('Failed to JSON parse a line from worker stream.'), midLine.jobExplanation);
  });
});

test('FIFOs where process writes an event file and an artifact are replaced, never opened', async () => {
  await inScratch(async (dir) => {
    const bytes = fixture('simple');
    const pdd = join(dir, 'pdd');
    const events = join(pdd, 'artifacts', 'job', 'job_events');
    mkdirSync(events, { recursive: true });
    const first = JSON.parse(linesAt(bytes).find(({ line }) => isEvent(line)).line.toString());
    const name = `${first.counter}-${first.uuid}.json`;
    for (const path of [join(events, name), join(pdd, 'artifacts', 'job', 'rc')]) {
      assert.equal(spawnSync('mkfifo', [path]).status, 0);
    }
    const run = await withinLimit(processStage(bytes, pdd, { ident: 'job', quiet: true }));
    assert.equal(run.status, 'successful');
    assert.ok(lstatSync(join(events, name)).isFile());
    assert.equal(readFileSync(join(pdd, 'artifacts', 'job', 'rc'), 'utf8'), '0');
  });
});

test('two events glued on one line, a restarted worker and foreign text are refused as validate names them', async () => {
  await inScratch(async (dir) => {
    const bytes = fixture('simple');
    const lines = linesAt(bytes);
    const events = lines.map(({ line }, i) => (isEvent(line) ? i : -1)).filter((i) => i >= 0);
    const third = lines[events[2]].at;
    const glued = Buffer.concat([bytes.subarray(0, third - 1), bytes.subarray(third)]);
    assert.equal((await refused(glued, join(dir, 'glued'))).problem, 'glued-lines');
    const firstRun = bytes.subarray(0, lines[events[3] + 1].at);
    const restarted = Buffer.concat([firstRun, bytes]);
    const repeat = await refused(restarted, join(dir, 'restarted'));
    assert.equal(repeat.problem, 'counter-repeat');
    assert.equal(repeat.offset, firstRun.length + lines[events[0]].at);
    assert.equal(Object.keys(eventFiles(join(dir, 'restarted'))).length, 4);
    const at = lines[4].at;
    const foreign = Buffer.concat([bytes.subarray(0, at), Buffer.from('Traceback (most recent call last):\n'), bytes.subarray(at)]);
    const text = await refused(foreign, join(dir, 'foreign'));
    assert.equal(text.message, `foreign-text at byte ${at}, line 5: text that is not JSON: "Traceback (most recent call last):"`);
  });
});
