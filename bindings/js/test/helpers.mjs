import { readFileSync, readdirSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** Runs `fn` with a fresh temp directory, removed afterwards whatever happens. */
export async function inScratch(fn) {
  const dir = mkdtempSync(join(tmpdir(), 'runnerwire-js-test-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
