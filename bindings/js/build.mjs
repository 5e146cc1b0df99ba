// Regenerates gen/ from the component (`make bindings` runs this): jco's transpilation,
// then one fix to its output, checked so a jco upgrade that changes it fails loudly.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const component = process.argv[2] ?? `${here}../../target/wasm32-wasip2/release/runnerwire_codec.wasm`;
const out = `${here}gen`;

rmSync(out, { recursive: true, force: true });
execFileSync(`${here}node_modules/.bin/jco`, [
  'transpile', component, '-o', out, '--name', 'runnerwire_codec',
  '--instantiation', 'async', '--valid-lifting-optimization', '--quiet',
], { stdio: 'inherit' });

// jco reads process.env.JCO_DEBUG on every call into the component; in Node that is a
// lookup in the real environment each time (a third of the time of small calls).
const glue = `${out}/runnerwire_codec.js`;
const text = readFileSync(glue, 'utf8');
const check = 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }';
if (!text.includes(check)) throw new Error(`jco's output changed: no "${check}" to hoist`);
writeFileSync(glue, `const JCO_DEBUG = Boolean(globalThis?.process?.env?.JCO_DEBUG);\n${text.replaceAll(check, 'if (!JCO_DEBUG) { return; }')}`);
