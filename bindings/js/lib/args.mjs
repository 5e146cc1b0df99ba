// The native CLI's arguments for `inspect`, `validate` and `process`, parsed the same way
// (long options with `=` or a separate value, the short flags, `-` for stdin).

const LIMITS = {
  '--max-line-bytes': 'maxLineBytes',
  '--max-archive-bytes': 'maxArchiveBytes',
  '--max-entries': 'maxEntries',
  '--max-unpacked-bytes': 'maxUnpackedBytes',
  '--max-compression-ratio': 'maxCompressionRatio',
  '--max-json-depth': 'maxJsonDepth',
};
const SANDBOX = { '--max-memory-bytes': 'maxMemoryBytes', '--step-timeout': 'stepTimeout' };

const COMMANDS = {
  inspect: { flags: { '--json': 'json' }, values: {}, positional: ['file'] },
  validate: { flags: {}, values: {}, positional: ['file'] },
  process: {
    flags: { '-q': 'quiet', '--quiet': 'quiet', '-j': 'jsonMode', '--json': 'jsonMode', '--debug': 'debug', '--resume': 'resume' },
    values: { '-i': 'ident', '--ident': 'ident', '--artifact-dir': 'artifactDir' },
    positional: ['privateDataDir'],
    required: ['privateDataDir'],
  },
};

export class UsageError extends Error {}

const unsigned = (name, text) => {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`invalid value '${text}' for '${name}': not an unsigned number`);
  return BigInt(text);
};

export function parse(argv) {
  const [command, ...rest] = argv;
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(command ? `unrecognized subcommand '${command}'` : 'a subcommand is required: inspect, validate or process');
  const args = { command, limits: {}, sandbox: {} };
  const positional = [];
  let onlyPositional = false;
  for (let i = 0; i < rest.length; i++) {
    let arg = rest[i];
    if (onlyPositional || arg === '-' || !arg.startsWith('-')) {
      positional.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositional = true;
      continue;
    }
    let inline;
    if (arg.startsWith('--') && arg.includes('=')) [arg, inline] = [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)];
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= rest.length) throw new UsageError(`a value is required for '${arg}' but none was supplied`);
      return rest[++i];
    };
    if (arg in spec.flags && inline === undefined) args[spec.flags[arg]] = true;
    else if (arg in spec.values) args[spec.values[arg]] = value();
    else if (arg in LIMITS) args.limits[LIMITS[arg]] = unsigned(arg, value());
    else if (arg in SANDBOX) {
      const text = value();
      const n = Number(text);
      if (!(n > 0) || (arg === '--step-timeout' && n > 1e9)) throw new UsageError(`invalid value '${text}' for '${arg}'`);
      args.sandbox[SANDBOX[arg]] = n;
    } else throw new UsageError(`unexpected argument '${arg}' found`);
  }
  if (positional.length > spec.positional.length) throw new UsageError(`unexpected argument '${positional[spec.positional.length]}' found`);
  spec.positional.forEach((name, k) => {
    if (positional[k] !== undefined) args[name] = positional[k];
  });
  for (const name of spec.required ?? []) {
    if (args[name] === undefined) throw new UsageError(`the required argument <${name.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()}> was not provided`);
  }
  return args;
}
