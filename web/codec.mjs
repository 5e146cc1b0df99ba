// The component in the browser: jco's transpilation (dist/, made by `make bindings`) on
// preview2-shim's browser shims, with an in-memory scratch directory per instance.
// The WASI imports are assembled here from the shims' own modules (relative URLs, no
// import map), so the same file loads in the page and in a module Web Worker.

import * as wasi from './dist/shim/browser/index.js';
import { instantiate } from './dist/codec/runnerwire_codec.js';

/** The component's core modules, as jco's instantiate asks for them by name. */
export const CORE_MODULES = ['runnerwire_codec.core.wasm', 'runnerwire_codec.core2.wasm', 'runnerwire_codec.core3.wasm'];

const modules = new Map();
const coreModule = (name) => {
  if (!modules.has(name)) modules.set(name, WebAssembly.compileStreaming(fetch(new URL(`./dist/codec/${name}`, import.meta.url))));
  return modules.get(name);
};

/** Compiles the core modules (once); a WebAssembly.Module can be posted to a worker. */
export const compileAll = async () => Object.fromEntries(await Promise.all(CORE_MODULES.map(async (n) => [n, await coreModule(n)])));

/** Uses modules compiled elsewhere (the page posts them to its workers). */
export function provideModules(compiled) {
  for (const [name, module] of Object.entries(compiled ?? {})) modules.set(name, Promise.resolve(module));
}

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
  utcOffset: (unixSeconds) => -new Date(Number(unixSeconds) * 1000).getTimezoneOffset() * 60,
};
// Refused outright (`failed`, not `unsupported`): there is nothing to fall back to either.
const noWrite = () => {
  throw { tag: 'failed', val: 'not available in the browser' };
};
// The page packs no archives; the component's own deflate would serve if it did.
const unsupported = () => {
  throw { tag: 'unsupported' };
};
const nativePack = { listDir: unsupported, encodeFiles: unsupported };
const fastWrites = { writeFile: noWrite, writeAt: noWrite, queueWrite: noWrite, flushWrites: () => {} };

/** What preview2-shim's WASIShim.getImportObject gives, sandboxed: no env, no network. */
function wasiImports() {
  const { cli, sockets, io, random, clocks } = wasi;
  const fs = wasi.filesystem.createFilesystem({
    adapter: new wasi.filesystem.InMemoryFilesystemAdapter(),
    preopens: { '/scratch': { dir: {} } },
  });
  const environment = {
    ...cli.environment,
    getEnvironment: () => [],
    getArguments: () => ['runnerwire'],
    initialCwd: () => cli.environment.initialCwd(),
  };
  const denied = () => {
    throw 'access-denied';
  };
  const http = { ...wasi.http, outgoingHandler: { ...wasi.http.outgoingHandler, handle: denied } };
  return {
    'wasi:cli/environment': environment,
    'wasi:cli/exit': cli.exit,
    'wasi:cli/stderr': cli.stderr,
    'wasi:cli/stdin': cli.stdin,
    'wasi:cli/stdout': cli.stdout,
    'wasi:cli/terminal-input': cli.terminalInput,
    'wasi:cli/terminal-output': cli.terminalOutput,
    'wasi:cli/terminal-stderr': cli.terminalStderr,
    'wasi:cli/terminal-stdin': cli.terminalStdin,
    'wasi:cli/terminal-stdout': cli.terminalStdout,
    'wasi:sockets/instance-network': sockets.instanceNetwork,
    'wasi:sockets/ip-name-lookup': sockets.ipNameLookup,
    'wasi:sockets/network': sockets.network,
    'wasi:sockets/tcp': sockets.tcp,
    'wasi:sockets/tcp-create-socket': sockets.tcpCreateSocket,
    'wasi:sockets/udp': sockets.udp,
    'wasi:sockets/udp-create-socket': sockets.udpCreateSocket,
    'wasi:filesystem/preopens': fs.preopens,
    'wasi:filesystem/types': fs.types,
    'wasi:io/error': io.error,
    'wasi:io/poll': io.poll,
    'wasi:io/streams': io.streams,
    'wasi:random/random': random.random,
    'wasi:random/insecure': random.insecure,
    'wasi:random/insecure-seed': random.insecureSeed,
    'wasi:clocks/monotonic-clock': clocks.monotonicClock,
    'wasi:clocks/wall-clock': clocks.wallClock,
    'wasi:http/types': http.types,
    'wasi:http/incoming-handler': http.incomingHandler,
    'wasi:http/outgoing-handler': http.outgoingHandler,
  };
}

/** A fresh instance with an empty in-memory `/scratch` (archives are spooled there). */
export async function load() {
  return instantiate(coreModule, { ...wasiImports(), 'runnerwire:codec/host-fs': hostFs, 'runnerwire:codec/fast-writes': fastWrites, 'runnerwire:codec/native-pack': nativePack });
}
