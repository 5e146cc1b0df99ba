// The page: a stream file in, the component's diagnosis and the decoded events out.

import { load } from './codec.mjs';

const $ = (selector) => document.querySelector(selector);
const el = (tag, { dataset, ...props } = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
};

/** Python's json writes NaN and Infinity bare; JSON.parse refuses them: they become null. */
function parsePythonJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (token) => (token.startsWith('"') ? token : 'null')));
  }
}

/** The inspector's JSON lines and, while the stream decodes cleanly, its events. */
async function examine(file) {
  const [inspectCodec, frameCodec] = await Promise.all([load(), load()]);
  const limits = inspectCodec.types.defaultLimits();
  const inspector = new inspectCodec.inspect.Inspector(limits);
  const kwargsFirst = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  const isJob = new TextDecoder().decode(kwargsFirst).startsWith('{"kwargs"');
  const decoder = new frameCodec.frames.Decoder(isJob ? 'job-stream' : 'result-stream', limits);
  const text = new TextDecoder();
  let jsonLines = '';
  const events = [];
  let decodeError;
  const drainFrames = () => {
    while (decodeError === undefined) {
      let frame;
      try {
        frame = decoder.next();
      } catch (e) {
        decodeError = e.payload ?? e;
        return;
      }
      if (frame === undefined) return;
      if (frame.tag === 'line' && frame.val.kind === 'event') events.push(parsePythonJson(frame.val.json));
    }
  };
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    jsonLines += text.decode(inspector.push(value), { stream: true });
    if (decodeError === undefined) {
      decoder.push(value);
      drainFrames();
    }
  }
  jsonLines += text.decode(inspector.finish());
  if (decodeError === undefined) {
    decoder.finish();
    drainFrames();
  }
  const lines = jsonLines.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { lines, events, firstProblem: inspector.firstProblem() };
}

function render(file, { lines, events, firstProblem }) {
  const summary = lines.at(-1).summary;
  const problems = lines.filter((l) => l.problem).map((l) => l.problem);

  const state = $('#state');
  state.className = firstProblem ? 'bad' : 'good';
  state.textContent = firstProblem ? `${file.name}: ${firstProblem}` : `${file.name}: a complete, valid ${summary.stream} stream.`;

  const facts = [
    ['stream', `${summary.stream} stream`],
    ['bytes', summary.bytes.toLocaleString('en')],
    ['lines', summary.lines.toLocaleString('en')],
    ['complete', summary.complete ? 'yes (eof frame)' : 'no'],
    ['events', String(summary.events?.total ?? 0)],
    ['counters', summary.events?.counters ? summary.events.counters.join(' to ') : '-'],
    ['keepalives', String(summary.keepalives ?? 0)],
    ['archives', String(summary.archives?.length ?? 0)],
    ['problems', String(summary.problems)],
  ];
  $('#summary dl').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: v, dataset: { key: k } })]));

  $('#problems .count').textContent = `(${problems.length})`;
  $('#problems ol').replaceChildren(
    ...problems.map((p) =>
      el('li', { dataset: { kind: p.kind, offset: String(p.offset) } },
        el('span', { className: 'kind', textContent: p.kind }),
        ` at byte ${p.offset}, line ${p.line}: ${p.message}`,
        p.excerpt ? el('code', { className: 'excerpt', textContent: p.excerpt }) : '')),
  );
  if (problems.length === 0) $('#problems ol').append(el('li', { textContent: 'None.' }));

  $('#statuses ol').replaceChildren(...(summary.statuses ?? []).map((s) => el('li', { textContent: `${s.status} (byte ${s.offset})` })));

  const byHost = new Map();
  for (const event of events) {
    const host = event.event_data?.host ?? event.event_data?.remote_addr ?? '(no host)';
    if (!byHost.has(host)) byHost.set(host, []);
    byHost.get(host).push(event);
  }
  $('#events .count').textContent = `(${events.length})`;
  $('#events div').replaceChildren(
    ...[...byHost].map(([host, list]) =>
      el('details', { open: byHost.size <= 3, dataset: { host } },
        el('summary', { textContent: `${host}: ${list.length} events` }),
        ...list.map((e) =>
          el('div', { className: 'event' },
            el('span', { className: 'mono', textContent: `#${e.counter} ${e.event}` }),
            e.stdout ? el('pre', { className: 'stdout', textContent: e.stdout }) : '')))),
  );

  $('#archives div').replaceChildren(
    ...(summary.archives ?? []).map((a) =>
      el('div', {},
        el('p', { textContent: `Archive at byte ${a.offset}: ${a.size.toLocaleString('en')} bytes of zip, ${a.entry_count} entries` }),
        el('table', {},
          el('tr', {}, ...['name', 'size', 'mode', 'link', 'crc'].map((h) => el('th', { textContent: h }))),
          ...(a.entries ?? []).map((e) =>
            el('tr', {}, ...[e.name, String(e.size), e.mode, e.link ?? '', e.crc_ok ? 'ok' : 'BAD'].map((v) => el('td', { className: 'mono', textContent: v }))))))),
  );
  $('#result').hidden = false;
}

async function show(file) {
  document.body.dataset.state = 'working';
  $('#state').className = '';
  $('#state').textContent = `Reading ${file.name}…`;
  try {
    render(file, await examine(file));
    document.body.dataset.state = 'done';
  } catch (e) {
    $('#state').className = 'bad';
    $('#state').textContent = `Could not read ${file.name}: ${e.message ?? e}`;
    document.body.dataset.state = 'failed';
  }
}

$('#file').addEventListener('change', (e) => e.target.files[0] && show(e.target.files[0]));
const drop = $('#drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files[0]) show(e.dataTransfer.files[0]);
});
document.body.dataset.state = 'ready';
