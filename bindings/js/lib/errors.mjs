// Failures as the native CLI reports them: one line and an exit code.

export const EXIT = Object.freeze({
  SUCCESS: 0,
  JOB_FAILED: 1,
  USAGE: 2,
  BAD_STREAM: 65,
  INTERNAL: 70,
  IO_ERROR: 74,
});

const KINDS = {
  malformed: ['malformed stream', EXIT.BAD_STREAM],
  truncated: ['truncated stream', EXIT.BAD_STREAM],
  unsafe: ['unsafe stream', EXIT.BAD_STREAM],
  limit: ['stream over a limit', EXIT.BAD_STREAM],
  io: ['I/O error', EXIT.IO_ERROR],
};

/** A bad stream (or I/O on the granted directories), at a byte offset. */
export class StreamError extends Error {
  constructor({ kind, offset, message }) {
    const [what, code] = KINDS[kind] ?? ['stream error', EXIT.BAD_STREAM];
    super(`${what} at byte ${offset}: ${message}`);
    this.name = 'StreamError';
    this.kind = kind;
    this.offset = Number(offset);
    this.reason = message;
    this.exitCode = code;
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
