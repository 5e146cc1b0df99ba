// The page: an ansible-runner stream in, the job's output (as the terminal printed it,
// colours included, folded by play and task), its tasks x hosts, a timeline and the
// inspector's diagnosis out. Two workers (worker.mjs) decode the stream with the component;
// this thread keeps compact per-line arrays and draws only the rows on screen.
//
// Everything from the stream reaches the DOM through textContent, element properties or
// CSSOM values computed here (never markup): see docs/web.md, "Hostile streams".

import { compileAll } from './codec.mjs';
import { RESULTS, ansiRuns, colourOf, mask, parsePythonJson, stripAnsi } from './model.mjs';

const $ = (selector) => document.querySelector(selector);
const el = (tag, { dataset, ...props } = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
};

const LH = 18; // px per output row: keep in step with .row in style.css
const MARGIN = 20; // rows drawn above and below the screen
const MAX_HEIGHT = 8_000_000; // px; taller outputs scroll proportionally
const TABLE_PAGE = 300;
const fmtDur = (s) => (s === null || s === undefined || !Number.isFinite(s) ? '' : s < 1 ? `${Math.round(s * 1000)} ms` : s < 120 ? `${s.toFixed(2)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

let S; // the open stream's state

function session(blob, name) {
  return {
    blob,
    name,
    t0: performance.now(),
    events: [],
    byCounter: new Map(),
    lineEv: [],
    lineText: [],
    lineTask: [],
    linePlay: [],
    lineHdr: [],
    plain: [],
    plays: [],
    tasks: [],
    taskByUuid: new Map(),
    curPlay: -1,
    curTask: -1,
    hosts: [],
    hostSet: new Set(),
    stats: null,
    status: '',
    view: new Int32Array(1024),
    viewLen: 0,
    foldedTasks: new Set(),
    foldedPlays: new Set(),
    hostFilter: '',
    resultFilter: '',
    query: '',
    matches: [],
    matchSet: new Set(),
    cur: -1,
    sel: -1,
    selEvent: -1,
    inspect: null,
    decodeErrors: [],
    eventsDone: false,
    pendingTarget: null,
    workers: [],
    searchId: 0,
    drawn: new Map(),
    version: 0,
    firstScreen: false,
    tasksShown: TABLE_PAGE,
  };
}

// ---- decoding ----------------------------------------------------------------------------

// Workers are started with the page, and the component compiled once, here: a picked
// stream starts decoding at once. Each stream uses fresh workers (the old ones end).
const SPLIT_AT = 8 * 1024 * 1024; // bytes; bigger streams' events are decoded in two halves
const compiled = compileAll();
let pool = [];
function spawn() {
  const w = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
  compiled.then((modules) => w.postMessage({ type: 'init', modules })).catch((e) => fail(`could not load the component: ${e.message ?? e}`));
  return w;
}
const refill = () => {
  while (pool.length < 3) pool.push(spawn());
};
refill();

function startWorkers() {
  const s = S;
  const size = s.blob.size;
  const jobs = size > SPLIT_AT ? [['events', 'head'], ['events', 'tail'], ['inspect']] : [['events', 'all'], ['inspect']];
  s.parts = Object.fromEntries(jobs.filter(([j]) => j === 'events').map(([, p]) => [p, { done: false, queue: [], bytes: 0 }]));
  s.workers = jobs.map(([job, part]) => {
    const w = pool.shift() ?? spawn();
    w.onmessage = ({ data }) => s === S && onWorker(job, data, part);
    w.onerror = (e) => s === S && fail(`the ${job} worker failed: ${e.message}`);
    w.postMessage({ type: 'open', job, part, split: Math.floor(size / 2), blob: s.blob });
    return w;
  });
  setTimeout(refill, 0);
}

function onWorker(job, data, part) {
  const s = S;
  if (data.type === 'events') {
    const p = s.parts[part];
    p.bytes = data.bytes;
    if (data.status) p.status = data.status;
    if (data.errors) p.errors = data.errors;
    // The tail's records wait until the head (the part before them) is complete.
    if (part === 'tail' && !s.parts.head.done) p.queue.push(data.records);
    else addRecords(data.records);
    p.done = data.done;
    if (part === 'head' && data.done) {
      for (const records of s.parts.tail.queue) addRecords(records);
      s.parts.tail.queue = [];
    }
    const parts = Object.values(s.parts);
    s.status = s.parts.tail?.status || s.parts.head?.status || s.parts.all?.status || '';
    $('#progress progress').value = data.size ? parts.reduce((n, x) => n + x.bytes, 0) / data.size : 1;
    if (parts.every((x) => x.done)) {
      s.eventsDone = true;
      s.decodeErrors = parts.flatMap((x) => x.errors ?? []);
      $('#progress').hidden = true;
    }
    scheduleDraw();
    if (s.pendingTarget) applyTarget();
    if (s.eventsDone) finishIfDone();
  } else if (data.type === 'inspect') {
    s.inspect = data;
    renderInspect();
    if (s.pendingTarget) applyTarget();
    finishIfDone();
  } else if (data.type === 'search') {
    if (data.id === s.searchId) mergeDataMatches(data.offsets);
  } else if (data.type === 'error') {
    fail(`could not read ${s.name}: ${data.message}`);
  }
}

function fail(message) {
  $('#state').className = 'bad';
  $('#state').textContent = message;
  document.body.dataset.state = 'failed';
}

function addRecords(records) {
  const s = S;
  let newHosts = false;
  for (const r of records) {
    const i = s.events.length;
    s.events.push(r);
    if (!s.byCounter.has(r.n)) s.byCounter.set(r.n, i);
    let hdr = 0;
    let task;
    let play;
    if (r.ev === 'playbook_on_play_start') {
      s.plays.push({ name: r.play || r.task, ev: i });
      s.curPlay = s.plays.length - 1;
      s.curTask = -1;
      play = s.curPlay;
      task = -1;
      hdr = 1;
    } else if (r.ev === 'playbook_on_task_start' || r.ev === 'playbook_on_handler_task_start' || r.ev === 'playbook_on_cleanup_task_start') {
      s.tasks.push({ name: r.task, play: s.curPlay, ev: i, start: r.created, end: r.created, hosts: new Map(), handler: r.ev.includes('handler') || stripAnsi(r.lines.join('\n')).includes('RUNNING HANDLER') });
      s.curTask = s.tasks.length - 1;
      if (r.tuuid) s.taskByUuid.set(r.tuuid, s.curTask);
      task = s.curTask;
      play = s.curPlay;
      hdr = 2;
    } else if (r.ev === 'playbook_on_stats' || r.ev === 'playbook_on_start') {
      task = -1;
      play = -1;
      if (r.stats) s.stats = r.stats;
    } else {
      task = s.taskByUuid.get(r.tuuid) ?? s.curTask;
      play = task >= 0 ? s.tasks[task].play : s.curPlay;
    }
    r.task_i = task;
    if (r.host && !s.hostSet.has(r.host)) {
      s.hostSet.add(r.host);
      s.hosts.push(r.host);
      newHosts = true;
    }
    if (task >= 0 && hdr === 0) {
      const t = s.tasks[task];
      t.end = Math.max(t.end, r.end || r.created || 0);
      if (r.host && r.res) {
        const prev = t.hosts.get(r.host);
        if (!r.item || !prev || prev.item) t.hosts.set(r.host, { res: r.res, dur: r.dur, ev: i, item: r.item });
      }
    }
    r.first = s.lineText.length;
    r.count = r.lines.length;
    for (let j = 0; j < r.lines.length; j++) {
      const l = s.lineText.length;
      s.lineText.push(r.lines[j]);
      s.lineEv.push(i);
      s.lineTask.push(task);
      s.linePlay.push(play);
      s.lineHdr.push(j === r.lines.length - 1 ? hdr : 0);
      if (visible(l)) pushView(l);
    }
    r.lines = undefined;
  }
  if (newHosts) {
    const select = $('#host-filter');
    for (const h of s.hosts.slice(select.options.length - 1)) select.append(el('option', { value: h, textContent: h }));
  }
}

function pushView(l) {
  if (S.viewLen === S.view.length) {
    const grown = new Int32Array(S.view.length * 2);
    grown.set(S.view);
    S.view = grown;
  }
  S.view[S.viewLen++] = l;
}

function visible(l) {
  const s = S;
  const e = s.events[s.lineEv[l]];
  if (s.hostFilter && e.host && e.host !== s.hostFilter) return false;
  if (s.resultFilter && e.host && e.res !== s.resultFilter) return false;
  const p = s.linePlay[l];
  const t = s.lineTask[l];
  if (p >= 0 && s.foldedPlays.has(p) && s.plays[p].ev !== s.lineEv[l]) return false;
  if (t >= 0 && s.foldedTasks.has(t) && s.tasks[t].ev !== s.lineEv[l]) return false;
  return true;
}

function rebuildView() {
  S.viewLen = 0;
  for (let l = 0; l < S.lineText.length; l++) if (visible(l)) pushView(l);
  S.version++;
  scheduleDraw();
}

function finishIfDone() {
  const s = S;
  if (!s.eventsDone || !s.inspect) return;
  const lines = s.lineText.length;
  const { summary, firstProblem } = s.inspect;
  const state = $('#state');
  state.className = firstProblem ? 'bad' : 'good';
  const what = `${s.events.length.toLocaleString('en')} events, ${lines.toLocaleString('en')} output lines${s.status ? `, status ${s.status}` : ''}`;
  state.textContent = firstProblem ? `${s.name}: ${what}. ${firstProblem}` : `${s.name}: a complete, valid ${summary?.stream ?? ''} stream: ${what}.`;
  renderTasksIfShown();
  scheduleDraw();
  requestAnimationFrame(() =>
    setTimeout(() => {
      if (s !== S) return;
      document.body.dataset.doneMs = String(Math.round(performance.now() - s.t0));
      document.body.dataset.state = 'done';
    }),
  );
}

// ---- the output: a virtual list -----------------------------------------------------------

const out = $('#output');
const spacer = $('#output .spacer');
const rowsBox = $('#output .rows');
let drawPending = false;

function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    draw();
  });
}

function geometry() {
  const n = S.viewLen;
  const vh = out.clientHeight || 600;
  const full = n * LH;
  const height = Math.min(full, MAX_HEIGHT);
  return { n, vh, full, height, scaled: full > MAX_HEIGHT };
}

function draw() {
  if (!S) return;
  const { n, vh, height, scaled } = geometry();
  spacer.style.height = `${height}px`;
  let exact;
  let top;
  if (!scaled) {
    exact = out.scrollTop / LH;
  } else {
    const maxScroll = height - vh;
    const maxFirst = n - Math.floor(vh / LH);
    exact = maxScroll > 0 ? (out.scrollTop / maxScroll) * maxFirst : 0;
  }
  const first = Math.max(0, Math.floor(exact) - MARGIN);
  top = out.scrollTop - (exact - first) * LH;
  if (!scaled) top = first * LH;
  const count = Math.min(n - first, Math.ceil(vh / LH) + 2 * MARGIN);
  rowsBox.style.transform = `translateY(${Math.max(0, top)}px)`;
  const drawn = new Map();
  const rows = [];
  for (let k = 0; k < count; k++) {
    const l = S.view[first + k];
    const old = S.drawn.get(l);
    const row = old && old.version === S.version ? old.row : drawRow(l);
    drawn.set(l, { row, version: S.version });
    rows.push(row);
  }
  S.drawn = drawn;
  rowsBox.replaceChildren(...rows);
  if (S.sel >= 0 && drawn.has(S.sel)) out.setAttribute('aria-activedescendant', `L${S.sel}`);
  else out.removeAttribute('aria-activedescendant');
  if (!S.firstScreen && count > 0 && out.clientHeight > 0 && (S.viewLen * LH >= out.clientHeight || S.eventsDone)) {
    S.firstScreen = true;
    const s = S;
    requestAnimationFrame(() =>
      setTimeout(() => {
        if (s === S) document.body.dataset.firstScreenMs = String(Math.round(performance.now() - s.t0));
      }),
    );
  }
}

function drawRow(l) {
  const s = S;
  const e = s.events[s.lineEv[l]];
  const hdr = s.lineHdr[l];
  const row = el('div', { className: 'row', id: `L${l}`, dataset: { line: String(l), counter: String(e.n) } });
  row.setAttribute('role', 'option');
  row.setAttribute('aria-selected', String(l === s.sel));
  if (e.host && e.res) row.classList.add(`r-${e.res}`);
  if (hdr === 1) row.classList.add('hdr-play');
  if (hdr === 2) row.classList.add('hdr-task');
  if (l === s.sel) row.classList.add('sel');
  if (s.matchSet.has(l)) row.classList.add(s.matches[s.cur] === l ? 'cur' : 'match');
  row.append(
    l === e.first
      ? el('a', { className: 'n', href: linkFor({ event: e.n }), textContent: String(e.n), tabIndex: -1, title: `event ${e.n}${e.host ? ` on ${e.host}` : ''}: ${e.ev}` })
      : el('span', { className: 'n' }),
  );
  if (hdr) {
    const folded = hdr === 1 ? s.foldedPlays.has(s.linePlay[l]) : s.foldedTasks.has(s.lineTask[l]);
    const b = el('button', { className: 'fold', type: 'button', tabIndex: -1, textContent: folded ? '▸' : '▾', dataset: { fold: hdr === 1 ? `p${s.linePlay[l]}` : `t${s.lineTask[l]}` } });
    b.setAttribute('aria-label', folded ? 'Unfold' : 'Fold');
    b.setAttribute('aria-expanded', String(!folded));
    row.append(b);
  } else {
    row.append(el('span', { className: 'fold' }));
  }
  row.append(renderText(s.lineText[l], s.query));
  return row;
}

/** One line of terminal text as elements: ANSI runs become spans, search hits <mark>. */
function renderText(line, query) {
  const box = el('span', { className: 't' });
  const runs = ansiRuns(line);
  let hits = [];
  if (query) {
    const plain = runs.map((r) => r.text).join('').toLowerCase();
    const q = query.toLowerCase();
    for (let at = plain.indexOf(q); at >= 0; at = plain.indexOf(q, at + q.length)) hits.push([at, at + q.length]);
  }
  let pos = 0;
  for (const run of runs) {
    const end = pos + run.text.length;
    const cuts = [pos, end];
    for (const [a, b] of hits) {
      if (a > pos && a < end) cuts.push(a);
      if (b > pos && b < end) cuts.push(b);
    }
    cuts.sort((a, b) => a - b);
    for (let k = 0; k + 1 < cuts.length; k++) {
      const [a, b] = [cuts[k], cuts[k + 1]];
      if (a === b) continue;
      const text = run.text.slice(a - pos, b - pos);
      let node = run.style ? styled(text, run.style) : document.createTextNode(text);
      if (hits.some(([x, y]) => a >= x && b <= y)) node = el('mark', {}, node);
      box.append(node);
    }
    pos = end;
  }
  return box;
}

function styled(text, st) {
  const span = el('span', { textContent: text });
  let fg = colourOf(st.fg);
  let bg = colourOf(st.bg);
  if (st.inverse) {
    [fg, bg] = [bg, fg];
    if (!fg) span.classList.add('inv-fg');
    if (!bg) span.classList.add('inv-bg');
  }
  if (st.bold) span.classList.add('b');
  if (st.dim) span.classList.add('d');
  if (st.italic) span.classList.add('i');
  if (st.underline) span.classList.add('u');
  if (st.strike) span.classList.add('s');
  // Colours are numbers checked to be 0..255 (model.mjs), set through CSSOM: no markup.
  if (fg?.index !== undefined) span.classList.add(`f${fg.index}`);
  else if (fg?.rgb) span.style.color = `rgb(${fg.rgb.map(Number).join(',')})`;
  if (bg?.index !== undefined) span.classList.add(`g${bg.index}`);
  else if (bg?.rgb) span.style.backgroundColor = `rgb(${bg.rgb.map(Number).join(',')})`;
  return span;
}

out.addEventListener('scroll', scheduleDraw, { passive: true });
window.addEventListener('resize', scheduleDraw);

out.addEventListener('click', (e) => {
  const fold = e.target.closest('button.fold');
  if (fold) {
    toggleFold(fold.dataset.fold);
    return;
  }
  if (e.target.closest('a.n')) return; // the hash link selects it
  const row = e.target.closest('.row');
  if (row) select(Number(row.dataset.line), { scroll: false });
});

function toggleFold(key, want) {
  const set = key[0] === 'p' ? S.foldedPlays : S.foldedTasks;
  const idx = Number(key.slice(1));
  const fold = want ?? !set.has(idx);
  if (fold) set.add(idx);
  else set.delete(idx);
  const anchor = S.sel;
  rebuildView();
  if (anchor >= 0) scrollToLine(anchor);
}

/** Selects output line `l` (and shows its event, or `eventIndex` when given). */
function select(l, { scroll = true, eventIndex, note } = {}) {
  S.sel = l;
  S.selEvent = eventIndex ?? (l >= 0 ? S.lineEv[l] : -1);
  S.version++;
  if (scroll && l >= 0) scrollToLine(l);
  scheduleDraw();
  if (S.selEvent >= 0) showDetails(S.selEvent, note);
  const counter = S.selEvent >= 0 ? S.events[S.selEvent].n : undefined;
  if (counter !== undefined) history.replaceState(null, '', linkFor({ event: counter }));
}

function viewIndexOf(l) {
  // The view is ascending: binary search.
  let lo = 0;
  let hi = S.viewLen - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = S.view[mid];
    if (v === l) return mid;
    if (v < l) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function scrollToLine(l) {
  const v = viewIndexOf(l);
  if (v < 0) return;
  const { n, vh, height, scaled } = geometry();
  spacer.style.height = `${height}px`;
  if (!scaled) {
    const y = v * LH;
    if (y < out.scrollTop + LH || y > out.scrollTop + vh - 2 * LH) out.scrollTop = Math.max(0, y - vh / 3);
  } else {
    const maxFirst = n - Math.floor(vh / LH);
    out.scrollTop = (Math.max(0, v - vh / LH / 3) / maxFirst) * (height - vh);
  }
  scheduleDraw();
}

/** Makes line `l` visible whatever the folds and filters, then selects it. */
function reveal(l, opts) {
  const s = S;
  let changed = false;
  if (!visible(l)) {
    const t = s.lineTask[l];
    const p = s.linePlay[l];
    if (t >= 0 && s.foldedTasks.delete(t)) changed = true;
    if (p >= 0 && s.foldedPlays.delete(p)) changed = true;
    if (!visible(l)) {
      s.hostFilter = s.resultFilter = '';
      $('#host-filter').value = $('#result-filter').value = '';
      changed = true;
    }
  }
  if (changed) rebuildView();
  showTab('output');
  select(l, opts);
}

/** The output line that shows event `i`: its first line, or the next event's that has one. */
function lineOfEvent(i) {
  for (let k = i; k < S.events.length; k++) if (S.events[k].count > 0) return S.events[k].first;
  for (let k = i - 1; k >= 0; k--) if (S.events[k].count > 0) return S.events[k].first + S.events[k].count - 1;
  return -1;
}

function jumpToEvent(i, note) {
  const l = lineOfEvent(i);
  if (l >= 0) reveal(l, { eventIndex: i, note });
  else showDetails(i, note);
}

/** The first event that starts at or after byte `offset`. */
function eventAtOffset(offset) {
  let lo = 0;
  let hi = S.events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (S.events[mid].off < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo < S.events.length ? lo : S.events.length - 1;
}

// ---- keyboard ----------------------------------------------------------------------------

out.addEventListener('keydown', (e) => {
  const s = S;
  if (!s || s.viewLen === 0) return;
  let v = s.sel >= 0 ? viewIndexOf(s.sel) : -1;
  const page = Math.max(1, Math.floor(out.clientHeight / LH) - 2);
  const move = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, j: 1, k: -1 }[e.key];
  if (move !== undefined) {
    v = v < 0 ? Math.floor(out.scrollTop / LH) : Math.min(s.viewLen - 1, Math.max(0, v + move));
  } else if (e.key === 'Home') v = 0;
  else if (e.key === 'End') v = s.viewLen - 1;
  else if ((e.key === 'ArrowLeft' || e.key === 'ArrowRight') && s.sel >= 0) {
    const l = s.sel;
    const key = s.lineHdr[l] === 1 || (s.lineTask[l] < 0 && s.linePlay[l] >= 0) ? `p${s.linePlay[l]}` : s.lineTask[l] >= 0 ? `t${s.lineTask[l]}` : null;
    if (key) {
      if (e.key === 'ArrowLeft' && key[0] === 't') select(s.events[s.tasks[s.lineTask[l]].ev].first + s.events[s.tasks[s.lineTask[l]].ev].count - 1, { scroll: false });
      toggleFold(key, e.key === 'ArrowLeft');
    }
    e.preventDefault();
    return;
  } else if (e.key === 'Enter' && s.sel >= 0) {
    showDetails(s.lineEv[s.sel]);
    e.preventDefault();
    return;
  } else return;
  e.preventDefault();
  select(s.view[v]);
});

document.addEventListener('keydown', (e) => {
  const typing = e.target.matches('input, select, textarea');
  if (e.key === '/' && !typing) {
    e.preventDefault();
    $('#search').focus();
  } else if (e.key === 'Escape' && !$('#details').hidden) {
    $('#details').hidden = true;
    out.focus();
  } else if ((e.key === 'n' || e.key === 'N') && !typing && S?.matches.length) {
    step(e.key === 'n' ? 1 : -1);
  }
});

// ---- event details -----------------------------------------------------------------------

async function readLine(offset) {
  const parts = [];
  for (let pos = offset, step = 64 * 1024; pos < S.blob.size; pos += step, step *= 2) {
    const bytes = new Uint8Array(await S.blob.slice(pos, Math.min(S.blob.size, pos + step)).arrayBuffer());
    const nl = bytes.indexOf(10);
    parts.push(nl >= 0 ? bytes.subarray(0, nl) : bytes);
    if (nl >= 0) break;
  }
  return new TextDecoder().decode(await new Blob(parts).arrayBuffer());
}

async function showDetails(i, note) {
  const s = S;
  const e = s.events[i];
  const t = e.task_i >= 0 ? s.tasks[e.task_i] : null;
  const facts = [
    ['counter', String(e.n)],
    ['event', e.ev],
    ['host', e.host],
    ['play', e.play || (t && s.plays[t.play]?.name) || ''],
    ['task', e.task || t?.name || ''],
    ['result', e.res],
    ['duration', fmtDur(e.dur)],
    ['created', e.created ? new Date(e.created).toISOString() : ''],
    ['byte offset', String(e.off)],
  ].filter(([, v]) => v);
  const box = $('#details');
  box.hidden = false;
  box.dataset.counter = String(e.n);
  const dl = box.querySelector('dl');
  dl.replaceChildren(
    ...(note ? [el('dt', { textContent: 'problem' }), el('dd', { className: 'bad', textContent: note })] : []),
    ...facts.flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: v, dataset: { key: k } })]),
    el('dt', { textContent: 'link' }),
    el('dd', {}, el('a', { href: linkFor({ event: e.n }), textContent: `#event=${e.n}` }), ' ', el('a', { href: linkFor({ offset: e.off }), textContent: `#offset=${e.off}` })),
  );
  const pre = box.querySelector('pre.data');
  pre.textContent = 'Reading the event…';
  try {
    const raw = await readLine(e.off);
    if (s !== S || s.selEvent !== i) {
      if (s === S && box.dataset.counter !== String(e.n)) return;
    }
    const text = JSON.stringify(mask(parsePythonJson(raw)), null, 2);
    pre.textContent = text.length > 2_000_000 ? `${text.slice(0, 2_000_000)}\n… (${text.length.toLocaleString('en')} characters; cut here)` : text;
  } catch (err) {
    pre.textContent = `This event's line could not be read back as JSON: ${err.message ?? err}`;
  }
}

