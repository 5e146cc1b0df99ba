import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, FIXTURES, damagedCases, inScratch } from './helpers.mjs';

const cli = (args, input) => spawnSync(process.execPath, [CLI, ...args], { input, maxBuffer: 1 << 28 });

test('process prints what upstream\'s process printed for each recorded job, with its exit code', async () => {
  for (const [name, code] of [['simple', 0], ['failing', 2], ['multi', 0]]) {
    await inScratch(async (dir) => {
      const run = cli(['process', dir, '--ident', 'x'], readFileSync(join(FIXTURES, name, 'result.stream')));
      assert.equal(run.stdout.toString(), readFileSync(join(FIXTURES, name, 'process.stdout')).toString(), name);
      assert.equal(run.status, code, `${name}: ${run.stderr}`);
    });
  }
});

test('validate: exit 0 on a recorded stream, 65 and the problem on stderr for a damaged one', () => {
  assert.equal(cli(['validate', join(FIXTURES, 'simple', 'result.stream')]).status, 0);
  const c = damagedCases()[0];
  const run = cli(['validate', '-'], readFileSync(join(FIXTURES, 'damaged', `${c.name}.stream`)));
  assert.equal(run.status, 65);
  assert.equal(run.stderr.toString(), run.stderr.toString().split('\n')[0] + '\n');
  assert.match(run.stderr.toString(), new RegExp(`^runnerwire: ${c.kind} at byte ${c.offset}, line ${c.line}: `));
});

test('a bad stream to process: 65, one line naming the byte offset; usage errors exit 2', async () => {
  await inScratch(async (dir) => {
    const run = cli(['process', dir], Buffer.from('{"status": "running"}\nnot json\n'));
    assert.equal(run.status, 65);
    assert.equal(run.stderr.toString(), 'runnerwire: foreign-text at byte 22, line 2: text that is not JSON: "not json"\n');
  });
  assert.equal(cli(['process']).status, 2);
  assert.equal(cli(['inspect', '--no-such-flag']).status, 2);
  assert.equal(cli(['inspect', '--max-line-bytes', 'lots']).status, 2);
  const missing = cli(['inspect', '/no/such/stream']);
  assert.equal(missing.status, 74);
  assert.match(missing.stderr.toString(), /^runnerwire: cannot open \/no\/such\/stream/);
});
