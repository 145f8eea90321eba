import { CoordinationError, ErrorCode } from '../errors/coordination.error.js';

/**
 * A value cannot be stored: it holds a function, a symbol, a circular reference, or an
 * object with no data representation (WeakMap, WeakSet, WeakRef, Promise, ...).
 * `path` locates the offending value inside the one that was passed in, e.g. `$.user.tags[2]`.
 *
 * @example
 * try {
 *   serializer.encode({ handler: () => 1 });
 * } catch (err) {
 *   if (err instanceof SerializationError) logger.warn(err.path); // "$.handler"
 * }
 */
export class SerializationError extends CoordinationError {
  static readonly code = ErrorCode.Serialization;

  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(ErrorCode.Serialization, `Cannot serialize ${reason} at ${path}`, { path, reason });
  }
}

/**
 * A stored value cannot be read back: it is not valid JSON, was written by an unknown
 * format version, holds a malformed tagged value, or its compressed payload is corrupted.
 * `path` is set when the fault sits at a known place inside the value.
 *
 * @example
 * try {
 *   serializer.decode(raw);
 * } catch (err) {
 *   if (err instanceof DeserializationError) await redis.del(key); // drop the unreadable entry
 * }
 */
export class DeserializationError extends CoordinationError {
  static readonly code = ErrorCode.Deserialization;

  constructor(
    readonly reason: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(
      ErrorCode.Deserialization,
      `Cannot deserialize value: ${reason}${path === undefined ? '' : ` at ${path}`}`,
      { reason, path },
      options,
    );
  }
}
