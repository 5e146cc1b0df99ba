// The component in the browser: jco's transpilation (dist/, made by `make bindings`) on
// preview2-shim's browser shims, with an in-memory scratch directory per instance.

import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { InMemoryFilesystemAdapter } from '@bytecodealliance/preview2-shim/in-memory-filesystem.js';
import { instantiate } from './dist/codec/runnerwire_codec.js';

const modules = new Map();
const coreModule = (name) => {
  if (!modules.has(name)) modules.set(name, WebAssembly.compileStreaming(fetch(new URL(`./dist/codec/${name}`, import.meta.url))));
  return modules.get(name);
};

// Inspecting and decoding write no Unix metadata; nothing on this page has a host disk.
const unavailable = () => {
  throw 'not available in the browser';
};
const hostFs = {
  lstat: () => undefined,
  setMode: unavailable,
  setMtime: unavailable,
  readLink: unavailable,
  makeSymlink: unavailable,
  writeFile: unavailable,
  queueWrite: unavailable,
  flushWrites: () => {},
  writeAt: unavailable,
  utcOffset: (unixSeconds) => -new Date(Number(unixSeconds) * 1000).getTimezoneOffset() * 60,
};

/** A fresh instance with an empty in-memory `/scratch` (archives are spooled there). */
export async function load() {
  const wasi = new WASIShim({
    browserFilesystem: { adapter: new InMemoryFilesystemAdapter(), preopens: { '/scratch': { dir: {} } } },
    sandbox: { env: {}, args: ['runnerwire'], enableNetwork: false },
  });
  return instantiate(coreModule, { ...wasi.getImportObject(), 'runnerwire:codec/host-fs': hostFs });
}