$('#close-details').addEventListener('click', () => {
  $('#details').hidden = true;
  out.focus();
});

// ---- search and filters ------------------------------------------------------------------

function plainOf(l) {
  let p = S.plain[l];
  if (p === undefined) p = S.plain[l] = stripAnsi(S.lineText[l]).toLowerCase();
  return p;
}

function passesFilters(l) {
  const e = S.events[S.lineEv[l]];
  return !(S.hostFilter && e.host && e.host !== S.hostFilter) && !(S.resultFilter && e.host && e.res !== S.resultFilter);
}

function runSearch() {
  const s = S;
  if (!s) return;
  const q = $('#search').value;
  s.query = q;
  s.searchId++;
  const found = [];
  if (q) {
    const ql = q.toLowerCase();
    for (let l = 0; l < s.lineText.length; l++) if (passesFilters(l) && plainOf(l).includes(ql)) found.push(l);
  }
  setMatches(found);
  if (q && $('#search-data').checked) {
    $('#matches').textContent += ' (searching event data…)';
    s.workers[0].postMessage({ type: 'search', query: q, id: s.searchId });
  }
  if (s.matches.length) {
    const after = s.sel >= 0 ? s.matches.findIndex((l) => l >= s.sel) : 0;
    s.cur = after < 0 ? 0 : after;
    reveal(s.matches[s.cur]);
  }
  showCount();
}

