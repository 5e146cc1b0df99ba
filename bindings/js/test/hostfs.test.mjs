// The Node host's `fast-writes.write-file` holds to the WIT's contract as the native host
// does: exactly the mode asked for (neither the umask nor an existing file's old mode
// survives), a link where the file goes replaced and never written through, nothing
// written outside the grant.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, statSync, lstatSync, symlinkSync, mkdirSync, existsSync, readdirSync, readlinkSync, chmodSync } from 'node:fs';
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
  assert.throws(() => fs.writeFile('/artifacts/out/file', bytes('x'), 0o600), (e) => e.tag === 'failed' && /escapes/.test(e.val));
  assert.throws(() => fs.writeFile('/artifacts/../escaped', bytes('x'), 0o600), (e) => e.tag === 'failed' && /escapes/.test(e.val));
  assert.ok(!existsSync(join(root, 'elsewhere', 'file')));
  assert.ok(!existsSync(join(root, 'escaped')));
});

// ---- fixtures/hostile/host-fs.json: the table the native host-fs is held to as well ----------

const TABLE = JSON.parse(readFileSync(new URL('../../../fixtures/hostile/host-fs.json', import.meta.url), 'utf8'));

/** Everything under `dir`: kind, content or link text, mode and mtime, by relative path. */
function snapshot(dir, prefix = '') {
  const out = {};
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const rel = prefix + name;
    const st = lstatSync(path);
    if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(path)}`;
    else if (st.isDirectory()) {
      out[rel] = `dir ${(st.mode & 0o7777).toString(8)}`;
      Object.assign(out, snapshot(path, rel + '/'));
    } else out[rel] = `file ${JSON.stringify(readFileSync(path, 'utf8'))} ${(st.mode & 0o7777).toString(8)} ${st.mtimeMs}`;
  }
  return out;
}

function build() {
  const root = mkdtempSync(join(tmpdir(), 'runnerwire-hostfs-table-'));
  for (const dir of TABLE.layout.dirs) mkdirSync(join(root, dir), { recursive: true });
  for (const f of TABLE.layout.files) {
    writeFileSync(join(root, f.path), f.text);
    chmodSync(join(root, f.path), f.mode);
  }
  for (const l of TABLE.layout.links) symlinkSync(l.target.replace('{root}', root), join(root, l.path));
  const fs = makeHostFs(TABLE.grants.map((g) => ({ guest: g.guest, host: join(root, g.host), writable: g.writable })));
  return { root, fs };
}

/** One call; what a read gives back (link text, or "link"/"other" for lstat), or throws. */
function call(fs, { op, path, text = 'pwned', mode = 0o777, offset = 0, mtime = 0, target = '/etc/passwd' }) {
  switch (op) {
    case 'write-file': return fs.writeFile(path, bytes(text), mode);
    case 'write-at': return fs.writeAt(path, BigInt(offset), bytes(text));
    case 'set-mode': return fs.setMode(path, mode);
    case 'set-mtime': return fs.setMtime(path, BigInt(mtime));
    case 'make-symlink': return fs.makeSymlink(target, path);
    case 'read-link': return fs.readLink(path);
    case 'lstat': {
      const meta = fs.lstat(path);
      // Nothing there is as good as a refusal for an escape; a case says what it wants.
      if (meta === undefined) throw 'nothing there';
      return (meta.mode & 0o170000) === 0o120000 ? 'link' : 'other';
    }
    case 'queue-write':
      fs.queueWrite(path, bytes(text), mode, 1n);
      return fs.flushWrites(undefined);
    default: throw new Error(`unknown op ${op}`);
  }
}

const outside = (root) => Object.fromEntries(Object.entries(snapshot(root)).filter(([p]) => !p.startsWith('granted/')));

test('host-fs.json: no escape path reaches anything through any call', () => {
  let made = 0;
  for (const escape of TABLE.escapes) {
    for (const op of TABLE.calls) {
      const { root, fs } = build();
      const before = snapshot(root);
      assert.throws(() => call(fs, { op, path: escape }), undefined, `${op} ${JSON.stringify(escape)} was allowed`);
      assert.deepEqual(snapshot(root), before, `${op} ${escape}: something changed`);
      made += 1;
    }
  }
  assert.ok(made >= 90, `${made} calls`);
});

test('host-fs.json: every case gives what the table says', () => {
  for (const c of TABLE.cases) {
    const { root, fs } = build();
    const before = outside(root);
    if (c.expect === 'ok') {
      const got = call(fs, c.call);
      if (c.text !== undefined) assert.equal(got, c.text, c.name);
      if (c.kind !== undefined) assert.equal(got, c.kind, c.name);
    } else {
      assert.throws(() => call(fs, c.call), undefined, `${c.name}: allowed`);
    }
    for (const then of c.then ?? []) {
      const path = join(root, 'granted', then.path);
      if (then.absent) assert.ok(!existsSync(path) && !lstatExists(path), `${c.name}: ${path} exists`);
      else if (then.link !== undefined) assert.equal(readlinkSync(path), then.link, c.name);
      else {
        assert.ok(lstatSync(path).isFile(), `${c.name}: not a file`);
        assert.equal(readFileSync(path, 'utf8'), then.file, c.name);
        assert.equal(mode(path), then.mode, `${c.name}: mode`);
      }
    }
    assert.deepEqual(outside(root), before, `${c.name}: something outside the grant changed`);
  }
});

function lstatExists(path) {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
