/**
 * Who shares one idempotency key space: each user of a tenant apart (default), or the whole tenant.
 *
 * @example
 * @Idempotent({ scope: 'tenant' }) // one key space for every user of the tenant
 */
export type IdempotencyScope = 'user' | 'tenant';

/**
 * What a duplicate does while the first attempt is still running: wait for its outcome (bounded), or get 409 at once.
 *
 * @example
 * await idempotency.run(key, () => reports.start(id), { concurrent: 'reject' }); // in flight: IdempotencyInFlightError at once
 */
export type ConcurrentDuplicates = 'wait' | 'reject';

/**
 * Options of `IdempotencyService.run()` / `begin()`. Every field is optional.
 *
 * @example
 * const options: IdempotencyRunOptions = { namespace: 'invoices', fingerprint: body, waitMs: 5_000 };
 * const invoice = await idempotency.run(key, () => invoices.create(body), options);
 */
export interface IdempotencyRunOptions {
  /** How long a finished outcome is replayed, ms. Default `idempotency.ttlMs` (24 h). */
  ttlMs?: number;
  /**
   * What identifies the request behind the key: any JSON value (hashed), e.g. the arguments. The
   * same key with another fingerprint throws IdempotencyMismatchError. Default: none (only the key).
   */
  fingerprint?: unknown;
  /** Wait for an attempt in flight, or reject at once. Default `idempotency.concurrent` ('wait'). */
  concurrent?: ConcurrentDuplicates;
  /** Longest wait for an attempt in flight before IdempotencyInFlightError, ms. Default `idempotency.waitMs`. */
  waitMs?: number;
  /** Tenant of the key; default the tenant of the current context. */
  tenant?: string;
  /** A namespace inside the tenant (e.g. the operation or the user), so equal keys of two namespaces never meet. Default ''. */
  namespace?: string;
}

/**
 * Options of `@Idempotent()` on an HTTP route. Every field is optional.
 *
 * @example
 * @Post()
 * @Idempotent({ required: true, ttlMs: 3_600_000, concurrent: 'reject' })
 * create(@Body() body: CreateOrder) { return this.orders.create(body); }
 */
export interface IdempotentOptions {
  /** How long the response is replayed, ms. Default `idempotency.ttlMs` (24 h). */
  ttlMs?: number;
  /** Keys per user (default) or shared by the tenant (another user's request with the key then gets 422). */
  scope?: IdempotencyScope;
  /** Refuse a request without the header (400). Default `idempotency.required` (false: it runs without idempotency). */
  required?: boolean;
  /** Wait for an attempt in flight, or 409 at once. Default `idempotency.concurrent` ('wait'). */
  concurrent?: ConcurrentDuplicates;
  /** Longest wait for an attempt in flight before 409, ms. Default `idempotency.waitMs`. */
  waitMs?: number;
}

/**
 * A claim on an idempotency key (`IdempotencyService.begin()`): either the stored value of a
 * finished attempt to replay, or the right to run, ended by `complete(value)` (stored for
 * replay) or `abandon()` (nothing stored: the key may be tried again).
 *
 * @example
 * const claim = await idempotency.begin<Receipt>(`refund:${id}`);
 * if (claim.replay) return claim.value;
 * await claim.complete(await refunds.issue(id, { signal: claim.signal })); // if issue() throws: await claim.abandon()
 */
export type IdempotencyClaim<T> =
  | { readonly replay: true; readonly value: T }
  | {
      readonly replay: false;
      /** Aborts when the claim's lease is lost (renewal failed): another attempt may run. */
      readonly signal: AbortSignal;
      /** Stores `value` for replay; false when the lease was lost first (nothing stored). */
      complete(value: T): Promise<boolean>;
      /** Frees the key without storing anything. */
      abandon(): Promise<void>;
    };

/**
 * What the HTTP interceptor stores for replay: the first response, as sent.
 *
 * @example
 * // A 201 with a JSON body, replayed as is to every later request with the key:
 * const stored: StoredHttpResponse = { status: 201, headers: { 'content-type': 'application/json; charset=utf-8', location: '/runs/42' }, kind: 'json', body: '{"id":42}' };
 */
export interface StoredHttpResponse {
  status: number;
  /** Replayed headers (lower-case names), see `idempotency.replayHeaders`. */
  headers: Record<string, string>;
  /**
   * 'json': `body` is the JSON text sent; 'text': a text body as sent; 'empty': no body; 'error'
   * (platforms other than express only, where the handler's value is stored): an HttpException's
   * response (JSON text). On express the body is always the bytes sent, errors included.
   */
  kind: 'json' | 'text' | 'empty' | 'error';
  body: string;
}
