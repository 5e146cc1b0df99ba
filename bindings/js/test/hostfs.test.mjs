// The Node host's `host-fs.write-file` holds to the WIT's contract as the native host
// does: exactly the mode asked for (neither the umask nor an existing file's old mode
// survives), a link where the file goes replaced and never written through, nothing
// written outside the grant.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, statSync, lstatSync, symlinkSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeHostFs } from '../lib/hostfs.mjs';

function granted() {
  const root = mkdtempSync(join(tmpdir(), 'runnerwire-hostfs-'));
  const dir = join(root, 'granted');
  mkdirSync(dir);
  return { root, dir, fs: makeHostFs([{ guest: '/artifacts', host: dir, writable: true }]) };
}

const bytes = (text) => new TextEncoder().encode(text);
const mode = (path) => statSync(path).mode & 0o7777;

test('a new file gets exactly the mode asked for, whatever the umask', () => {
  const { dir, fs } = granted();
  const old = process.umask(0o077);
  try {
    fs.writeFile('/artifacts/new', bytes('x'), 0o644);
  } finally {
    process.umask(old);
  }
  assert.equal(mode(join(dir, 'new')), 0o644);
  assert.equal(readFileSync(join(dir, 'new'), 'utf8'), 'x');
});

test('an existing file is rewritten with the new mode, not its old one', () => {
  const { dir, fs } = granted();
  writeFileSync(join(dir, 'old'), 'a much longer old content', { mode: 0o666 });
  fs.writeFile('/artifacts/old', bytes('new'), 0o600);
  assert.equal(mode(join(dir, 'old')), 0o600);
  assert.equal(readFileSync(join(dir, 'old'), 'utf8'), 'new');
});

test('a link where the file goes is replaced, and its target is left alone', () => {
  const { root, dir, fs } = granted();
  const outside = join(root, 'outside');
  writeFileSync(outside, 'untouched', { mode: 0o644 });
  symlinkSync(outside, join(dir, 'link'));
  symlinkSync(join(root, 'nowhere'), join(dir, 'dangling'));
  fs.writeFile('/artifacts/link', bytes('inside'), 0o600);
  fs.writeFile('/artifacts/dangling', bytes('inside too'), 0o600);
  assert.ok(lstatSync(join(dir, 'link')).isFile());
  assert.equal(readFileSync(join(dir, 'link'), 'utf8'), 'inside');
  assert.equal(readFileSync(outside, 'utf8'), 'untouched');
  assert.equal(mode(outside), 0o644);
  assert.ok(!existsSync(join(root, 'nowhere')), 'a dangling link was written through');
});

test('a path through a link out of the grant, or with .. out of it, is refused', () => {
  const { root, dir, fs } = granted();
  mkdirSync(join(root, 'elsewhere'));
  symlinkSync(join(root, 'elsewhere'), join(dir, 'out'));
  assert.throws(() => fs.writeFile('/artifacts/out/file', bytes('x'), 0o600), /escapes/);
  assert.throws(() => fs.writeFile('/artifacts/../escaped', bytes('x'), 0o600), /escapes/);
  assert.ok(!existsSync(join(root, 'elsewhere', 'file')));
  assert.ok(!existsSync(join(root, 'escaped')));
});
