import { createHash } from 'node:crypto';
import { HttpException, StreamableFile } from '@nestjs/common';
import { isObservable } from 'rxjs';
import type { StoredHttpResponse } from './idempotency.types.js';

/** Metadata key of `@Idempotent()` options (on a route method or a controller class). */
export const IDEMPOTENT_METADATA = 'coordination:idempotent';

/** The header a replayed response carries (and only a replayed one). */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** 4xx answers that say "not now" rather than "not this": the key may be retried, so they are not stored. */
const RETRYABLE_CLIENT_ERRORS = new Set([408, 409, 425, 429]);
/** 304 Not Modified answers a conditional request only: never stored. */
const NOT_MODIFIED = 304;
/** Longest user id kept as is in a namespace; longer ones are hashed (namespaces are at most 200 characters). */
const MAX_USER_IN_NAMESPACE = 128;

/** A request as the interceptor reads it (express and fastify alike). */
export interface IdempotentRequestLike {
  method?: string;
  url?: string;
  originalUrl?: string;
  headers?: Record<string, string | string[] | undefined>;
  body?: unknown;
  /** Anything an auth guard left: an object with an id, or a non-object (undefined, null, `false` from optional auth) for nobody. */
  user?: unknown;
  coordinationSession?: { userId?: unknown };
}

/**
 * The response body of a handler's value as stored, or a description of what it is when it
 * cannot be stored (a StreamableFile, a Buffer, a stream, an Observable, a value JSON cannot hold).
 *
 * @example
 * bodyOf({ id: 7 });   // { kind: 'json', body: '{"id":7}' }
 * bodyOf(undefined);   // { kind: 'empty', body: '' }
 * bodyOf(Buffer.of(1)); // { unstorable: 'a Buffer' }
 */
export function bodyOf(value: unknown): Pick<StoredHttpResponse, 'kind' | 'body'> | { unstorable: string } {
  if (value === undefined || value === null) return { kind: 'empty', body: '' };
  if (typeof value === 'string') return { kind: 'text', body: value };
  if (value instanceof StreamableFile) return { unstorable: 'a StreamableFile' };
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return { unstorable: 'a Buffer' };
  if (isObservable(value)) return { unstorable: 'an Observable' };
  if (typeof (value as { pipe?: unknown }).pipe === 'function' || typeof (value as { getReader?: unknown }).getReader === 'function') {
    return { unstorable: 'a stream' };
  }
  let body: string | undefined;
  try {
    body = JSON.stringify(value);
  } catch {
    return { unstorable: 'a value JSON cannot hold' };
  }
  return body === undefined ? { unstorable: 'a value JSON cannot hold' } : { kind: 'json', body };
}

/**
 * Whether a response sent with `status` is the request's final answer (stored and replayed):
 * below 500, but 408, 409, 425 and 429 ("not now": the key may be retried) and 304 (the answer
 * to a conditional request: a retry without its If-None-Match must get the body).
 *
 * @example
 * isStoredStatus(201); // true
 * isStoredStatus(503); // false
 */
export function isStoredStatus(status: number): boolean {
  return status < 500 && status !== NOT_MODIFIED && !RETRYABLE_CLIENT_ERRORS.has(status);
}

/**
 * Whether an HttpException of `status` thrown by the handler is the request's final answer
 * (stored and replayed): a 4xx other than 408, 409, 425 and 429. A 5xx (or any other error) is
 * not: the key may be retried.
 *
 * @example
 * isFinalError(422); // true
 * isFinalError(503); // false
 */
export function isFinalError(status: number): boolean {
  return status >= 400 && status < 500 && !RETRYABLE_CLIENT_ERRORS.has(status);
}

/**
 * The value to hand back to Nest for a stored response (Nest sends it as it sent the first: the
 * same JSON text, string or empty body); a stored HttpException is thrown again.
 *
 * @example
 * return replayValue(stored); // after setting the status and headers
 */
export function replayValue(stored: StoredHttpResponse): unknown {
  switch (stored.kind) {
    case 'json':
      return JSON.parse(stored.body);
    case 'text':
      return stored.body;
    case 'empty':
      return undefined;
    case 'error':
      throw new HttpException(JSON.parse(stored.body) as string | Record<string, unknown>, stored.status);
  }
}

/**
 * The user of a request: `userOf(request)` when configured; else, when `request.user` is an
 * object, its `id`, `sub` or `userId` (a string or a number); else the user of the session SessionGuard
 * attached; else '' (anonymous requests share one namespace).
 *
 * @throws Error (500) when `request.user` is an object but has none of `id`, `sub`, `userId`: sharing the
 * anonymous namespace would replay one user's responses to another; configure `idempotency.userOf`.
 * @example
 * userOfRequest({ user: { sub: 'ada' } });    // 'ada'
 * userOfRequest({ user: { userId: 7 } });     // '7'
 * userOfRequest({ user: false });             // '' (optional auth, nobody signed in)
 */
export function userOfRequest(request: IdempotentRequestLike, userOf?: (request: unknown) => string | undefined): string {
  if (userOf) return idText(userOf(request)) ?? '';
  // Only an object is a user: @nestjs/passport's optional authentication leaves `false` for nobody.
  const user = typeof request.user === 'object' && request.user !== null ? (request.user as { id?: unknown; sub?: unknown; userId?: unknown }) : undefined;
  if (user) {
    const id = idText(user.id) ?? idText(user.sub) ?? idText(user.userId);
    if (id === undefined) {
      throw new Error(
        '@Idempotent cannot tell who request.user is (it has no id, sub or userId), and will not share one key space between users: ' +
          'configure idempotency.userOf in CoordinationModule.forRoot(), e.g. userOf: (req) => req.user?.email',
      );
    }
    return id;
  }
  return idText(request.coordinationSession?.userId) ?? '';
}

function idText(id: unknown): string | undefined {
  if (typeof id === 'string') return id;
  if (typeof id === 'number' || typeof id === 'bigint') return String(id);
  return undefined;
}

/**
 * The namespace of a request's key: per user (`u:<user>`, a long user id hashed) or the tenant's (`t`).
 *
 * @example
 * namespaceOf('user', 'ada'); // 'u:ada'
 */
export function namespaceOf(scope: 'user' | 'tenant', user: string): string {
  if (scope === 'tenant') return 't';
  return `u:${user.length <= MAX_USER_IN_NAMESPACE ? user : `#${createHash('sha256').update(user).digest('hex')}`}`;
}

/**
 * The value of request header `name` (lower-case), or undefined when absent; repeated headers
 * are joined with `, ` as HTTP defines (the idempotency key itself is read by keyHeaderOf, which refuses a key sent twice).
 *
 * @example
 * headerOf(request, 'idempotency-key');
 */
export function headerOf(request: IdempotentRequestLike, name: string): string | undefined {
  const raw = request.headers?.[name];
  return Array.isArray(raw) ? (raw.length === 0 ? undefined : raw.join(', ')) : raw;
}

/**
 * A response header's value as one string (a list joined with `, `), or undefined when absent.
 *
 * @example
 * headerText(['a', 'b']); // 'a, b'
 */
export function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.map(String).join(', ') : String(value);
}
