// `process` with `resume`: a run cut part way, fed the whole stream again, ends with an
// unbroken run's files and output; another stream's files on disk are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { process as processStage, StreamError, EXIT } from '../index.mjs';
import { CLI, FIXTURES, inScratch } from './helpers.mjs';

const stream = (name) => readFileSync(join(FIXTURES, name, 'result.stream'));
const cli = (args, input) => spawnSync(globalThis.process.execPath, [CLI, ...args], { input, maxBuffer: 1 << 28 });

/** Each event file's content and change time (a rewrite or chmod changes ctime). */
function eventFiles(pdd) {
  const dir = join(pdd, 'artifacts', 'job', 'job_events');
  return Object.fromEntries(readdirSync(dir).map((n) => [n, { bytes: readFileSync(join(dir, n)).toString('latin1'), ctime: lstatSync(join(dir, n), { bigint: true }).ctimeNs }]));
}

async function run(input, pdd, options = {}) {
  const out = [];
  try {
    const result = await processStage(input, pdd, { ident: 'job', onOutput: (b) => out.push(Buffer.from(b)), ...options });
    return { result, out: Buffer.concat(out).toString() };
  } catch (error) {
    return { error, out: Buffer.concat(out).toString() };
  }
}

test('resume: a run cut mid-line continues with the whole stream as an unbroken run', async () => {
  await inScratch(async (dir) => {
    const bytes = stream('multi');
    const unbroken = await run(bytes, join(dir, 'unbroken'));
    // Inside the 40th line: events before it are written, then the stream breaks.
    let cut = 0;
    for (let i = 0; i < 40; i++) cut = bytes.indexOf(10, cut) + 1;
    const pdd = join(dir, 'cut');
    const first = await run(bytes.subarray(0, cut + 30), pdd);
    assert.ok(first.error instanceof StreamError && first.error.exitCode === EXIT.BAD_STREAM, String(first.error));
    const written = eventFiles(pdd);
    assert.ok(Object.keys(written).length > 5);

    const second = await run(bytes, pdd, { resume: true });
    assert.equal(second.error, undefined, String(second.error));
    assert.equal(second.result.exitCode, unbroken.result.exitCode);
    assert.equal(second.result.eventsWritten, unbroken.result.eventsWritten - Object.keys(written).length, 'only the missing events are written');
    assert.equal(first.out + second.out, unbroken.out);
    const after = eventFiles(pdd);
    assert.deepEqual(Object.keys(after).sort(), Object.keys(eventFiles(join(dir, 'unbroken'))).sort());
    for (const [name, file] of Object.entries(written)) assert.deepEqual(after[name], file, `${name} was written again`);
    const unbrokenFiles = eventFiles(join(dir, 'unbroken'));
    for (const [name, file] of Object.entries(after)) assert.equal(file.bytes, unbrokenFiles[name].bytes, name);
  });
});

test('resume: another stream on disk is refused with exit 65 and nothing written or output', async () => {
  await inScratch(async (dir) => {
    const pdd = join(dir, 'pdd');
    await run(stream('simple'), pdd);
    const before = eventFiles(pdd);
    const other = await run(stream('multi'), pdd, { resume: true });
    assert.ok(other.error instanceof StreamError, String(other.error));
    assert.equal(other.error.exitCode, EXIT.BAD_STREAM);
    assert.match(other.error.message, /^cannot-resume at byte \d+, line \d+: cannot resume: job_events\/1-[^ ]+\.json is on disk for counter 1, but the stream's event is job_events\/1-[^ ]+\.json$/);
    assert.equal(other.out, '');
    assert.deepEqual(eventFiles(pdd), before);
  });
});

test('resume from the CLI: --resume prints only what the cut run did not, and refuses another stream', async () => {
  await inScratch(async (dir) => {
    const bytes = stream('simple');
    const whole = cli(['process', join(dir, 'unbroken'), '--ident', 'job'], bytes);
    const cut = bytes.indexOf(Buffer.from('{"zipfile"')) + 100;
    const first = cli(['process', join(dir, 'pdd'), '--ident', 'job'], bytes.subarray(0, cut));
    assert.equal(first.status, 65);
    const second = cli(['process', join(dir, 'pdd'), '--ident', 'job', '--resume'], bytes);
    assert.equal(second.status, whole.status, second.stderr.toString());
    assert.equal(first.stdout.toString() + second.stdout.toString(), whole.stdout.toString());
    assert.deepEqual(Object.keys(eventFiles(join(dir, 'pdd'))).sort(), Object.keys(eventFiles(join(dir, 'unbroken'))).sort());
    const other = cli(['process', join(dir, 'pdd'), '--ident', 'job', '--resume'], stream('multi'));
    assert.equal(other.status, 65);
    assert.match(other.stderr.toString(), /^runnerwire: cannot-resume at byte \d+, line \d+: cannot resume: .+\n$/);
  });
});
