import { Buffer } from 'node:buffer';
import { brotliCompressSync, brotliDecompressSync, constants as zlib, deflateSync, inflateSync } from 'node:zlib';
import { InvalidOptionsError } from '../errors/coordination.error.js';
import { DeserializationError } from './serialization.errors.js';
import { fromJsonTree, nestsDeeperThan } from './value-decoder.js';
import { tooDeep } from './value-format.js';
import { toJsonTree } from './value-encoder.js';

/**
 * Options of {@link Serializer}; every field is optional and defaults to {@link DEFAULT_SERIALIZER_OPTIONS}.
 *
 * @example
 * const options: SerializerOptions = { compressThresholdBytes: 4096, compression: 'brotli' };
 */
export interface SerializerOptions {
  /** Encoded values of at least this many UTF-8 bytes are compressed (when that makes them smaller). */
  compressThresholdBytes?: number;
  /** Algorithm for values over the threshold; `'none'` stores everything as plain JSON text. */
  compression?: 'deflate' | 'brotli' | 'none';
  /** Largest decompressed payload `decode` accepts, so a tiny corrupt or hostile value cannot exhaust memory. */
  maxDecompressedBytes?: number;
  /**
   * How deep objects may nest: the value passed in is at depth 0, what an object, array, Map,
   * Set or Error holds one level deeper. `encode` throws `SerializationError` and `decode`
   * `DeserializationError` for an object deeper than this. Default {@link MAX_DEPTH}.
   */
  maxDepth?: number;
}

/**
 * Default `maxDepth`: objects nested more than 1000 levels deep are refused, as Jackson does by
 * default. Real data stays far below it; a hostile value (a request body nested 40 000 deep) would
 * otherwise overflow the stack of whatever walks it next, this serializer included.
 *
 * @example
 * new Serializer({ maxDepth: MAX_DEPTH / 10 }); // stricter, for values from untrusted clients
 */
export const MAX_DEPTH = 1000;

/**
 * @example
 * new Serializer({ ...DEFAULT_SERIALIZER_OPTIONS, compression: 'brotli' });
 */
export const DEFAULT_SERIALIZER_OPTIONS: Readonly<Required<SerializerOptions>> = Object.freeze({
  compressThresholdBytes: 1024,
  compression: 'deflate',
  maxDecompressedBytes: 64 * 1024 * 1024,
  maxDepth: MAX_DEPTH,
});

// Two-char header: format version, then kind. A new wire format gets a new version digit.
const PLAIN = '1J'; // JSON.parse alone restores the value
const TAGGED = '1T'; // JSON holding tagged objects (value-format.ts) to revive
const DEFLATE = '1D'; // base64(deflate(PLAIN or TAGGED string))
const BROTLI = '1B'; // base64(brotli(PLAIN or TAGGED string))

/**
 * Turns any supported value into a string for Redis (GET/SET, Lua ARGV) and back. Round-trips
 * exactly: primitives, `undefined`, `NaN`, `±Infinity`, `-0`, BigInt, Date (also invalid),
 * RegExp (without `lastIndex`), Map, Set, Buffer, every typed array, ArrayBuffer, DataView, Error
 * (name, message, stack, cause, own props). Typed arrays keep host byte order.
 *
 * Class instances are stored like `JSON.stringify` stores them (`toJSON()` when present, else own
 * enumerable string-keyed properties) and come back as plain objects; symbol keys are skipped.
 * Functions, symbols, cycles, WeakMap/WeakSet/WeakRef/Promise/SharedArrayBuffer throw
 * {@link SerializationError}. Shared (non-circular) references come back as separate copies.
 * Decoded objects are ordinary objects whose `__proto__`/`constructor` keys are own data properties.
 * Objects nested deeper than `maxDepth` (default {@link MAX_DEPTH}) are refused both ways.
 *
 * @example
 * const serializer = new Serializer({ compressThresholdBytes: 2048 });
 * const text = serializer.encode({ at: new Date(), seen: new Set([1, 2]), total: 10n });
 * await redis.set(key, text);
 * const value = serializer.decode<{ at: Date; seen: Set<number>; total: bigint }>(await redis.getBuffer(key));
 */
export class Serializer {
  private readonly thresholdBytes: number;
  private readonly compression: 'deflate' | 'brotli' | 'none';
  private readonly maxDecompressedBytes: number;
  private readonly maxDepth: number;

