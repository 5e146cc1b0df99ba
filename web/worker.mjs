// The page's decoding worker (a module Web Worker): the stream is read from its Blob in
// chunks and fed to the component, off the page's thread. Two jobs, one per worker:
//
// - `events`: `frames.Decoder` over the stream; each event becomes a compact record (counter,
//   event, host, play, task, result, stdout as terminal lines, timings, byte offset),
//   posted in batches so the page draws its first screen before the stream is read. On a
//   decode error (a damaged line), decoding resumes at the next line with a fresh decoder:
//   the output past damage still shows, and `inspect` (the other job) says what broke.
// - `inspect`: `inspect.Inspector`; the problems, statuses, archives and summary (the
//   per-event lines are skipped: the `events` job has them).
//
// A big stream's events are decoded by two workers, each from a line boundary: `head` up to
// the first line start at or after `split`, `tail` from there (the page keeps the order).
// Workers are started with the page and sent the compiled core modules (`init`), so a
// picked file is decoded at once. Reads run one chunk ahead of decoding.
//
// After `events`, the worker answers `search` (a case-insensitive substring over every
// event line's JSON: the event data search) by reading the Blob again.

import { load, provideModules } from './codec.mjs';
import { parsePythonJson, resultOf, splitLines } from './model.mjs';

const FIRST_CHUNK = 256 * 1024;
const CHUNK = 4 * 1024 * 1024;
const BATCH = 2000;
const MAX_RESYNCS = 10000;
const MAX_PROBLEMS = 2000;

let blob;
let codecReady;

const read = async (from, to) => new Uint8Array(await blob.slice(from, to).arrayBuffer());

/** The offset just past the newline at or after `from` (blob.size when there is none). */
async function nextLineStart(from) {
  for (let pos = from; pos < blob.size; pos += CHUNK) {
    const bytes = await read(pos, Math.min(blob.size, pos + CHUNK));
    const nl = bytes.indexOf(10);
    if (nl >= 0) return pos + nl + 1;
  }
  return blob.size;
}

function record(json, offset) {
  let e;
  try {
    e = parsePythonJson(json);
  } catch {
    return undefined;
  }
  const d = e.event_data && typeof e.event_data === 'object' ? e.event_data : {};
  const str = (v) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
  const r = {
    n: Number.isFinite(e.counter) ? e.counter : 0,
    ev: str(e.event),
    host: str(d.host ?? d.remote_addr),
    play: str(d.play),
    puuid: str(d.play_uuid),
    task: str(d.task ?? (e.event === 'playbook_on_play_start' ? '' : d.name)),
    tuuid: str(d.task_uuid),
    res: resultOf(e.event, d),
    item: str(e.event).startsWith('runner_item_on_'),
    lines: splitLines(str(e.stdout)),
    created: Date.parse(e.created) || 0,
    start: Date.parse(d.start) || 0,
    end: Date.parse(d.end) || 0,
    dur: typeof d.duration === 'number' ? d.duration : null,
    off: offset,
  };
  if (e.event === 'playbook_on_stats') {
    r.stats = {};
    for (const k of ['ok', 'changed', 'dark', 'failures', 'skipped', 'rescued', 'ignored', 'processed']) {
      if (d[k] && typeof d[k] === 'object') r.stats[k] = d[k];
    }
  }
  return r;
}

/** Chunks of [from, to), each read while the previous one is being decoded. */
async function* chunks(from, to) {
  let size = FIRST_CHUNK;
  let next = from < to ? read(from, Math.min(to, from + size)) : null;
  for (let pos = from; next; ) {
    const bytes = await next;
    pos += bytes.length;
    size = CHUNK;
    next = pos < to && bytes.length ? read(pos, Math.min(to, pos + size)) : null;
    yield [bytes, pos];
  }
}

