import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync, readdirSync, lstatSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { inspect, validate, frames, process as processStage, transmit, StreamError, EXIT } from '../index.mjs';
import { recordedResultStreams, damagedCases, FIXTURES, inScratch } from './helpers.mjs';

test('frames of every recorded result stream: each JSON line at its offset, the archive decoded, eof', async () => {
  for (const { name, path } of recordedResultStreams()) {
    const bytes = readFileSync(path);
    let last = -1;
    let lines = 0;
    let archiveBytes = 0;
    let sawEof = false;
    for await (const frame of frames(createReadStream(path, { highWaterMark: 997 }))) {
      if (frame.type === 'line') {
        lines++;
        // Upstream writes eof right after the archive's base64, so not every frame starts a line.
        assert.ok(frame.offset > last && bytes[frame.offset] === 0x7b, `${name}: no frame starts at ${frame.offset}`);
        last = frame.offset;
        if (frame.kind === 'eof') sawEof = true;
        // Re-encoded as Python's json.dumps writes it: exactly the line upstream wrote.
        const original = bytes.subarray(frame.offset, bytes.indexOf(10, frame.offset)).toString();
        assert.equal(frame.json, original, `${name} at ${frame.offset}`);
      } else if (frame.type === 'archive-data') archiveBytes += frame.bytes.length;
      else if (frame.type === 'archive-start') assert.ok(frame.size > 0);
    }
    assert.ok(sawEof, name);
    assert.ok(archiveBytes > 0, `${name}: the artifacts archive was decoded`);
    assert.ok(lines >= 5, name);
  }
});

test('a truncated stream throws a StreamError with its offset', async () => {
  const bytes = readFileSync(join(FIXTURES, 'simple', 'result.stream'));
  // Five whole lines, then nothing: no archive, no eof.
  let end = 0;
  for (let i = 0; i < 5; i++) end = bytes.indexOf(10, end) + 1;
  const cut = bytes.subarray(0, end);
  await assert.rejects(
    (async () => {
      for await (const _ of frames(cut));
    })(),
    (e) => e instanceof StreamError && e.kind === 'truncated' && e.problem === 'missing-eof' && e.line === 6 && e.exitCode === EXIT.BAD_STREAM
      && e.message === `missing-eof at byte ${end}, line 6: the stream ends without an eof frame`
      && e.jobExplanation.startsWith('Unexpected empty line encountered during worker stream.') && e.jobExplanation.endsWith(`(runnerwire: ${e.message})`),
  );
});

test('inspect finds each damaged case where the fixtures say, and validate names it', async () => {
  for (const c of damagedCases()) {
    const path = join(FIXTURES, 'damaged', `${c.name}.stream`);
    const limits = Object.fromEntries(Object.entries(c.limits ?? {}).map(([k, v]) => [k.replace(/_([a-z])/g, (_, ch) => ch.toUpperCase()), v]));
    const result = await inspect(createReadStream(path), { limits });
    const problems = result.jsonLines.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.problem).map((l) => l.problem);
    assert.ok(problems.some((p) => p.kind === c.kind && p.offset === c.offset && p.line === c.line), `${c.name}: ${JSON.stringify(problems)}`);
    assert.equal(result.summary.problems, problems.length);
    const first = await validate(readFileSync(path), { limits });
    assert.match(first, new RegExp(`^[a-z-]+ at byte \\d+, line \\d+: `), c.name);
  }
  for (const { path } of recordedResultStreams()) assert.equal(await validate(readFileSync(path)), undefined, path);
});

test('process writes upstream\'s tree for a recorded stream, prints its stdout, exit code from the status', async () => {
  for (const name of ['simple', 'failing']) {
    await inScratch(async (dir) => {
      const out = [];
      const result = await processStage(createReadStream(join(FIXTURES, name, 'result.stream')), join(dir, 'pdd'), {
        ident: 'job',
        onOutput: (b) => out.push(Buffer.from(b)),
      });
      const expectedStdout = readFileSync(join(FIXTURES, name, 'process.stdout'));
      assert.equal(Buffer.concat(out).toString(), expectedStdout.toString(), name);
      const events = readdirSync(join(dir, 'pdd', 'artifacts', 'job', 'job_events'));
      assert.equal(events.length, result.eventsWritten);
      for (const e of events) assert.equal(lstatSync(join(dir, 'pdd', 'artifacts', 'job', 'job_events', e)).mode & 0o777, 0o600);
      assert.equal(result.exitCode, name === 'simple' ? 0 : 2, `${name}: ${JSON.stringify(result)}`);
      assert.equal(lstatSync(join(dir, 'pdd', 'daemon.log')).mode & 0o777, 0o600);
    });
  }
});