  constructor(options: SerializerOptions = {}) {
    this.thresholdBytes = options.compressThresholdBytes ?? DEFAULT_SERIALIZER_OPTIONS.compressThresholdBytes;
    this.compression = options.compression ?? DEFAULT_SERIALIZER_OPTIONS.compression;
    this.maxDecompressedBytes = options.maxDecompressedBytes ?? DEFAULT_SERIALIZER_OPTIONS.maxDecompressedBytes;
    this.maxDepth = options.maxDepth ?? DEFAULT_SERIALIZER_OPTIONS.maxDepth;
    const problems: Array<{ option: string; reason: string }> = [];
    if (!(this.thresholdBytes >= 0)) {
      problems.push({ option: 'compressThresholdBytes', reason: 'must be a number >= 0' });
    }
    if (!['deflate', 'brotli', 'none'].includes(this.compression)) {
      problems.push({ option: 'compression', reason: "must be 'deflate', 'brotli' or 'none'" });
    }
    if (!Number.isSafeInteger(this.maxDecompressedBytes) || this.maxDecompressedBytes < 1) {
      problems.push({ option: 'maxDecompressedBytes', reason: 'must be a positive integer' });
    }
    if (!Number.isSafeInteger(this.maxDepth) || this.maxDepth < 1) {
      problems.push({ option: 'maxDepth', reason: 'must be a positive integer' });
    }
    if (problems.length > 0) {
      const list = problems.map((p) => `${p.option} ${p.reason}`).join('; ');
      throw new InvalidOptionsError(`Invalid serializer options: ${list}`, problems);
    }
  }

  /** @throws {SerializationError} naming the path of the first value that cannot be stored, or nests too deep. */
  encode(value: unknown): string {
    const text = toText(value, this.maxDepth);
    // UTF-8 needs at most 3 bytes per UTF-16 unit, so short strings skip the byte count.
    if (this.compression === 'none' || text.length * 3 < this.thresholdBytes) return text;
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length < this.thresholdBytes) return text;
    const packed =
      this.compression === 'deflate'
        ? DEFLATE + deflateSync(bytes).toString('base64')
        : BROTLI +
          brotliCompressSync(bytes, {
            params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length },
          }).toString('base64');
    return packed.length < bytes.length ? packed : text;
  }

  /** @throws {DeserializationError} when `text` is malformed, of an unknown version, corrupted, or nests too deep. */
  decode<T = unknown>(text: string | Buffer): T {
    const s = typeof text === 'string' ? text : text.toString('utf8');
    const header = s.slice(0, 2);
    if (header !== DEFLATE && header !== BROTLI) return fromText(s, this.maxDepth) as T;
    let inner: string;
    try {
      const packed = Buffer.from(s.slice(2), 'base64');
      const limit = { maxOutputLength: this.maxDecompressedBytes };
      inner = (header === DEFLATE ? inflateSync(packed, limit) : brotliDecompressSync(packed, limit)).toString('utf8');
    } catch (err) {
      const tooLarge = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
      const reason = tooLarge
        ? `decompressed payload exceeds ${this.maxDecompressedBytes} bytes; raise SerializerOptions.maxDecompressedBytes`
        : `corrupted ${header === DEFLATE ? 'deflate' : 'brotli'} payload`;
      throw new DeserializationError(reason, undefined, { cause: err });
    }
    if (!inner.startsWith(PLAIN) && !inner.startsWith(TAGGED)) {
      throw new DeserializationError('compressed payload does not hold a plain or tagged value');
    }
    return fromText(inner, this.maxDepth) as T;
  }
}

/**
 * Whether an encoded value holds a compressed payload; a pure check of its header.
 *
 * @example
 * isCompressed(new Serializer().encode('x'.repeat(5000))); // true
 */
export function isCompressed(text: string | Buffer): boolean {
  const header = typeof text === 'string' ? text.slice(0, 2) : text.toString('latin1', 0, 2);
  return header === DEFLATE || header === BROTLI;
}

function toText(value: unknown, maxDepth: number): string {
  const tree = toJsonTree(value, maxDepth);
  return (tree === value ? PLAIN : TAGGED) + JSON.stringify(tree);
}

function fromText(s: string, maxDepth: number): unknown {
  const header = s.slice(0, 2);
  if (header !== PLAIN && header !== TAGGED) {
    const version = s.charCodeAt(0);
    const reason =
      version >= 0x30 && version <= 0x39 && version !== 0x31
        ? `unsupported format version ${s[0]} (this build reads version 1)`
        : `unknown format header ${JSON.stringify(header)}`;
    throw new DeserializationError(reason);
  }
  const json = s.slice(2);
  // A tagged value's depth is checked while it is revived; a plain one is never walked.
  if (header === PLAIN && nestsDeeperThan(json, maxDepth)) throw new DeserializationError(tooDeep(maxDepth));
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new DeserializationError(`malformed JSON (${(err as Error).message})`, undefined, { cause: err });
  }
  return header === PLAIN ? parsed : fromJsonTree(parsed, maxDepth);
}