function setMatches(lines) {
  S.matches = lines;
  S.matchSet = new Set(lines);
  S.cur = lines.length ? 0 : -1;
  S.version++;
  scheduleDraw();
  showCount();
}

function mergeDataMatches(offsets) {
  const s = S;
  const lines = new Set(s.matches);
  for (const off of offsets) {
    const i = eventAtOffset(off);
    if (i < 0 || s.events[i].off !== off) continue;
    const l = lineOfEvent(i);
    if (l >= 0 && passesFilters(l)) lines.add(l);
  }
  const current = s.matches[s.cur];
  setMatches([...lines].sort((a, b) => a - b));
  const at = current === undefined ? 0 : s.matches.indexOf(current);
  s.cur = at < 0 ? 0 : at;
  if (current === undefined && s.matches.length) reveal(s.matches[0]);
  showCount();
}

function showCount() {
  const s = S;
  $('#matches').textContent = !s?.query ? '' : s.matches.length ? `${s.cur + 1} of ${s.matches.length}` : 'no match';
}

function step(delta) {
  const s = S;
  if (!s.matches.length) return;
  s.cur = (s.cur + delta + s.matches.length) % s.matches.length;
  reveal(s.matches[s.cur]);
  showCount();
}

$('#search').addEventListener('keydown', (e) => {
  if (e.key !== 'Enter') return;
  e.preventDefault();
  if (S && S.query === $('#search').value && S.matches.length) step(e.shiftKey ? -1 : 1);
  else runSearch();
});
$('#search').addEventListener('search', () => {
  if (!$('#search').value) runSearch();
});
$('#search-data').addEventListener('change', () => S?.query && runSearch());
$('#next').addEventListener('click', () => (S?.query === $('#search').value ? step(1) : runSearch()));
$('#prev').addEventListener('click', () => (S?.query === $('#search').value ? step(-1) : runSearch()));

