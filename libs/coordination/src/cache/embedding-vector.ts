import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors/coordination.error.js';

/**
 * Most dimensions a cached vector may have (256 KiB of Float32); more is an InvalidArgumentError.
 *
 * @example
 * if (vector.length <= MAX_EMBEDDING_DIMENSIONS) await embeddings.store(text, vector, { model });
 */
export const MAX_EMBEDDING_DIMENSIONS = 65_536;
/**
 * Longest model name (`options.model`) EmbeddingCache accepts.
 *
 * @example
 * const model = name.slice(0, MAX_MODEL_LENGTH);
 */
export const MAX_MODEL_LENGTH = 128;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Throws unless `model` is a model name: 1-128 characters without control characters. The
 * NUL it may not contain separates it from the text in the hashed id, which keeps that id
 * unambiguous (`"a\0b" + "c"` and `"a" + "b\0c"` cannot collide).
 *
 * @example
 * checkModel('text-embedding-3-small'); // 'text-embedding-3-small'
 */
export function checkModel(model: unknown): string {
  if (typeof model !== 'string') throw new InvalidArgumentError('model', `must be a string, got ${typeof model}`, model);
  if (model.length === 0) throw new InvalidArgumentError('model', 'must not be empty', model);
  if (model.length > MAX_MODEL_LENGTH) throw new InvalidArgumentError('model', `must be at most ${MAX_MODEL_LENGTH} characters`, model);
  if (CONTROL.test(model)) throw new InvalidArgumentError('model', 'must not contain control characters', model);
  return model;
}

/**
 * Throws unless `text` is a string. Any string is accepted, the empty one and texts of any
 * length included: only its hash reaches Redis.
 *
 * @example
 * checkText(texts[i], `texts[${i}]`);
 */
export function checkText(text: unknown, argument: string): string {
  if (typeof text !== 'string') throw new InvalidArgumentError(argument, `must be a string, got ${text === null ? 'null' : typeof text}`);
  return text;
}

/**
 * The id of a cached vector: base64url(sha256(model + NUL + text)), 43 characters whatever the
 * text's length. The text is hashed as UTF-8 (a lone surrogate as U+FFFD, as embedding APIs
 * receive it over JSON).
 *
 * @example
 * keys.key(tenant, 'embedding', embeddingId('text-embedding-3-small', 'hello'));
 */
export function embeddingId(model: string, text: string): string {
  return createHash('sha256').update(model).update('\0').update(text).digest('base64url');
}

/**
 * The bytes to store for `vector`, validated: a copy of a Float32Array's bytes (bit-exact, so
 * NaN payloads, -0, subnormals and infinities survive; the caller may reuse its array at once),
 * or an array of numbers converted to Float32 (each rounded to the nearest Float32, and required
 * to be finite after that). 1 to MAX_EMBEDDING_DIMENSIONS dimensions. Host byte order (little-endian
 * on every platform Node supports in practice), no header.
 *
 * @example
 * vectorBytes([0.1, 0.2], 'vector').length; // 8
 */
export function vectorBytes(vector: unknown, argument: string): Buffer {
  if (vector instanceof Float32Array) {
    checkDimensions(vector.length, argument);
    return Buffer.from(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
  }
  return numbersToBytes(vector, argument);
}

/**
 * `vectorBytes` of many vectors, copied into one allocation (views of it, one per vector):
 * a batch of 1 000 vectors of 1 536 dimensions is one 6 MB buffer instead of 1 000 of 6 KB,
 * which the garbage collector feels. `argumentOf(i)` names vector i in errors.
 *
 * @example
 * manyVectorBytes(items.map((item) => item.vector), (i) => `items[${i}].vector`);
 */
export function manyVectorBytes(vectors: readonly unknown[], argumentOf: (index: number) => string): Buffer[] {
  let total = 0;
  for (let i = 0; i < vectors.length; i++) {
    const vector = vectors[i];
    if (vector instanceof Float32Array) {
      checkDimensions(vector.length, argumentOf(i));
      total += vector.byteLength;
    }
  }
  const block = Buffer.allocUnsafe(total);
  let offset = 0;
  return vectors.map((vector, i) => {
    if (!(vector instanceof Float32Array)) return numbersToBytes(vector, argumentOf(i));
    const bytes = block.subarray(offset, offset + vector.byteLength);
    bytes.set(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
    offset += vector.byteLength;
    return bytes;
  });
}

function numbersToBytes(vector: unknown, argument: string): Buffer {
  if (!Array.isArray(vector)) throw new InvalidArgumentError(argument, 'must be a Float32Array or an array of numbers');
  checkDimensions(vector.length, argument);
  const floats = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) {
    const value: unknown = vector[i];
    if (typeof value !== 'number') throw new InvalidArgumentError(argument, `element ${i} must be a number, got ${typeof value}`);
    floats[i] = value;
    if (!Number.isFinite(floats[i])) {
      throw new InvalidArgumentError(argument, `element ${i} (${value}) must be a finite number in the Float32 range`);
    }
  }
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength);
}

/**
 * The vector stored as `bytes`, in a Float32Array of its own (a copy: Redis replies may be
 * slices of a larger buffer at any offset, unaligned for a Float32Array view, and the memory
 * store's buffers must never be handed out). Undefined when the bytes cannot be a vector
 * (empty, or a length that is not a multiple of 4).
 *
 * @example
 * vectorOf(Buffer.from(new Float32Array([1, 2]).buffer)); // Float32Array [1, 2]
 */
export function vectorOf(bytes: Buffer): Float32Array | undefined {
  if (bytes.length === 0 || bytes.length % Float32Array.BYTES_PER_ELEMENT !== 0) return undefined;
  const vector = new Float32Array(bytes.length / Float32Array.BYTES_PER_ELEMENT);
  new Uint8Array(vector.buffer).set(bytes);
  return vector;
}

function checkDimensions(length: number, argument: string): void {
  if (length === 0) throw new InvalidArgumentError(argument, 'must have at least one dimension');
  if (length > MAX_EMBEDDING_DIMENSIONS) {
    throw new InvalidArgumentError(argument, `must have at most ${MAX_EMBEDDING_DIMENSIONS} dimensions, got ${length}`);
  }
}
