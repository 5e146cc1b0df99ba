#!/usr/bin/env node
// `node cli.mjs inspect|validate|process ...`: the native CLI's arguments, output and exit
// codes, from the same component. The arguments are parsed by the component (`cli.parse`),
// with the very grammar the native CLI is built from.

import { createReadStream, openSync } from 'node:fs';
import { inspect, validate, process as processStage, EXIT, Failure, StreamError } from './index.mjs';
import { policy } from './lib/policy.mjs';

const out = globalThis.process.stdout;

function write(bytes) {
  if (!bytes || bytes.length === 0) return Promise.resolve();
  return new Promise((resolveWrite, rejectWrite) => out.write(bytes, (e) => (e ? rejectWrite(e) : resolveWrite())));
}

function input(file) {
  if (file === undefined || file === '-') return globalThis.process.stdin;
  let fd;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new Failure(`cannot open ${file}: ${STRERROR[e.code] ?? e.code} (os error ${-e.errno})`, EXIT.IO_ERROR);
  }
  return createReadStream(null, { fd, highWaterMark: 1 << 20 });
}

// The C library's words for what opening a stream file runs into, as the native CLI prints them.
const STRERROR = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
};

/** The parsed command as `{command, ...its arguments}`, or the early exit clap would make. */
function parse(argv) {
  try {
    const { tag, val } = policy.cli.parse(argv);
    return { command: tag, ...val };
  } catch (e) {
    if (!(e && typeof e === 'object' && 'payload' in e)) throw e;
    const early = e.payload;
    (early.toStdout ? out : globalThis.process.stderr).write(early.text);
    return { exitCode: early.exitCode };
  }
}

async function run(argv) {
  const args = parse(argv);
  switch (args.command) {
    case 'inspect': {
      const pending = [];
      const result = await inspect(input(args.file), {
        limits: args.limits,
        onJsonLines: (bytes) => {
          if (args.json) pending.push(write(bytes));
        },
      });
      await Promise.all(pending);
      if (!args.json) await write(result.report);
      return result.firstProblem === undefined ? EXIT.SUCCESS : EXIT.BAD_STREAM;
    }
    case 'validate': {
      const problem = await validate(input(args.file), { limits: args.limits });
      if (problem === undefined) return EXIT.SUCCESS;
      throw new Failure(problem, EXIT.BAD_STREAM);
    }
    case 'process': {
      const pending = [];
      try {
        const result = await processStage(input(undefined), args.privateDataDir, {
          ident: args.ident,
          artifactDir: args.artifactDir,
          quiet: Boolean(args.quiet),
          resume: Boolean(args.resume),
          limits: args.limits,
          onOutput: (bytes) => pending.push(write(bytes)),
        });
        return result.exitCode;
      } finally {
        await Promise.all(pending);
      }
    }
    default:
      return args.exitCode;
  }
}

try {
  globalThis.process.exitCode = await run(globalThis.process.argv.slice(2));
} catch (e) {
  if (e && e.code === 'EPIPE') {
    globalThis.process.exitCode = EXIT.SUCCESS;
  } else if (e instanceof StreamError || e instanceof Failure) {
    globalThis.process.stderr.write(`runnerwire: ${e.message}\n`);
    globalThis.process.exitCode = e.exitCode;
  } else if (e?.syscall === 'read') {
    globalThis.process.stderr.write(`runnerwire: cannot read the stream: ${STRERROR[e.code] ?? e.code} (os error ${-e.errno})\n`);
    globalThis.process.exitCode = EXIT.IO_ERROR;
  } else {
    globalThis.process.stderr.write(`runnerwire: ${e?.message ?? e}\n`);
    globalThis.process.exitCode = EXIT.INTERNAL;
  }
}
