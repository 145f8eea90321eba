/**
 * The consumer group (or the whole stream) a store call needs does not exist: Redis answered
 * NOGROUP, typically after the stream key was deleted (FLUSHALL, DEL, expiry by an operator) while
 * consumers ran. Thrown by both stores from `readNew`, `claim`, `touch`, `fail`, `ack`, `release`
 * and `pruneConsumers`; the consumer runner catches it and calls `ensureGroup` again. Internal:
 * never reaches callers of the public API.
 *
 * @example
 * try { await reader.readNew(keys, group, consumer, 10, 5_000); }
 * catch (e) { if (e instanceof StreamGroupMissingError) await store.ensureGroup(keys, group, 'earliest'); }
 */
export class StreamGroupMissingError extends Error {
  constructor(readonly stream: string, readonly group: string, options?: { cause?: unknown }) {
    super(`Consumer group ${JSON.stringify(group)} of stream ${stream} does not exist (NOGROUP)`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StreamGroupMissingError';
  }
}

/**
 * True for a Redis reply error that means the group or the stream is missing: `NOGROUP ...`
 * (a command on a missing group or stream, or a blocked XREADGROUP whose group was destroyed)
 * and `UNBLOCKED the stream key no longer exists` (a blocked XREADGROUP whose stream was
 * deleted, e.g. by FLUSHALL).
 *
 * @example
 * if (isNoGroupReply(err)) throw new StreamGroupMissingError(keys.stream, group, { cause: err });
 */
export function isNoGroupReply(error: unknown): boolean {
  return error instanceof Error && (/^NOGROUP\b/.test(error.message) || error.message.startsWith('UNBLOCKED the stream key no longer exists'));
}
