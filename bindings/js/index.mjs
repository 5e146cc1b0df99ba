// runnerwire for Node: ansible-runner's job and result streams, decoded, diagnosed and
// processed by the same WebAssembly component the native CLI embeds.

import { mkdirSync, mkdtempSync, rmSync, existsSync, lstatSync, openSync, closeSync, statSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, isAbsolute } from 'node:path';
import { randomBytes } from 'node:crypto';
import { load } from './lib/load.mjs';
import { policy } from './lib/policy.mjs';
import { limitsFor } from './lib/limits.mjs';
import { chunks } from './lib/source.mjs';
import { EXIT, Failure, StreamError, streamError } from './lib/errors.mjs';

export { EXIT, Failure, StreamError };

/** The component's default limits. */
export async function defaultLimits() {
  return policy.types.defaultLimits();
}

function scratchDir(stage) {
  return mkdtempSync(join(tmpdir(), `runnerwire-${stage}-`));
}

/**
 * Diagnoses a stream: every frame and problem with its byte offset.
 * @returns {Promise<{jsonLines: string, report: string, firstProblem: string | undefined, summary: object}>}
 */
export async function inspect(source, { limits, onJsonLines } = {}) {
  const scratch = scratchDir('inspect');
  try {
    const codec = await load([{ guest: '/scratch', host: scratch, writable: true }]);
    const inspector = new codec.inspect.Inspector(limitsFor(codec, limits));
    const decoder = new TextDecoder();
    let jsonLines = '';
    const take = (bytes) => {
      if (onJsonLines) onJsonLines(bytes);
      else jsonLines += decoder.decode(bytes, { stream: true });
    };
    for await (const chunk of chunks(source)) take(inspector.push(chunk));
    take(inspector.finish());
    const report = inspector.textReport();
    const firstProblem = inspector.firstProblem();
    const last = jsonLines.trimEnd().split('\n').pop();
    return { jsonLines, report, firstProblem, summary: last ? JSON.parse(last).summary : undefined };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The first problem as `validate` prints it, or undefined for a complete, valid stream. */
export async function validate(source, { limits } = {}) {
  return (await inspect(source, { limits, onJsonLines: () => {} })).firstProblem;
}

/**
 * The decoded frames of a job stream (`kind: 'job'`) or result stream (`'result'`).
 * Lines come as `{type: 'line', offset, kind, json}` (json re-encoded as Python writes it),
 * archives as `archive-start` (offset, size), `archive-data` (bytes) and `archive-end`.
 * A bad stream throws a StreamError.
 */
export async function* frames(source, { kind = 'result', limits } = {}) {
  const codec = await load();
  const decoder = new codec.frames.Decoder(kind === 'job' ? 'job-stream' : 'result-stream', limitsFor(codec, limits));
  const drain = function* () {
    for (;;) {
      let frame;
      try {
        frame = decoder.next();
      } catch (e) {
        throw streamError(e)[0];
      }
      if (frame === undefined) return;
      switch (frame.tag) {
        case 'line':
          yield { type: 'line', offset: Number(frame.val.offset), kind: frame.val.kind, json: frame.val.json };
          break;
        case 'archive-start':
          yield { type: 'archive-start', offset: Number(frame.val[0]), size: Number(frame.val[1]) };
          break;
        case 'archive-data':
          yield { type: 'archive-data', bytes: frame.val };
          break;
        case 'archive-end':
          yield { type: 'archive-end', offset: Number(frame.val) };
          break;
      }
    }
  };
  for await (const chunk of chunks(source)) {
    decoder.push(chunk);
    yield* drain();
  }
  decoder.finish();
  yield* drain();
}

/** Carries out the component's preparation steps (what upstream's CLI makes first), in order. */
function prepare(steps) {
  for (const { tag, val } of steps) {
    if (tag === 'make-dir' && !(existsSync(val.path) && statSync(val.path).isDirectory())) {
      mkdirSync(val.path, { recursive: true, mode: val.mode });
    } else if (tag === 'make-empty-file') {
      try {
        lstatSync(val.path);
      } catch {
        closeSync(openSync(val.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, val.mode));
      }
    }
  }
}

/**
 * The `process` stage: writes upstream's artifact tree under `privateDataDir` from a result
 * stream. `onOutput(bytes)` gets the event stdout `process` prints. Resolves to the outcome
 * and the exit code the native CLI would give; a bad stream rejects with a StreamError
 * (after `onOutput` got the output of the events before it). `resume`: continue a run that
 * broke part way, fed the same stream from its start (the CLI's `--resume`): events already
 * written are neither written nor output again; another stream's files on disk reject.
 */
export async function process(source, privateDataDir, { ident, artifactDir, quiet = false, resume = false, limits, onOutput = () => {}, cwd = globalThis.process.cwd() } = {}) {
  const pdd = isAbsolute(privateDataDir) ? privateDataDir : resolve(cwd, privateDataDir);
  try {
    prepare(policy.process.prepareSteps(pdd));
  } catch (e) {
    throw new Failure(`cannot create ${pdd}: ${e.message}`, EXIT.IO_ERROR);
  }
  const dir = policy.process.artifactDir(cwd, pdd, ident ?? undefined, artifactDir ?? undefined);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Failure(`cannot create the artifact dir ${dir}: ${e.message}`, EXIT.IO_ERROR);
  }
  const scratch = scratchDir('process');
  try {
    const codec = await load([
      { guest: '/artifacts', host: dir, writable: true },
      { guest: '/scratch', host: scratch, writable: true },
    ]);
    // Resuming, the component checks the event files already on disk against the stream.
    const processor = resume
      ? codec.process.Processor.resuming(limitsFor(codec, limits), quiet)
      : new codec.process.Processor(limitsFor(codec, limits), quiet);
    const fail = (e) => {
      const [error, printed] = streamError(e);
      if (printed?.length) onOutput(printed);
      return error;
    };
    try {
      for await (const chunk of chunks(source)) {
        const printed = processor.feed(chunk);
        if (printed.length) onOutput(printed);
        // Like upstream, stop at eof: the writer may keep the pipe open.
        if (processor.complete()) break;
      }
      const [printed, outcome] = processor.finish();
      if (printed.length) onOutput(printed);
      return { status: outcome.status, rc: outcome.rc, eventsWritten: Number(outcome.eventsWritten), artifactDir: dir, exitCode: outcome.exitCode };
    } catch (e) {
      throw fail(e);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Upstream's `valid_inventory`, the rule the component gives: the first candidate that is a file or a directory. */
function validInventory(cwd, pdd, inventory) {
  const { candidates, notFound } = policy.transmit.inventoryCandidates(cwd, pdd, String(inventory));
  const found = candidates.find((p) => existsSync(p) && (statSync(p).isFile() || statSync(p).isDirectory()));
  if (found === undefined) throw new Failure(notFound, EXIT.USAGE);
  return found;
}

/**
 * The `transmit` stage: the job stream for the private data dir `dir`, in chunks.
 * Options are upstream's transmit options in camelCase (`playbook`, `ident`, `inventory`,
 * `module`, `moduleArgs`, `hostPattern`, `verbosity`, `cmdline`, `limit`, `forks`, ...).
 */
export async function* transmit(dir, options = {}) {
  const cwd = options.cwd ?? globalThis.process.cwd();
  const pdd = resolve(cwd, dir);
  prepare(policy.transmit.prepareSteps(pdd));
  const hex = () => randomBytes(16).toString('hex');
  const request = {
    privateDataDir: pdd,
    ident: options.ident ?? hex(),
    binary: options.binary,
    playbook: options.playbook,
    module: options.module,
    moduleArgs: options.moduleArgs,
    hostPattern: options.hostPattern,
    verbosity: options.verbosity || undefined,
    quiet: Boolean(options.quiet),
    rotateArtifacts: BigInt(options.rotateArtifacts ?? 0),
    jsonMode: Boolean(options.jsonMode),
    omitEventData: Boolean(options.omitEventData),
    onlyFailedEventData: Boolean(options.onlyFailedEventData),
    inventory: options.inventory === undefined ? undefined : validInventory(cwd, pdd, options.inventory),
    forks: options.forks === undefined ? undefined : String(options.forks),
    projectDir: options.projectDir,
    artifactDir: options.artifactDir,
    rolesPath: options.rolesPath,
    containerImage: options.containerImage,
    containerVolumeMounts: options.containerVolumeMounts?.length ? options.containerVolumeMounts : undefined,
    containerOptions: options.containerOptions?.length ? options.containerOptions : undefined,
    cmdline: options.cmdline,
    limit: options.limit,
    suppressEnvFiles: Boolean(options.suppressEnvFiles),
    role: options.role,
    roleVars: options.roleVars,
    roleSkipFacts: Boolean(options.roleSkipFacts),
    generatedName: hex(),
    onlyTransmitKwargs: Boolean(options.onlyTransmitKwargs),
    now: BigInt(Math.floor(Date.now() / 1000)),
  };
  const scratch = scratchDir('transmit');
  try {
    const codec = await load([
      { guest: '/pdd', host: pdd, writable: false },
      { guest: '/scratch', host: scratch, writable: true },
    ]);
    let transmitter;
    try {
      transmitter = codec.transmit.Transmitter.start(request);
      for (;;) {
        const chunk = transmitter.nextChunk();
        if (chunk === undefined) return;
        yield chunk;
      }
    } catch (e) {
      throw streamError(e)[0];
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