for (const r of RESULTS.filter((r) => r !== 'rescued')) $('#result-filter').append(el('option', { value: r, textContent: r }));
$('#host-filter').addEventListener('change', (e) => {
  S.hostFilter = e.target.value;
  rebuildView();
  if (S.query) runSearch();
});
$('#result-filter').addEventListener('change', (e) => {
  S.resultFilter = e.target.value;
  rebuildView();
  if (S.query) runSearch();
});
$('#fold-all').addEventListener('click', () => {
  S.tasks.forEach((_, i) => S.foldedTasks.add(i));
  rebuildView();
});
$('#unfold-all').addEventListener('click', () => {
  S.foldedTasks.clear();
  S.foldedPlays.clear();
  rebuildView();
});

// ---- tasks x hosts, recap, timeline -------------------------------------------------------

/** A failed (not ignored) result after which the host still runs tasks of the same play was rescued. */
function taskResults() {
  const s = S;
  const lastOf = new Map();
  s.tasks.forEach((t, i) => {
    for (const h of t.hosts.keys()) lastOf.set(`${t.play}\u0000${h}`, i);
  });
  return s.tasks.map((t, i) => {
    const cells = new Map();
    for (const [h, c] of t.hosts) cells.set(h, c.res === 'failed' && lastOf.get(`${t.play}\u0000${h}`) > i ? { ...c, res: 'rescued' } : c);
    return cells;
  });
}

