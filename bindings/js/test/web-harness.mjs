// What the page's tests share: Debian's Chromium (or CHROMIUM=path) launched once per test
// file, the page served on 127.0.0.1 by view.mjs's server, screenshots under target/web/.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT } from './helpers.mjs';
import { serveWeb, WEB } from '../view.mjs';

export const SHOTS = join(ROOT, 'target', 'web');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Registers the file's before/after hooks; the returned object holds `browser` and
 * `origin` once the tests run. */
export function useBrowser() {
  const web = {};
  let server;
  before(async () => {
    assert.ok(existsSync(browserPath), `no Chromium at ${browserPath}: install Debian's chromium or set CHROMIUM`);
    assert.ok(existsSync(join(WEB, 'dist', 'codec', 'runnerwire_codec.js')), 'web/dist is missing: run `make bindings`');
    mkdirSync(SHOTS, { recursive: true });
    let origin;
    ({ server, origin } = await serveWeb());
    web.origin = origin;
    web.browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
  });
  after(async () => {
    await web.browser?.close();
    server?.close();
  });
  return web;
}