test('process refuses a link planted in the artifact dir and writes nothing outside it', async () => {
  await inScratch(async (dir) => {
    const victim = join(dir, 'victim');
    mkdirSync(victim);
    const artifacts = join(dir, 'pdd', 'artifacts', 'job');
    mkdirSync(join(artifacts, 'job_events'), { recursive: true });
    const stream = readFileSync(join(FIXTURES, 'simple', 'result.stream')).toString();
    const first = JSON.parse(stream.split('\n').find((l) => l.includes('"counter": 1,') || l.includes('"counter": 1}')));
    // A link where the first event's file goes: replaced, never written through.
    symlinkSync(join(victim, 'pwned'), join(artifacts, 'job_events', `1-${first.uuid}.json`));
    await processStage(Buffer.from(stream), join(dir, 'pdd'), { ident: 'job' });
    assert.deepEqual(readdirSync(victim), []);
    assert.ok(lstatSync(join(artifacts, 'job_events', `1-${first.uuid}.json`)).isFile());
  });
});

test('every hostile result stream is refused (or kept harmless) and nothing lands outside the target', async () => {
  const hostile = join(FIXTURES, 'hostile');
  const cases = JSON.parse(readFileSync(join(hostile, 'cases.json'), 'utf8')).cases.filter((c) => c.stage === 'process');
  assert.ok(cases.length >= 30);
  const limitFlags = { '--max-unpacked-bytes': 'maxUnpackedBytes', '--max-entries': 'maxEntries', '--max-line-bytes': 'maxLineBytes', '--max-archive-bytes': 'maxArchiveBytes' };
  for (const c of cases) {
    const limits = {};
    for (let i = 0; i < c.args.length; i += 2) limits[limitFlags[c.args[i]]] = c.args[i + 1];
    await inScratch(async (dir) => {
      mkdirSync(join(dir, 'victim'));
      let outcome;
      try {
        outcome = await processStage(readFileSync(join(hostile, c.stream)), join(dir, 'work'), { ident: 'job', limits });
      } catch (e) {
        assert.ok(e instanceof StreamError, `${c.name}: ${e}`);
        assert.equal(e.exitCode, c.exit, c.name);
      }
      if (c.exit === 0) assert.ok(outcome, `${c.name} was refused`);
      else assert.equal(outcome, undefined, `${c.name} was accepted`);
      assert.deepEqual(readdirSync(join(dir, 'victim')), [], c.name);
      assert.deepEqual(readdirSync(dir).sort(), ['victim', 'work'], c.name);
    });
  }
});

test('transmit makes a job stream that decodes and carries the private data dir', async () => {
  await inScratch(async (dir) => {
    const pdd = join(dir, 'pdd');
    mkdirSync(join(pdd, 'project'), { recursive: true });
    writeFileSync(join(pdd, 'project', 'site.yml'), '- hosts: all\n  tasks: []\n');
    const parts = [];
    for await (const chunk of transmit(pdd, { playbook: 'site.yml', ident: 'abc' })) parts.push(Buffer.from(chunk));
    const stream = Buffer.concat(parts);
    const kinds = [];
    let zipBytes = 0;
    for await (const f of frames(stream, { kind: 'job' })) {
      if (f.type === 'line') kinds.push(f.kind);
      if (f.type === 'line' && f.kind === 'kwargs') assert.equal(JSON.parse(f.json).kwargs.ident, 'abc');
      if (f.type === 'archive-data') zipBytes += f.bytes.length;
    }
    assert.deepEqual(kinds, ['kwargs', 'eof']);
    assert.ok(zipBytes > 100);
    assert.equal(await validate(stream), undefined);
  });
});

test("transmit resolves --inventory by the component's rule: as given, else under <pdd>/inventory/, else exit 2", async () => {
  await inScratch(async (dir) => {
    const pdd = join(dir, 'pdd');
    mkdirSync(join(pdd, 'inventory'), { recursive: true });
    mkdirSync(join(pdd, 'project'), { recursive: true });
    writeFileSync(join(pdd, 'inventory', 'hosts'), 'localhost\n');
    writeFileSync(join(dir, 'direct.ini'), 'localhost\n');
    const kwargs = async (inventory) => {
      for await (const chunk of transmit(pdd, { playbook: 'site.yml', inventory, cwd: dir })) {
        return JSON.parse(Buffer.from(chunk).toString().split('\n')[0]).kwargs;
      }
    };
    // Found under the private data dir, it travels relative to it (the worker's copy).
    assert.equal((await kwargs('hosts')).inventory, 'inventory/hosts');
    assert.equal((await kwargs('./sub/../direct.ini')).inventory, join(dir, 'direct.ini'));
    await assert.rejects(kwargs('missing'), (e) => e.exitCode === EXIT.USAGE && e.message === 'value for --inventory does not appear to be a valid path: missing');
  });
});
