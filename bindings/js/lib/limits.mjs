// Limits: the component's defaults, with the caller's overrides (camelCase names of the
// WIT record, numbers or bigints).

const FIELDS = {
  maxLineBytes: 'bigint',
  maxArchiveBytes: 'bigint',
  maxEntries: 'bigint',
  maxUnpackedBytes: 'bigint',
  maxCompressionRatio: 'number',
  maxJsonDepth: 'number',
};

export function limitsFor(codec, overrides = {}) {
  const limits = codec.types.defaultLimits();
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (value === undefined || value === null) continue;
    if (!(name in FIELDS)) throw new TypeError(`unknown limit ${name}`);
    limits[name] = FIELDS[name] === 'bigint' ? BigInt(value) : Number(value);
  }
  return limits;
}