const taskDur = (t) => (t.end > t.start ? (t.end - t.start) / 1000 : 0);

function renderTasks() {
  const s = S;
  const results = taskResults();
  const hosts = s.hosts;
  const head = el('tr', {}, el('th', { textContent: '#' }), el('th', { textContent: 'Task' }), el('th', { textContent: 'Duration' }), ...hosts.map((h) => el('th', { textContent: h, scope: 'col' })));
  const shown = Math.min(s.tasks.length, s.tasksShown);
  const rows = [];
  for (let i = 0; i < shown; i++) {
    const t = s.tasks[i];
    const cells = results[i];
    rows.push(
      el('tr', { dataset: { task: String(i) } },
        el('td', { className: 'num', textContent: String(i + 1) }),
        el('th', { scope: 'row' }, el('a', { href: linkFor({ event: s.events[t.ev].n }), textContent: t.name || '(unnamed)' }), t.handler ? el('span', { className: 'tag', textContent: 'handler' }) : '', el('span', { className: 'play', textContent: s.plays[t.play]?.name ?? '' })),
        el('td', { className: 'num', textContent: fmtDur(taskDur(t)) }),
        ...hosts.map((h) => {
          const c = cells.get(h);
          if (!c) return el('td', { className: 'none', dataset: { host: h } });
          return el('td', { className: `r-${c.res}`, dataset: { host: h, result: c.res } }, el('a', { href: linkFor({ event: s.events[c.ev].n }), textContent: c.res, title: `${h}: ${c.res}${c.dur !== null ? `, ${fmtDur(c.dur)}` : ''}` }), c.dur !== null ? el('span', { className: 'dur', textContent: fmtDur(c.dur) }) : '');
        }),
      ),
    );
  }
  const totals = hosts.map((h) => {
    const count = {};
    for (const cells of results) {
      const c = cells.get(h);
      if (c) count[c.res] = (count[c.res] ?? 0) + 1;
    }
    return el('td', { className: 'totals', dataset: { host: h } }, RESULTS.filter((r) => count[r]).map((r) => `${r} ${count[r]}`).join(', '));
  });
  const foot = el('tfoot', {}, el('tr', {}, el('td', {}), el('th', { scope: 'row', textContent: 'Results per host' }), el('td', {}), ...totals));
  $('#task-table').replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows), foot);
  const more = $('#task-more');
  more.replaceChildren();
  if (shown < s.tasks.length) {
    more.append(
      `${shown.toLocaleString('en')} of ${s.tasks.length.toLocaleString('en')} tasks shown. `,
      el('button', { type: 'button', textContent: `Show ${Math.min(TABLE_PAGE, s.tasks.length - shown)} more`, onclick: () => ((s.tasksShown += TABLE_PAGE), renderTasks()) }),
    );
  }

  const recapCols = [['ok', 'ok'], ['changed', 'changed'], ['unreachable', 'dark'], ['failed', 'failures'], ['skipped', 'skipped'], ['rescued', 'rescued'], ['ignored', 'ignored']];
  const stats = s.stats ?? {};
  const recapHosts = [...new Set(Object.values(stats).flatMap((m) => Object.keys(m)))];
  $('#recap').replaceChildren(
    el('thead', {}, el('tr', {}, el('th', { textContent: 'Host' }), ...recapCols.map(([c]) => el('th', { textContent: c })))),
    el('tbody', {}, ...recapHosts.map((h) => el('tr', { dataset: { host: h } }, el('th', { scope: 'row', textContent: h }), ...recapCols.map(([c, k]) => el('td', { className: `num${stats[k]?.[h] && c !== 'ok' ? ` r-${c}` : ''}`, textContent: String(stats[k]?.[h] ?? 0), dataset: { key: c } }))))),
  );
  if (!recapHosts.length) $('#recap').append(el('caption', { textContent: s.stats ? 'The recap is empty.' : 'No playbook_on_stats event in this stream.' }));
  renderTimeline();
}

