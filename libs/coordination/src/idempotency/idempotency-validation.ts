import { InvalidArgumentError } from '../errors/coordination.error.js';
import { IdempotencyKeyInvalidError } from './idempotency.errors.js';
import { IDEMPOTENCY_LIMITS, type ResolvedIdempotencyOptions } from './idempotency.options.js';
import type { ConcurrentDuplicates, IdempotencyRunOptions, IdempotentOptions } from './idempotency.types.js';

/** How one attempt treats its key: the call's options over the module's. */
export interface IdempotencyPolicy {
  readonly ttlMs: number;
  readonly concurrent: ConcurrentDuplicates;
  readonly waitMs: number;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;
/** An RFC 8941 sf-string: printable ASCII with `"` and `\` escaped by a backslash. */
const SF_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/;
const RUN_OPTIONS = new Set(['ttlMs', 'fingerprint', 'concurrent', 'waitMs', 'tenant', 'namespace']);
const IDEMPOTENT_OPTIONS = new Set(['ttlMs', 'scope', 'required', 'concurrent', 'waitMs']);

/**
 * Throws IdempotencyKeyInvalidError unless `key` is 1-255 printable ASCII characters (0x20-0x7e).
 *
 * @example
 * checkKey('order-42'); // passes
 * checkKey('');         // IdempotencyKeyInvalidError: Invalid idempotency key: must not be empty
 */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new IdempotencyKeyInvalidError(`must be a string, got ${key === null ? 'null' : typeof key}`);
  if (key.length === 0) throw new IdempotencyKeyInvalidError('must not be empty');
  if (key.length > IDEMPOTENCY_LIMITS.keyLength) throw new IdempotencyKeyInvalidError(`must be at most ${IDEMPOTENCY_LIMITS.keyLength} characters, got ${key.length}`);
  if (!PRINTABLE_ASCII.test(key)) throw new IdempotencyKeyInvalidError('must hold printable ASCII characters only (0x20-0x7e)');
}

/**
 * The key an idempotency header carries: the value as sent, or the content of a quoted
 * structured-field string (`"abc"` → `abc`, as the IETF draft defines the header), validated.
 *
 * @throws IdempotencyKeyInvalidError
 * @example
 * keyOfHeader('"8e03978e-40d5-43e8-bc93-6894a57f9324"'); // '8e03978e-40d5-43e8-bc93-6894a57f9324'
 */
export function keyOfHeader(value: string): string {
  const quoted = SF_STRING.exec(value);
  const key = quoted ? quoted[1].replace(/\\(["\\])/g, '$1') : value;
  checkKey(key);
  return key;
}

/** A request as the key header is read from it: Node's IncomingMessage (express), or a wrapper of one in `raw` (fastify). */
export interface KeyHeaderSource {
  headers?: Record<string, string | string[] | undefined>;
  /** Node's header lines as received: name, value, name, value, ... */
  rawHeaders?: readonly string[];
  raw?: { rawHeaders?: readonly string[] };
}

/**
 * The value of the idempotency header `name` (lower-case) of `request`, or undefined when absent.
 * The header is a single item: sent on two or more lines it is refused, never read as the
 * `a, b` Node joins them into (`request.headers`), which would be another key. The lines are
 * counted in `rawHeaders` (the request's, or its `raw` one's), so a header Node keeps only once
 * of (or a middleware set) is read as it stands.
 *
 * @throws IdempotencyKeyInvalidError when the header came on more than one line
 * @example
 * keyHeaderOf(request, 'idempotency-key'); // 'order-42'; 'Idempotency-Key: a' + 'Idempotency-Key: b' → throws
 */
export function keyHeaderOf(request: KeyHeaderSource, name: string): string | undefined {
  const value = request.headers?.[name];
  if (value === undefined) return undefined;
  const lines = Array.isArray(value) ? value.length : headerLines(request.rawHeaders ?? request.raw?.rawHeaders, name);
  if (lines > 1) throw new IdempotencyKeyInvalidError(`the ${name} header must be sent once, got ${lines} header lines`);
  return Array.isArray(value) ? value[0] : value;
}

/** How many of the `rawHeaders` lines are header `name` (lower-case); 1 when Node gave no raw lines. */
function headerLines(rawHeaders: readonly string[] | undefined, name: string): number {
  if (!Array.isArray(rawHeaders)) return 1;
  let lines = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].length === name.length && rawHeaders[i].toLowerCase() === name) lines += 1;
  }
  return Math.max(lines, 1);
}

