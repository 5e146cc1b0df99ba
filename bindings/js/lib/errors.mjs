// Failures as the native CLI reports them: one line and an exit code. The words and the
// numbers are the component's (`types.exit-code`, `types.describe`): asked once, here.

import { policy } from './policy.mjs';

const { types } = policy;

/** Exit codes by the WIT's `exit-status` names: EXIT.SUCCESS, EXIT.BAD_STREAM, ... */
export const EXIT = Object.freeze(
  Object.fromEntries(
    ['success', 'job-failed', 'usage', 'bad-stream', 'isolation-unavailable', 'internal', 'io-error'].map((status) => [
      status.toUpperCase().replaceAll('-', '_'),
      types.exitCode(status),
    ]),
  ),
);

/**
 * A bad stream (or I/O on the granted directories), at a byte offset. `message` is the line
 * the CLI prints (`glued-lines at byte 4131, line 7: ...`); `problem` the damage as `inspect`
 * and `validate` name it; `line` the stream line (or undefined); `reason` the message
 * alone; `jobExplanation` what upstream's Processor tells its status handler for it (its
 * words first, then that line).
 */
export class StreamError extends Error {
  constructor(error) {
    super(types.describe(error));
    this.name = 'StreamError';
    this.kind = error.kind;
    this.problem = error.problem;
    this.offset = Number(error.offset);
    this.line = error.line === undefined ? undefined : Number(error.line);
    this.reason = error.message;
    this.exitCode = types.errorExitCode(error.kind);
    this.jobExplanation = types.jobExplanation(error);
  }
}

/** Any other failure, with the exit code the native CLI gives it. */
export class Failure extends Error {
  constructor(message, exitCode) {
    super(message);
    this.name = 'Failure';
    this.exitCode = exitCode;
  }
}

/** A component `result` error (jco throws it with a `payload`) as a StreamError. */
export function streamError(e) {
  if (e && typeof e === 'object' && 'payload' in e) {
    const p = e.payload;
    if (p && typeof p === 'object' && 'error' in p) return [new StreamError(p.error), p.printed];
    if (p && typeof p === 'object' && 'kind' in p) return [new StreamError(p), undefined];
  }
  if (e instanceof Error) throw new Failure(`the sandboxed codec failed: ${e.message.split('\n')[0]}`, EXIT.INTERNAL);
  throw e;
}