async function decodeEvents({ part = 'all', split = 0 }) {
  const codec = await codecReady;
  const limits = codec.types.defaultLimits();
  const isJob = new TextDecoder().decode(await read(0, 16)).startsWith('{"kwargs"');
  const boundary = part === 'all' ? 0 : await nextLineStart(split);
  const from = part === 'tail' ? boundary : 0;
  const to = part === 'head' ? boundary : blob.size;
  const kind = isJob ? 'job-stream' : 'result-stream';
  let batch = [];
  let statuses = [];
  const errors = [];
  let status = '';
  const flush = (done = false) => {
    postMessage({ type: 'events', records: batch, statuses, done, bytes: pos - from, size: blob.size, status, errors: done ? errors : undefined });
    batch = [];
    statuses = [];
  };
  let base = from;
  let pos = from;
  let decoder = new codec.frames.Decoder(kind, limits);
  let failed;
  const drain = () => {
    for (;;) {
      let frame;
      try {
        frame = decoder.next();
      } catch (e) {
        const p = e.payload ?? e;
        failed = { offset: base + Number(p.offset ?? 0), message: String(p.message ?? p) };
        return;
      }
      if (frame === undefined) return;
      if (frame.tag !== 'line') continue;
      const offset = base + Number(frame.val.offset);
      if (frame.val.kind === 'event') {
        const r = record(frame.val.json, offset);
        if (r) batch.push(r);
        if (batch.length >= BATCH) flush();
      } else if (frame.val.kind === 'status') {
        try {
          const s = parsePythonJson(frame.val.json);
          status = String(s.status ?? '');
          statuses.push({ status, off: offset });
        } catch {
          /* the inspector reports it */
        }
      }
    }
  };
  let resume = from;
  while (resume < to && errors.length <= MAX_RESYNCS) {
    resume = to;
    for await (const [bytes, end] of chunks(pos, to)) {
      decoder.push(bytes);
      pos = end;
      drain();
      if (failed) {
        // Resume at the next line with a fresh decoder.
        errors.push(failed);
        base = pos = resume = await nextLineStart(failed.offset);
        failed = undefined;
        decoder = new codec.frames.Decoder(kind, limits);
        break;
      }
      flush();
    }
  }
  // The head part ends at a line start, not at the stream's end: no finish, no eof expected.
  if (part !== 'head' && pos >= to && errors.length <= MAX_RESYNCS) {
    decoder.finish();
    drain();
    if (failed) errors.push(failed);
  }
  flush(true);
}

async function inspectStream() {
  const codec = await codecReady;
  const inspector = new codec.inspect.Inspector(codec.types.defaultLimits());
  const text = new TextDecoder();
  const problems = [];
  const statuses = [];
  const archives = [];
  let problemCount = 0;
  let carry = '';
  let summary;
  const take = (bytes) => {
    const lines = (carry + text.decode(bytes, { stream: true })).split('\n');
    carry = lines.pop();
    for (const line of lines) {
      if (!line || line.includes('"frame": "event"')) continue;
      const l = JSON.parse(line);
      if (l.problem) {
        problemCount++;
        if (problems.length < MAX_PROBLEMS) problems.push(l.problem);
      } else if (l.summary) summary = l.summary;
      else if (l.frame === 'status' && statuses.length < MAX_PROBLEMS) statuses.push(l);
      else if (l.frame === 'archive') archives.push(l);
    }
  };
  for await (const [bytes] of chunks(0, blob.size)) take(inspector.push(bytes));
  take(inspector.finish());
  take(new Uint8Array([10]));
  postMessage({ type: 'inspect', summary, problems, problemCount, statuses, archives, firstProblem: inspector.firstProblem() ?? null });
}

/** Python's json.dumps(ensure_ascii) spelling of `q`, to match it inside the raw lines. */
const pythonEscaped = (q) => JSON.stringify(q).slice(1, -1).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

async function search(query, id) {
  const needles = [...new Set([query.toLowerCase(), pythonEscaped(query).toLowerCase()])].filter(Boolean);
  const text = new TextDecoder();
  const found = [];
  let lineStart = 0;
  const scan = (line, offset) => {
    if (!line.startsWith('{') || !line.includes('"counter"')) return;
    const lower = line.toLowerCase();
    if (needles.some((n) => lower.includes(n))) found.push(offset);
  };
  // Offsets are counted in bytes: lines are split on bytes, then decoded.
  let pending = [];
  for (let pos = 0; pos < blob.size; ) {
    const bytes = await read(pos, Math.min(blob.size, pos + CHUNK));
    let from = 0;
    for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, from)) {
      pending.push(bytes.subarray(from, nl));
      const whole = pending.length === 1 ? pending[0] : concat(pending);
      scan(text.decode(whole), lineStart);
      lineStart = pos + nl + 1;
      pending = [];
      from = nl + 1;
    }
    if (from < bytes.length) pending.push(bytes.slice(from));
    pos += bytes.length;
  }
  if (pending.length) scan(text.decode(concat(pending)), lineStart);
  postMessage({ type: 'search', id, offsets: found });
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

onmessage = async ({ data }) => {
  try {
    if (data.type === 'init') {
      provideModules(data.modules);
      codecReady = load();
      await codecReady;
    } else if (data.type === 'open') {
      blob = data.blob;
      codecReady ??= load();
      await (data.job === 'inspect' ? inspectStream() : decodeEvents(data));
    } else if (data.type === 'search') {
      await search(data.query, data.id);
    }
  } catch (e) {
    postMessage({ type: 'error', job: data.job ?? data.type, message: String(e?.message ?? e?.payload?.message ?? e) });
  }
};