/**
 * The call's options of `run` / `begin`, checked: unknown fields, a namespace over 200 characters
 * or of another type, and the policy fields (see policyOf) throw InvalidArgumentError.
 *
 * @example
 * const { namespace, policy } = checkRunOptions(options, module);
 */
export function checkRunOptions(
  options: IdempotencyRunOptions | undefined, defaults: ResolvedIdempotencyOptions,
): { namespace: string; policy: IdempotencyPolicy } {
  if (options === undefined) return { namespace: '', policy: defaults };
  checkObject(options, 'options', RUN_OPTIONS);
  const namespace = options.namespace ?? '';
  if (typeof namespace !== 'string') throw new InvalidArgumentError('options.namespace', `must be a string, got ${typeof namespace}`, namespace);
  if (namespace.length > IDEMPOTENCY_LIMITS.namespaceLength) {
    throw new InvalidArgumentError('options.namespace', `must be at most ${IDEMPOTENCY_LIMITS.namespaceLength} characters, got ${namespace.length}`);
  }
  return { namespace, policy: policyOf(options, defaults, 'options') };
}

/**
 * `@Idempotent()` options, checked when the decorator is applied.
 *
 * @throws InvalidArgumentError naming the option
 * @example
 * checkIdempotentOptions({ ttlMs: 60_000, scope: 'tenant' });
 */
export function checkIdempotentOptions(options: IdempotentOptions): void {
  checkObject(options, '@Idempotent() options', IDEMPOTENT_OPTIONS);
  if (options.scope !== undefined && options.scope !== 'user' && options.scope !== 'tenant') {
    throw new InvalidArgumentError('@Idempotent() scope', `must be 'user' or 'tenant', got ${describe(options.scope)}`, options.scope);
  }
  if (options.required !== undefined && typeof options.required !== 'boolean') {
    throw new InvalidArgumentError('@Idempotent() required', `must be a boolean, got ${typeof options.required}`, options.required);
  }
  policyOf(options, { ttlMs: 1_000, concurrent: 'wait', waitMs: 0 }, '@Idempotent()');
}

/**
 * The policy of one call: `ttlMs`, `concurrent` and `waitMs` of `options` (checked against
 * IDEMPOTENCY_LIMITS) over `defaults`.
 *
 * @throws InvalidArgumentError naming `${where}.<option>`
 * @example
 * policyOf({ waitMs: 500 }, module, 'options'); // { ttlMs: module.ttlMs, concurrent: module.concurrent, waitMs: 500 }
 */
export function policyOf(
  options: { ttlMs?: number; concurrent?: ConcurrentDuplicates; waitMs?: number }, defaults: IdempotencyPolicy, where: string,
): IdempotencyPolicy {
  const { ttlMs, waitMs } = IDEMPOTENCY_LIMITS;
  if (options.concurrent !== undefined && options.concurrent !== 'wait' && options.concurrent !== 'reject') {
    throw new InvalidArgumentError(`${where}.concurrent`, `must be 'wait' or 'reject', got ${describe(options.concurrent)}`, options.concurrent);
  }
  if (options.ttlMs === undefined && options.waitMs === undefined && options.concurrent === undefined) return defaults;
  return {
    ttlMs: integerIn(options.ttlMs, `${where}.ttlMs`, ttlMs.min, ttlMs.max) ?? defaults.ttlMs,
    concurrent: options.concurrent ?? defaults.concurrent,
    waitMs: integerIn(options.waitMs, `${where}.waitMs`, waitMs.min, waitMs.max) ?? defaults.waitMs,
  };
}

function integerIn(value: unknown, argument: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, `must be an integer from ${min} to ${max} (ms), got ${describe(value)}`, value);
  }
  return value;
}

function checkObject(options: unknown, argument: string, known: ReadonlySet<string>): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(argument, `must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new InvalidArgumentError(argument, `has no option ${JSON.stringify(name)} (known: ${[...known].join(', ')})`);
  }
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 50)) : typeof value === 'number' ? String(value) : typeof value;
}