function renderTimeline() {
  const s = S;
  const tasks = s.tasks;
  const starts = tasks.map((t) => t.start).filter(Boolean);
  const t0 = starts.length ? Math.min(...starts.slice(0, 100000)) : 0;
  const t1 = Math.max(t0 + 1, ...tasks.slice(0, 100000).map((t) => t.end || t.start));
  const span = t1 - t0;
  const shown = Math.min(tasks.length, s.tasksShown);
  const rows = [];
  for (let i = 0; i < shown; i++) {
    const t = tasks[i];
    const bar = el('div', { className: 'bar' });
    // Positions are numbers computed here, set through CSSOM.
    bar.style.marginLeft = `${(((t.start - t0) / span) * 100).toFixed(3)}%`;
    bar.style.width = `${Math.max(0.2, (taskDur(t) * 1000 / span) * 100).toFixed(3)}%`;
    rows.push(el('div', { className: 'tl-row', dataset: { task: String(i) } }, el('a', { className: 'tl-name', href: linkFor({ event: s.events[t.ev].n }), textContent: t.name || '(unnamed)' }), el('div', { className: 'track' }, bar), el('span', { className: 'num', textContent: fmtDur(taskDur(t)) })));
  }
  $('#timeline').replaceChildren(...rows);
  $('#timeline-more').textContent = shown < tasks.length ? `${shown.toLocaleString('en')} of ${tasks.length.toLocaleString('en')} tasks drawn (Show more in Tasks × hosts draws more).` : '';
  const slow = tasks.map((t, i) => [taskDur(t), i]).sort((a, b) => b[0] - a[0]).slice(0, 10);
  $('#slowest').replaceChildren(...slow.map(([d, i]) => el('li', { dataset: { task: String(i) } }, el('a', { href: linkFor({ event: s.events[tasks[i].ev].n }), textContent: tasks[i].name || '(unnamed)' }), ` ${fmtDur(d)}`)));
}

