// Stream sources: bytes, or any (async) iterable of byte chunks (Node streams, web
// ReadableStreams, generators), cut into pieces the component takes in one call.

const PIECE = 1 << 20;

/** @returns {AsyncGenerator<Uint8Array>} */
export async function* chunks(source) {
  if (source instanceof ArrayBuffer) source = new Uint8Array(source);
  if (source instanceof Uint8Array) {
    for (let i = 0; i < source.length; i += PIECE) yield source.subarray(i, i + PIECE);
    return;
  }
  if (typeof source === 'string') throw new TypeError('a stream source is bytes or an iterable of byte chunks, not a string');
  if (source && (Symbol.asyncIterator in source || Symbol.iterator in source)) {
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : new Uint8Array(chunk.buffer ?? chunk, chunk.byteOffset ?? 0, chunk.byteLength ?? chunk.length);
      for (let i = 0; i < bytes.length; i += PIECE) yield bytes.subarray(i, i + PIECE);
    }
    return;
  }
  throw new TypeError('a stream source is bytes or an iterable of byte chunks');
}
