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

/** A bad stream (or I/O on the granted directories), at a byte offset. */
export class StreamError extends Error {
  constructor({ kind, offset, message }) {
    super(types.describe({ kind, offset: BigInt(offset), message }));
    this.name = 'StreamError';
    this.kind = kind;
    this.offset = Number(offset);
    this.reason = message;
    this.exitCode = types.errorExitCode(kind);
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