function renderTasksIfShown() {
  if (!$('#tasks-view').hidden || !$('#timeline-view').hidden) renderTasks();
}

// ---- the inspector's panels --------------------------------------------------------------

function renderInspect() {
  const { summary = {}, problems, problemCount, statuses, archives } = S.inspect;
  const facts = [
    ['stream', `${summary.stream} stream`],
    ['bytes', summary.bytes?.toLocaleString('en')],
    ['lines', summary.lines?.toLocaleString('en')],
    ['complete', summary.complete ? 'yes (eof frame)' : 'no'],
    ['events', String(summary.events?.total ?? 0)],
    ['counters', summary.events?.counters ? summary.events.counters.join(' to ') : '-'],
    ['keepalives', String(summary.keepalives ?? 0)],
    ['archives', String(summary.archives?.length ?? 0)],
    ['problems', String(summary.problems)],
  ];
  $('#summary dl').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: v ?? '', dataset: { key: k } })]));
  $('#problem-count').textContent = problemCount ? `(${problemCount})` : '';
  $('#problems .count').textContent = `(${problemCount}${problems.length < problemCount ? `, first ${problems.length} listed` : ''})`;
  const problemItem = (p, tag = 'li') =>
    el(tag, { dataset: { kind: p.kind, offset: String(p.offset) } },
      el('a', { href: linkFor({ offset: p.offset }), className: 'kind', textContent: p.kind, dataset: { problem: String(p.offset) } }),
      ` at byte ${p.offset}, line ${p.line}: ${p.message}`,
      p.excerpt ? el('code', { className: 'excerpt', textContent: p.excerpt }) : '');
  $('#problems ol').replaceChildren(...problems.map((p) => problemItem(p)));
  if (problems.length === 0) $('#problems ol').append(el('li', { textContent: 'None.' }));
  $('#problem-bar').replaceChildren(...problems.slice(0, 20).map((p) => problemItem(p)));
  if (problems.length > 20) $('#problem-bar').append(el('li', {}, `… ${problemCount - 20} more in `, el('a', { href: '#', textContent: 'Inspect', onclick: (e) => (e.preventDefault(), showTab('inspect')) })));
  $('#statuses ol').replaceChildren(...statuses.map((st) => el('li', { textContent: `${st.status} (byte ${st.offset})` })));
  $('#archives div').replaceChildren(
    ...(summary.archives ?? []).map((a) =>
      el('div', {},
        el('p', { textContent: `Archive at byte ${a.offset}: ${a.size.toLocaleString('en')} bytes of zip, ${a.entry_count} entries` }),
        el('table', {},
          el('tr', {}, ...['name', 'size', 'mode', 'link', 'crc'].map((h) => el('th', { textContent: h }))),
          ...(a.entries ?? []).map((e) => el('tr', {}, ...[e.name, String(e.size), e.mode, e.link ?? '', e.crc_ok ? 'ok' : 'BAD'].map((v) => el('td', { className: 'mono', textContent: v }))))))),
  );
  void archives;
}

// ---- tabs --------------------------------------------------------------------------------

