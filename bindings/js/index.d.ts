// Types for the runnerwire npm package (index.mjs).

/** Limits on what a stream may make the component hold or write; unset ones take the defaults. */
export interface Limits {
  maxLineBytes?: number | bigint;
  maxArchiveBytes?: number | bigint;
  maxEntries?: number | bigint;
  maxUnpackedBytes?: number | bigint;
  maxCompressionRatio?: number;
  maxJsonDepth?: number;
}

/** Bytes, or any (async) iterable of byte chunks: Node streams, web ReadableStreams, generators. */
export type Source = Uint8Array | ArrayBuffer | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export declare const EXIT: Readonly<{ SUCCESS: 0; JOB_FAILED: 1; USAGE: 2; BAD_STREAM: 65; INTERNAL: 70; IO_ERROR: 74 }>;

/** A bad stream (or I/O on the granted directories) at a byte offset; `message` is the native CLI's line. */
export declare class StreamError extends Error {
  /** The kind of error, which decides the exit code. */
  kind: 'malformed' | 'truncated' | 'unsafe' | 'limit' | 'io';
  /** The damage as `inspect` and `validate` name it: 'glued-lines', 'counter-repeat', 'missing-eof', ... */
  problem: string;
  offset: number;
  /** The stream line (1-based), when known. */
  line: number | undefined;
  /** The message alone; `message` is the whole line the CLI prints. */
  reason: string;
  exitCode: number;
  /** What upstream's Processor tells its status handler: its words first, then `message`. */
  jobExplanation: string;
}

export declare class Failure extends Error {
  exitCode: number;
}

export interface Inspection {
  /** The `inspect --json` output (unless `onJsonLines` took it). */
  jsonLines: string;
  /** The report `inspect` prints. */
  report: string;
  /** `<kind> at byte N, line L: message`, or undefined for a complete, valid stream. */
  firstProblem: string | undefined;
  /** The `summary` object of the last JSON line. */
  summary: Record<string, unknown> | undefined;
}

export function defaultLimits(): Promise<Required<Limits>>;
export function inspect(source: Source, options?: { limits?: Limits; onJsonLines?: (bytes: Uint8Array) => void }): Promise<Inspection>;
export function validate(source: Source, options?: { limits?: Limits }): Promise<string | undefined>;

export type Frame =
  | { type: 'line'; offset: number; kind: 'kwargs' | 'status' | 'event' | 'keepalive' | 'eof' | 'other'; json: string }
  | { type: 'archive-start'; offset: number; size: number }
  | { type: 'archive-data'; bytes: Uint8Array }
  | { type: 'archive-end'; offset: number };

export function frames(source: Source, options?: { kind?: 'job' | 'result'; limits?: Limits }): AsyncGenerator<Frame>;

export interface ProcessResult {
  status: string | undefined;
  rc: number | undefined;
  eventsWritten: number;
  artifactDir: string;
  /** What the native CLI would exit with. */
  exitCode: number;
}

export function process(
  source: Source,
  privateDataDir: string,
  options?: { ident?: string; artifactDir?: string; quiet?: boolean; resume?: boolean; limits?: Limits; onOutput?: (bytes: Uint8Array) => void; cwd?: string },
): Promise<ProcessResult>;

export interface TransmitOptions {
  ident?: string;
  playbook?: string;
  binary?: string;
  module?: string;
  moduleArgs?: string;
  hostPattern?: string;
  verbosity?: number;
  quiet?: boolean;
  rotateArtifacts?: number;
  jsonMode?: boolean;
  omitEventData?: boolean;
  onlyFailedEventData?: boolean;
  inventory?: string;
  forks?: string | number;
  projectDir?: string;
  artifactDir?: string;
  rolesPath?: string;
  containerImage?: string;
  containerVolumeMounts?: string[];
  containerOptions?: string[];
  cmdline?: string;
  limit?: string;
  suppressEnvFiles?: boolean;
  role?: string;
  roleVars?: string;
  roleSkipFacts?: boolean;
  onlyTransmitKwargs?: boolean;
  cwd?: string;
}

export function transmit(privateDataDir: string, options?: TransmitOptions): AsyncGenerator<Uint8Array>;
