#!/usr/bin/env node
// `runnerwire-view FILE` (the npm package's command; in a checkout `node bindings/js/view.mjs
// FILE`): opens a stream in the page (web/) in the system's browser. It serves web/ and the one stream (at /stream, nothing else of the disk) on
// 127.0.0.1, on a free port, until interrupted; the page fetches the stream from the link's
// fragment (#src=stream) and reads it in the browser like a picked file.
//
//   node bindings/js/view.mjs result.stream              # prints the URL, opens a browser
//   node bindings/js/view.mjs result.stream --no-open    # prints the URL only
//   node bindings/js/view.mjs result.stream --port 8000

import { createServer } from 'node:http';
import { createReadStream, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, extname, join, normalize, resolve, sep } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The page: in runnerwire's checkout, its web/ (what is being worked on); installed, the
// package's copy beside this file (`make bindings` puts it there for `npm pack`).
const inCheckout = existsSync(fileURLToPath(new URL('../../codec-wasm/wit/runnerwire.wit', import.meta.url)));
export const WEB = fileURLToPath(new URL(inCheckout ? '../../web/' : './web/', import.meta.url));
const TYPES = { '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml' };

/** The policy index.html carries in its meta tag, sent as a header too. */
export const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; manifest-src 'none'; media-src 'none'; object-src 'none'; frame-src 'none'; child-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Serves web/ (and `file`, when given, at /stream) on 127.0.0.1.
 * @returns {Promise<{server: import('node:http').Server, url: string, origin: string}>}
 */
export function serveWeb({ file, port = 0, host = '127.0.0.1' } = {}) {
  const root = resolve(WEB);
  const server = createServer((req, res) => {
    const headers = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
      return;
    }
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400, headers).end();
      return;
    }
    if (file && pathname === '/stream') {
      res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': statSync(file).size });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
      return;
    }
    const path = normalize(join(root, pathname));
    const target = pathname.endsWith('/') ? join(path, 'index.html') : path;
    if (!(target === root || target.startsWith(root.endsWith(sep) ? root : root + sep)) || !existsSync(target) || !statSync(target).isFile()) {
      res.writeHead(404, headers).end();
      return;
    }
    const type = TYPES[extname(target)] ?? 'application/octet-stream';
    res.writeHead(200, { ...headers, 'content-type': type, ...(type.startsWith('text/html') ? { 'content-security-policy': CSP } : {}) });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(target));
  });
  return new Promise((resolveServer, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const origin = `http://${host}:${server.address().port}`;
      const hash = file ? `#${new URLSearchParams({ src: 'stream', name: basename(file) })}` : '';
      resolveServer({ server, origin, url: `${origin}/${hash}` });
    });
  });
}

function openBrowser(url) {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? null : 'xdg-open';
  if (process.platform === 'win32') {
    spawn('cmd', ['/c', 'start', '""', url], { stdio: 'ignore', detached: true }).unref();
    return true;
  }
  if (spawnSync('sh', ['-c', `command -v ${opener}`], { stdio: 'ignore' }).status !== 0) return false;
  spawn(opener, [url], { stdio: 'ignore', detached: true }).unref();
  return true;
}

async function main(argv) {
  const args = argv.slice(2);
  const usage = 'usage: runnerwire-view FILE [--no-open] [--port N]';
  const noOpen = args.includes('--no-open');
  const portAt = args.indexOf('--port');
  const port = portAt >= 0 ? Number(args[portAt + 1]) : 0;
  const files = args.filter((a, i) => !a.startsWith('--') && (portAt < 0 || i !== portAt + 1));
  if (files.length !== 1 || args.includes('--help') || !Number.isInteger(port)) {
    console.error(usage);
    process.exit(args.includes('--help') ? 0 : 2);
  }
  const file = resolve(files[0]);
  if (!existsSync(file) || !statSync(file).isFile()) {
    console.error(`view: ${files[0]}: no such file`);
    process.exit(66);
  }
  if (!existsSync(join(WEB, 'dist', 'codec', 'runnerwire_codec.js'))) {
    console.error('view: web/dist is missing: run `make bindings` first');
    process.exit(69);
  }
  const { url } = await serveWeb({ file, port });
  console.log(`Serving ${file} on ${url}`);
  console.log('Open that URL in a browser (only this machine can reach it); Ctrl-C stops.');
  if (!noOpen && !openBrowser(url)) console.log('(no xdg-open here: open the URL yourself)');
}

// Run as a program (also through npm's bin link, hence realpath), not when imported.
if (process.argv[1] && realpathSync(resolve(process.argv[1])) === fileURLToPath(import.meta.url)) {
  main(process.argv).catch((e) => {
    console.error(`view: ${e.message}`);
    process.exit(1);
  });
}