const TABS = ['output', 'tasks', 'timeline', 'inspect'];
function showTab(name) {
  for (const t of TABS) {
    const tab = $(`#tab-${t}`);
    tab.setAttribute('aria-selected', String(t === name));
    tab.tabIndex = t === name ? 0 : -1;
    $(`#${t}-view`).hidden = t !== name;
  }
  if ((name === 'tasks' || name === 'timeline') && S) renderTasks();
  if (name === 'output') scheduleDraw();
}
$('#tabs').addEventListener('click', (e) => {
  const tab = e.target.closest('[role=tab]');
  if (tab) showTab(tab.id.slice(4));
});
$('#tabs').addEventListener('keydown', (e) => {
  const i = TABS.findIndex((t) => $(`#tab-${t}`).getAttribute('aria-selected') === 'true');
  const d = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
  if (d === undefined) return;
  const next = TABS[(i + d + TABS.length) % TABS.length];
  showTab(next);
  $(`#tab-${next}`).focus();
});

// ---- links: #event=N, #offset=N (and #src=, the stream to fetch, from view.mjs) ---------

function hashParams() {
  return new URLSearchParams(location.hash.slice(1));
}

function linkFor(target) {
  const p = new URLSearchParams();
  const now = hashParams();
  for (const k of ['src', 'name']) if (now.has(k)) p.set(k, now.get(k));
  for (const [k, v] of Object.entries(target)) p.set(k, String(v));
  return `#${p}`;
}

function applyTarget() {
  const s = S;
  const target = s.pendingTarget;
  if (!target) return;
  if (s.events.length === 0) {
    // No event to show it at (a job stream, or nothing decodable): the problem's own entry.
    if (!s.eventsDone || !s.inspect) return;
    s.pendingTarget = null;
    showTab('inspect');
    const li = target.offset !== undefined && document.querySelector(`#problems li[data-offset="${target.offset}"]`);
    if (li) {
      li.classList.add('target');
      li.scrollIntoView({ block: 'center' });
      li.querySelector('a').focus();
    }
    return;
  }
  if (target.event !== undefined) {
    const i = s.byCounter.get(target.event);
    if (i === undefined) {
      if (s.eventsDone) {
        s.pendingTarget = null;
        $('#state').textContent = `${s.name}: no event with counter ${target.event}.`;
      }
      return;
    }
    s.pendingTarget = null;
    jumpToEvent(i);
  } else if (target.offset !== undefined) {
    const last = s.events[s.events.length - 1];
    if (last.off < target.offset && !s.eventsDone) return;
    s.pendingTarget = null;
    const problem = s.inspect?.problems.find((p) => p.offset === target.offset);
    jumpToEvent(eventAtOffset(target.offset), problem ? `${problem.kind} at byte ${problem.offset}, line ${problem.line}: ${problem.message}` : undefined);
  }
}

function targetFromHash() {
  const p = hashParams();
  const num = (k) => (/^\d+$/.test(p.get(k) ?? '') ? Number(p.get(k)) : undefined);
  if (num('event') !== undefined) return { event: num('event') };
  if (num('offset') !== undefined) return { offset: num('offset') };
  return null;
}

window.addEventListener('hashchange', () => {
  const p = hashParams();
  if (p.has('src') && (!S || S.src !== p.get('src'))) {
    openFromHash();
    return;
  }
  if (!S) return;
  S.pendingTarget = targetFromHash();
  applyTarget();
});

async function openFromHash() {
  const p = hashParams();
  const src = p.get('src');
  if (!src) return false;
  // Only a relative path on this page's own origin (connect-src 'self' enforces it too).
  const url = new URL(src, location.href);
  if (url.origin !== location.origin || !/^[\w./-]+$/.test(src)) {
    fail('The #src link must name a file on this page’s own server.');
    return true;
  }
  const name = p.get('name') || src.split('/').pop();
  document.body.dataset.state = 'working';
  $('#state').className = '';
  $('#state').textContent = `Fetching ${name}…`;
  try {
    const t0 = performance.now();
    const res = await fetch(url, { credentials: 'omit', cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const blob = await res.blob();
    show(blob, name, t0);
    S.src = src;
  } catch (e) {
    fail(`Could not fetch ${name}: ${e.message ?? e}`);
  }
  return true;
}

// ---- opening a stream --------------------------------------------------------------------

function show(blob, name, t0) {
  if (S) for (const w of S.workers) w.terminate();
  S = session(blob, name);
  if (t0 !== undefined) S.t0 = t0;
  S.pendingTarget = targetFromHash();
  delete document.body.dataset.firstScreenMs;
  delete document.body.dataset.doneMs;
  document.body.dataset.state = 'working';
  document.title = `${name}: runnerwire`;
  $('#state').className = '';
  $('#state').textContent = `Reading ${name}…`;
  $('#progress').hidden = false;
  $('#progress progress').value = 0;
  $('#host-filter').replaceChildren(el('option', { value: '', textContent: 'All hosts' }));
  $('#result-filter').value = '';
  $('#search').value = '';
  $('#matches').textContent = '';
  $('#details').hidden = true;
  $('#problem-bar').replaceChildren();
  for (const sel of ['#task-table', '#recap', '#timeline', '#slowest', '#summary dl', '#problems ol', '#statuses ol', '#archives div']) $(sel).replaceChildren();
  $('#problem-count').textContent = '';
  $('#tabs').hidden = false;
  $('#result').hidden = false;
  out.scrollTop = 0;
  showTab('output');
  startWorkers();
  scheduleDraw();
}

$('#file').addEventListener('change', (e) => {
  const file = e.target.files[0];
  if (!file) return;
  if (hashParams().has('src')) history.replaceState(null, '', location.pathname);
  show(file, file.name);
});
const drop = $('#drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer.files[0];
  if (!file) return;
  if (hashParams().has('src')) history.replaceState(null, '', location.pathname);
  show(file, file.name);
});

document.body.dataset.state = 'ready';
openFromHash();
