// Instantiating the component on Node: one instance per call, each with only the
// directories that call grants (preview2-shim reads preopens once per instance).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { filesystem } from '@bytecodealliance/preview2-shim';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { instantiate } from '../gen/runnerwire_codec.js';
import { makeHostFs } from './hostfs.mjs';

// wasi-libc asks for `mutate-directory` on every open for writing; the Node shim refuses
// that flag outright ("Not supported"), though it guards nothing for a file: drop it there.
const { Descriptor } = filesystem.types;
const shimOpenAt = Descriptor.prototype.openAt;
Descriptor.prototype.openAt = function openAt(pathFlags, path, openFlags, flags) {
  const fileFlags = flags.mutateDirectory && !openFlags.directory ? { ...flags, mutateDirectory: false } : flags;
  return shimOpenAt.call(this, pathFlags, path, openFlags, fileFlags);
};

const modules = new Map();

async function coreModule(name) {
  if (!modules.has(name)) {
    const url = new URL(`../gen/${name}`, import.meta.url);
    modules.set(name, readFile(fileURLToPath(url)).then((bytes) => WebAssembly.compile(bytes)));
  }
  return modules.get(name);
}

// Not offered: Node's zlib is another deflate, whose bytes would differ from the native
// CLI's, so the component lists and encodes files itself and the archive is the same
// everywhere.
const unsupported = () => {
  throw { tag: 'unsupported' };
};
const nativePack = { listDir: unsupported, encodeFiles: unsupported };

/**
 * A fresh instance that sees only `grants`.
 * @param {{guest: string, host: string, writable: boolean}[]} grants
 */
export async function load(grants = []) {
  const preopens = Object.fromEntries(grants.map((g) => [g.guest, g.host]));
  const wasi = new WASIShim({ sandbox: { preopens, env: {}, args: ['runnerwire'], enableNetwork: false } });
  const fs = makeHostFs(grants);
  const imports = {
    ...wasi.getImportObject(),
    'runnerwire:codec/host-fs': fs,
    'runnerwire:codec/fast-writes': fs,
    'runnerwire:codec/native-pack': nativePack,
  };
  return instantiate(coreModule, imports);
}
