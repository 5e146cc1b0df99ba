// The `host-fs` and `fast-writes` imports on node:fs (one object has both): Unix metadata and
// writes on the directories a call was granted and nowhere else. A guest path names a grant; inside it, links in the middle of the path are
// followed only while they stay inside (like the native host's cap-std), and the last
// component is never followed.

import {
  closeSync, constants, lstatSync, lutimesSync, openSync, readlinkSync, realpathSync,
  symlinkSync, unlinkSync, writeSync, chmodSync, fchmodSync,
} from 'node:fs';
import { isAbsolute, join } from 'node:path';

const MAX_LINKS = 40;

function describe(e) {
  return e && e.code ? `${e.code}: ${e.syscall ?? 'fs'} failed` : String(e);
}

/**
 * @param {{guest: string, host: string, writable: boolean}[]} grants
 */
export function makeHostFs(grants) {
  const roots = grants.map((g) => ({ ...g, root: realpathSync(g.host) }));

  function resolve(path, write) {
    for (const g of roots) {
      let rest;
      if (path === g.guest) rest = '';
      else if (path.startsWith(g.guest + '/')) rest = path.slice(g.guest.length + 1);
      else continue;
      if (write && !g.writable) throw 'directory is granted read-only';
      return inside(g.root, rest);
    }
    throw `${JSON.stringify(path)} is outside the granted directories`;
  }

  function inside(root, rest) {
    const pending = rest.split('/').filter((s) => s && s !== '.');
    const stack = [];
    let links = 0;
    while (pending.length > 0) {
      const segment = pending.shift();
      if (segment === '..') {
        if (stack.length === 0) throw 'path escapes the granted directory';
        stack.pop();
        continue;
      }
      if (pending.length === 0) {
        stack.push(segment);
        break;
      }
      const candidate = join(root, ...stack, segment);
      let st;
      try {
        st = lstatSync(candidate);
      } catch (e) {
        if (e.code === 'ENOENT') {
          // Nothing further exists: no link can redirect the rest (unless it climbs out).
          if (pending.includes('..')) throw 'no such directory';
          stack.push(segment, ...pending);
          break;
        }
        throw describe(e);
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS) throw 'too many levels of symbolic links';
        const target = readlinkSync(candidate);
        if (isAbsolute(target)) throw 'path escapes the granted directory';
        pending.unshift(...target.split('/').filter((s) => s && s !== '.'));
        continue;
      }
      stack.push(segment);
    }
    return join(root, ...stack);
  }

  // fast-writes' errors: `failed(message)` (`unsupported` is for hosts that offer none).
  const failed = (fn) => (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      throw { tag: 'failed', val: typeof e === 'string' ? e : describe(e) };
    }
  };

  const wrap = (fn) => (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      // jco turns a thrown non-Error into the err(string) case the guest expects.
      throw typeof e === 'string' ? e : describe(e);
    }
  };

  return {
    lstat: wrap((path) => {
      let st;
      try {
        st = lstatSync(resolve(path, false), { bigint: true });
      } catch (e) {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      }
      return { mode: Number(st.mode), size: st.size, mtime: st.mtimeNs / 1_000_000_000n - (st.mtimeNs < 0n && st.mtimeNs % 1_000_000_000n ? 1n : 0n) };
    }),
    setMode: wrap((path, mode) => {
      const host = resolve(path, true);
      // fchmod on what was opened without following a last link: a link swapped in after
      // a check cannot redirect it. An unreadable file cannot be opened so: check, then chmod.
      let fd;
      try {
        fd = openSync(host, constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch (e) {
        if (e.code !== 'EACCES') throw e;
        if (lstatSync(host).isSymbolicLink()) throw 'is a symbolic link';
        chmodSync(host, mode & 0o7777);
        return;
      }
      try {
        fchmodSync(fd, mode & 0o7777);
      } finally {
        closeSync(fd);
      }
    }),
    setMtime: wrap((path, mtime) => {
      const t = Number(mtime);
      lutimesSync(resolve(path, true), t, t);
    }),
    readLink: wrap((path) => readlinkSync(resolve(path, false))),
    makeSymlink: wrap((target, path) => {
      // The link's text is data: it may point anywhere, and nothing here follows it.
      symlinkSync(target, resolve(path, true));
    }),
    utcOffset: (unixSeconds) => -new Date(Number(unixSeconds) * 1000).getTimezoneOffset() * 60,

    // `fast-writes`: offered, so the component makes one call where WASI needs several.
    writeFile: failed((path, data, mode) => writeFile(path, data, mode)),
    // Node writes at once: the failure, if any, is this write's, with its tag.
    queueWrite: (path, data, mode, tag) => {
      try {
        writeFile(path, data, mode);
      } catch (e) {
        throw { tag: 'failed', val: { path, tag, message: typeof e === 'string' ? e : describe(e) } };
      }
    },
    flushWrites: () => {},
    writeAt: failed((path, offset, data) => {
      const fd = openSync(resolve(path, true), constants.O_WRONLY | constants.O_NOFOLLOW);
      try {
        let done = 0;
        while (done < data.length) done += writeSync(fd, data, done, data.length - done, Number(offset) + done);
      } finally {
        closeSync(fd);
      }
    }),
  };

  // Creates or replaces the regular file with exactly `mode`'s permission bits, as the
  // native host does: a new file is created exclusively (O_EXCL never follows a link); a
  // link, FIFO, socket or device where the file goes is removed and the file created in its
  // place; an existing
  // file is truncated without following a link (O_NOFOLLOW). Each step fails rather than
  // writes through a link that appears meanwhile. The mode is then set with fchmod, so
  // neither the umask nor an existing file's old mode survives.
  function writeFile(path, data, mode) {
    const host = resolve(path, true);
    const perms = mode & 0o777;
    const base = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW;
    let fd;
    try {
      fd = openSync(host, base | constants.O_EXCL, perms & 0o700);
    } catch (e) {
      if (e.code !== 'EEXIST' && e.code !== 'ELOOP') throw e;
      // A link is replaced, never written through; so is a FIFO, socket or device (opening
      // one would wait for a reader, or write to it).
      const st = lstatSync(host);
      if (!st.isFile() && !st.isDirectory()) {
        unlinkSync(host);
        fd = openSync(host, base | constants.O_EXCL, perms & 0o700);
      } else {
        fd = openSync(host, base | constants.O_TRUNC, perms & 0o700);
      }
    }
    try {
      fchmodSync(fd, perms);
      let done = 0;
      while (done < data.length) done += writeSync(fd, data, done, data.length - done);
    } catch (e) {
      closeSync(fd);
      fd = undefined;
      // No half-written file stays behind (a full disk, a quota).
      try {
        unlinkSync(host);
      } catch {}
      throw e;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}
