import { readFileSync, readdirSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = join(ROOT, 'fixtures');
export const CLI = fileURLToPath(new URL('../cli.mjs', import.meta.url));

/** Recorded result streams of upstream ansible-runner jobs. */
export function recordedResultStreams() {
  return readdirSync(FIXTURES)
    .filter((name) => {
      try {
        return lstatSync(join(FIXTURES, name, 'result.stream')).isFile();
      } catch {
        return false;
      }
    })
    .map((name) => ({ name, path: join(FIXTURES, name, 'result.stream') }));
}

export const damagedCases = () => JSON.parse(readFileSync(join(FIXTURES, 'damaged', 'cases.json'), 'utf8'));

/** A directory tree as {path: description}: type, mode and content or link text. */
export function tree(root) {
  const out = {};
  const walk = (dir, rel) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const key = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[key] = `link ${readlinkSync(path)}`;
      else if (st.isDirectory()) {
        out[key] = `dir ${mode}`;
        walk(path, key);
      } else out[key] = `file ${mode} ${readFileSync(path).toString('base64')}`;
    }
  };
  walk(root, '');
  return out;
}
