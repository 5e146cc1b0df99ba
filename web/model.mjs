// Pure functions shared by the page and its worker: Python's JSON, inspect's secret
// masking, an event's result, and ANSI SGR (terminal colours) parsed into styled runs.
// Nothing here touches the DOM; app.mjs turns runs into elements with textContent only.

/** Python's json writes NaN and Infinity bare; JSON.parse refuses them: they become null. */
export function parsePythonJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (token) => (token.startsWith('"') ? token : 'null')));
  }
}

// inspect's rule (codec-wasm/src/stages/inspect/report.rs, `mask`): the values of `passwords`,
// `ssh_key` and `container_auth_data`, and any value under a key whose name contains key,
// token, password, passwd or secret (ASCII case-insensitive) become "********"; null stays.
const WHOLE = new Set(['passwords', 'ssh_key', 'container_auth_data']);
const secretName = (name) => /key|token|password|passwd|secret/.test(name.replace(/[A-Z]/g, (c) => c.toLowerCase()));

/** A copy of `value` with secrets masked exactly as `runnerwire inspect` masks kwargs. */
export function mask(value, secret = false) {
  if (Array.isArray(value)) return value.map((v) => mask(v, secret));
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = mask(v, secret || WHOLE.has(k) || secretName(k));
    return out;
  }
  if (value === null || value === undefined) return value;
  return secret ? '********' : value;
}

/** What an event says about its host's task: ok, changed, failed, ... or '' (not a result). */
export function resultOf(event, data = {}) {
  const changed = Boolean(data.res && typeof data.res === 'object' && data.res.changed);
  switch (event) {
    case 'runner_on_ok':
    case 'runner_on_async_ok':
    case 'runner_item_on_ok':
      return changed ? 'changed' : 'ok';
    case 'runner_on_failed':
    case 'runner_on_async_failed':
    case 'runner_item_on_failed':
      return data.ignore_errors ? 'ignored' : 'failed';
    case 'runner_on_skipped':
    case 'runner_item_on_skipped':
      return 'skipped';
    case 'runner_on_unreachable':
      return 'unreachable';
    default:
      return '';
  }
}

export const RESULTS = ['ok', 'changed', 'failed', 'skipped', 'unreachable', 'ignored', 'rescued'];

// ---- ANSI ------------------------------------------------------------------------------

// CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), other two-byte escapes, and
// C0 controls other than tab: only CSI ... m (SGR) means anything here; the rest is dropped.
const ESCAPES = /\x1b\[([0-9;:<=>?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?|[\x00-\x08\x0a-\x1f\x7f]/g;

const plainStyle = () => ({ fg: '', bg: '', bold: false, dim: false, italic: false, underline: false, inverse: false, strike: false });

/** Applies one SGR parameter list to `st` (mutated). Colours stay as their SGR codes. */
function applySgr(st, params) {
  const p = params === '' ? [0] : params.split(/[;:]/).map((x) => (x === '' ? 0 : Number(x)));
  for (let i = 0; i < p.length; i++) {
    const n = p[i];
    if (n === 0) Object.assign(st, plainStyle());
    else if (n === 1) st.bold = true;
    else if (n === 2) st.dim = true;
    else if (n === 3) st.italic = true;
    else if (n === 4) st.underline = true;
    else if (n === 7) st.inverse = true;
    else if (n === 9) st.strike = true;
    else if (n === 21 || n === 22) st.bold = st.dim = false;
    else if (n === 23) st.italic = false;
    else if (n === 24) st.underline = false;
    else if (n === 27) st.inverse = false;
    else if (n === 29) st.strike = false;
    else if ((n >= 30 && n <= 37) || (n >= 90 && n <= 97)) st.fg = String(n);
    else if (n === 39) st.fg = '';
    else if ((n >= 40 && n <= 47) || (n >= 100 && n <= 107)) st.bg = String(n);
    else if (n === 49) st.bg = '';
    else if (n === 38 || n === 48) {
      const key = n === 38 ? 'fg' : 'bg';
      if (p[i + 1] === 5 && i + 2 < p.length) {
        if (p[i + 2] >= 0 && p[i + 2] <= 255) st[key] = `${n};5;${p[i + 2] | 0}`;
        i += 2;
      } else if (p[i + 1] === 2 && i + 4 < p.length) {
        const rgb = p.slice(i + 2, i + 5);
        if (rgb.every((c) => Number.isInteger(c) && c >= 0 && c <= 255)) st[key] = `${n};2;${rgb.join(';')}`;
        i += 4;
      } else {
        i = p.length;
      }
    }
  }
  return st;
}

/** The SGR parameters that recreate `st` from plain ('' when plain). */
function sgrOf(st) {
  const codes = [];
  if (st.bold) codes.push(1);
  if (st.dim) codes.push(2);
  if (st.italic) codes.push(3);
  if (st.underline) codes.push(4);
  if (st.inverse) codes.push(7);
  if (st.strike) codes.push(9);
  if (st.fg) codes.push(st.fg);
  if (st.bg) codes.push(st.bg);
  return codes.join(';');
}

/** Text without escape sequences or control characters (what search and tests see). */
export const stripAnsi = (text) => text.replace(ESCAPES, '');

/**
 * An event's stdout as terminal lines (split at CRLF/LF, other CRs dropped). A style that
 * runs across a line break is carried: the next line starts with the SGR that recreates it,
 * so every line can be drawn on its own.
 */
export function splitLines(stdout) {
  if (!stdout) return [];
  const lines = stdout.split(/\r?\n/);
  if (!stdout.includes('\x1b')) return lines;
  const st = plainStyle();
  return lines.map((line) => {
    const carried = sgrOf(st);
    for (const m of line.matchAll(ESCAPES)) if (m[2] === 'm' && m[0][1] === '[') applySgr(st, m[1]);
    return carried ? `\x1b[${carried}m${line}` : line;
  });
}

/** A line as runs of `{text, style}`; style null for plain text. */
export function ansiRuns(line) {
  const runs = [];
  let st = plainStyle();
  let styled = false;
  let last = 0;
  const push = (text) => {
    if (text) runs.push({ text, style: styled ? { ...st } : null });
  };
  for (const m of line.matchAll(ESCAPES)) {
    push(line.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === 'm' && m[0][1] === '[') {
      st = applySgr({ ...st }, m[1]);
      styled = sgrOf(st) !== '';
    }
  }
  push(line.slice(last));
  return runs;
}

const CUBE = [0, 95, 135, 175, 215, 255];
/** An SGR colour code as a class (the 16 themed colours) or an rgb() value (256 / true colour). */
export function colourOf(code) {
  if (!code) return null;
  const parts = code.split(';').map(Number);
  if (parts.length === 1) {
    const n = parts[0];
    const idx = n >= 90 ? n - 90 + 8 : n >= 40 && n < 50 ? n - 40 : n >= 100 ? n - 100 + 8 : n - 30;
    return { index: idx };
  }
  if (parts[1] === 5) {
    const n = parts[2];
    if (n < 16) return { index: n };
    if (n < 232) {
      const v = n - 16;
      return { rgb: [CUBE[Math.floor(v / 36)], CUBE[Math.floor(v / 6) % 6], CUBE[v % 6]] };
    }
    const g = 8 + 10 * (n - 232);
    return { rgb: [g, g, g] };
  }
  return { rgb: parts.slice(2, 5) };
}
