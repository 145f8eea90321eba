import { HttpException, Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { REDIRECT_METADATA, RENDER_METADATA, RESPONSE_PASSTHROUGH_METADATA, ROUTE_ARGS_METADATA, SSE_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { defer, lastValueFrom, type Observable } from 'rxjs';
import { CoordinationError } from '../errors/coordination.error.js';
import { asBadRequest } from '../http/as-bad-request.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import { retryAfterSeconds } from '../rate-limit/rate-limit-headers.js';
import { endpointOf, refusal } from '../sessions/session.guard.js';
import { TenantResolver } from '../tenancy/tenant-resolver.js';
import { IdempotencyClaims, type ClaimTarget } from './idempotency-claims.js';
import { fingerprintOf } from './idempotency-fingerprint.js';
import { captureSent, isExpressResponse, replayOnExpress, storedOf, type ExpressResponseLike, type SentCapture, type SentResponse } from './idempotency-express.js';
import {
  IDEMPOTENT_METADATA, REPLAYED_HEADER, bodyOf, headerOf, headerText, isFinalError, isStoredStatus, namespaceOf, replayValue, userOfRequest,
  type IdempotentRequestLike,
} from './idempotency-http.js';
import { IdempotencyObserver } from './idempotency-observer.js';
import { keyHeaderOf, keyOfHeader, policyOf, type IdempotencyPolicy, type KeyHeaderSource } from './idempotency-validation.js';
import { IdempotencyInFlightError, IdempotencyKeyInvalidError, IdempotencyKeyRequiredError } from './idempotency.errors.js';
import { IDEMPOTENCY_OPTIONS, type ResolvedIdempotencyOptions } from './idempotency.options.js';
import type { IdempotencyClaim, IdempotentOptions, StoredHttpResponse } from './idempotency.types.js';

/** The operation HTTP requests' store calls are named after (RedisUnavailableError, metrics). */
const OPERATION = 'idempotency.http';

/** Marks a request one IdempotencyInterceptor already handles: applied twice (globally and by @Idempotent, or on class and method), the second pass goes straight through. */
const HANDLED = Symbol('coordination:idempotency:handled');

type RunningClaim = Extract<IdempotencyClaim<StoredHttpResponse>, { replay: false }>;

/**
 * Makes `@Idempotent()` routes safe to retry with the `Idempotency-Key` header (IETF httpapi
 * draft; the header name is `idempotency.header`):
 *
 * - The first request with a key runs the handler; its response is stored for `ttlMs`, and every
 *   later request with the key gets it again, byte for byte, with `Idempotent-Replayed: true`.
 *   On express, what is stored is what was SENT on the response: its final status, the headers of
 *   `idempotency.replayHeaders` (Content-Type, Location, ...) and the body bytes, after every
 *   interceptor (a ClassSerializerInterceptor's `@Exclude()`d fields are never stored) and every
 *   exception filter (a stored error replays as the app rendered it). On other platforms the
 *   handler's value (or 4xx HttpException) is stored instead.
 * - The key is held while the handler runs, even when the client goes away (the handler's value
 *   is then stored when it ends, or the key freed when it threw); a streamed body holds it until
 *   the body was sent.
 * - Stored: an answer below 500 other than 304, 408, 409, 425 and 429, and not to a HEAD request. A 5xx (thrown, or set with
 *   `res.status(503)`), those four, an error of this library, and a body that is not text sent in
 *   one piece (a stream, StreamableFile, web `Response`, async iterable, `@Sse()`: warned once
 *   per route) free the key: a retry runs the handler again.
 * - A request arriving while the first still runs waits for its response (`concurrent: 'wait'`,
 *   at most `waitMs`) or gets 409 with `Retry-After` (`'reject'`, or the wait ended).
 * - The key reused for another request (method, path with query, tenant, user or body differ; an
 *   unparsed body by its Content-Type and Content-Length) gets 422. Keys are per user by default
 *   (`scope: 'user'`), or shared by the tenant.
 * - No header: the route runs as usual, or 400 with `required`; a malformed key (not 1-255
 *   printable ASCII characters; a quoted structured-field string is unquoted) is a 400.
 * - Redis unreachable: 503, and the handler does not run.
 *
 * The user is `idempotency.userOf(request)`, else `request.user`'s `id`, `sub` or `userId` (a
 * `request.user` that is not an object, e.g. optional auth's `false`, is nobody; an object without any of them is a 500 naming `idempotency.userOf`: users never share
 * responses), else the SessionGuard session's user, else none (anonymous requests share one
 * namespace). The tenant is resolved as TenantInterceptor and RateLimitGuard do. Refusals are
 * CoordinationHttpExceptions (problem details at the error's status). It runs after guards; other
 * contexts than HTTP, and routes without `@Idempotent()` metadata, pass through; applied twice to
 * a route (globally and by the decorator, or on the class and the method) it acts once, with the
 * method's options over the class's. A route answering through `@Res()` gets its replay written.
 *
 * @example
 * @Controller('crews')
 * class CrewRunsController {
 *   @Post(':id/runs')
 *   @Idempotent({ ttlMs: 86_400_000 })
 *   start(@Param('id') id: string) { return this.runs.start(id); } // 201 + Location, once per key
 * }
 *
 * @example
 * // Globally, as the FIRST APP_INTERCEPTOR: outermost, so the other global interceptors run inside it.
 * // Only routes with @Idempotent() metadata are concerned (the decorator then only carries options).
 * providers: [{ provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor }, { provide: APP_INTERCEPTOR, useClass: ClassSerializerInterceptor }]
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  /** Per handler: whether it answers through `@Res()` / `@Next()` itself (Nest then sends nothing). */
  private readonly answersItself = new WeakMap<object, boolean>();

  constructor(
    protected readonly claims: IdempotencyClaims,
    protected readonly reflector: Reflector,
    protected readonly tenantResolver: TenantResolver,
    protected readonly adapterHost: HttpAdapterHost,
    @Inject(IDEMPOTENCY_OPTIONS) protected readonly options: ResolvedIdempotencyOptions,
    protected readonly observer: IdempotencyObserver,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const route = this.reflector.getAllAndOverride<IdempotentOptions | undefined>(IDEMPOTENT_METADATA, [context.getHandler(), context.getClass()]);
    if (!route) return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<IdempotentRequestLike & { [HANDLED]?: true }>();
    if (request[HANDLED]) return next.handle();
    request[HANDLED] = true;
    if (Reflect.getMetadata(SSE_METADATA, context.getHandler())) {
      this.observer.notStorable(endpointOf(context), 'a server-sent event stream');
      return next.handle();
    }
    const response = http.getResponse<unknown>();
    // The header sent on two lines is a 400, not the key `a, b` Node joins them into.
    const raw = this.keyOf(response, () => keyHeaderOf(request as KeyHeaderSource, this.options.header));
    if (raw === undefined) {
      if (route.required ?? this.options.required) throw refusal(response, new IdempotencyKeyRequiredError(this.headerName()));
      return next.handle();
    }
    const key = this.keyOf(response, () => keyOfHeader(raw));
    const tenant = await this.tenantResolver.forHandler(context).catch((error: unknown) => {
      throw asBadRequest(error);
    });
    const user = userOfRequest(request, this.options.userOf);
    const target: ClaimTarget = {
      tenant: tenant ?? SHARED_TENANT,
      namespace: namespaceOf(route.scope ?? 'user', user),
      key,
      fingerprint: this.fingerprintOf(request, tenant ?? '', user),
    };
    const policy = policyOf(route, this.options, '@Idempotent()');
    return defer(() => this.serve(context, target, policy, next, response));
  }

  /**
   * The fingerprint of the request: the sha256 of the canonical JSON of
   * `[method, path with query, tenant, user, body]` (a Buffer body as base64; a body no parser
   * read, `request.body` undefined, as its Content-Type and Content-Length). Override to leave out
   * what may differ between two retries of one request, or add what must not.
   */
  protected fingerprintOf(request: IdempotentRequestLike, tenant: string, user: string): string {
    const path = request.originalUrl ?? request.url ?? '';
    const body = request.body === undefined
      ? { unparsed: { type: headerOf(request, 'content-type') ?? null, length: headerOf(request, 'content-length') ?? null } }
      : request.body;
    return fingerprintOf([request.method ?? '', path, tenant, user, body ?? null], 'request body');
  }

  private async serve(context: ExecutionContext, target: ClaimTarget, policy: IdempotencyPolicy, next: CallHandler, response: unknown): Promise<unknown> {
    let claim: IdempotencyClaim<StoredHttpResponse>;
    try {
      claim = await this.claims.begin<StoredHttpResponse>(target, policy, OPERATION);
    } catch (error) {
      throw this.refuse(response, error);
    }
    if (claim.replay) return this.replay(context, response, claim.value);
    // From here every path ends in complete() or abandon(), whatever throws.
    if (isExpressResponse(response) && this.adapterHost.httpAdapter?.getType?.() === 'express') return this.serveCaptured(context, claim, next, response);
    return this.serveValue(context, claim, next, response);
  }

  /**
   * Express: the handler runs; what is stored is decided when the response is sent (see
   * captureSent). The key is held while the handler runs, whatever the client does: a response
   * that closed with nothing sent (the client went away) is settled once the handler's Observable
   * settles, with the handler's value stored as on other platforms (a retry replays it) or, when
   * it threw or answers some other way, the key freed.
   */
  private async serveCaptured(context: ExecutionContext, claim: RunningClaim, next: CallHandler, response: ExpressResponseLike): Promise<unknown> {
    let retryable = false;
    let handled: { value: unknown } | undefined;
    let capture: SentCapture;
    try {
      capture = captureSent(response, this.options.replayHeaders, (sent) => this.decide(context, claim, sent, retryable, handled, response));
    } catch (error) {
      await this.abandon(claim);
      throw error;
    }
    try {
      const value = await lastValueFrom(next.handle(), { defaultValue: undefined });
      handled = { value };
      return value;
    } catch (error) {
      // An error of this library says "not now" (a lock, a limit, Redis), whatever status a filter renders it with.
      retryable = isCoordinationFailure(error);
      throw error;
    } finally {
      capture.handlerSettled();
    }
  }

  private async decide(
    context: ExecutionContext, claim: RunningClaim, sent: SentResponse, retryable: boolean, handled: { value: unknown } | undefined, response: ExpressResponseLike,
  ): Promise<void> {
    try {
      if (sent.kind === 'streamed') this.observer.notStorable(endpointOf(context), 'a body written in pieces (a stream, a file, a web Response, an async iterable)');
      if (sent.kind === 'closed') {
        // Nothing went out (the client left): the handler's value, as the value-level path stores it, unless Nest would not send it as is,
        // or it holds class instances: outer interceptors (ClassSerializerInterceptor's @Exclude()) never ran on it, so storing it could
        // replay what the first response would have left out. The key is then freed (a retry runs again).
        if (handled && !retryable && this.sendsValue(context)) {
          if (isPlainData(handled.value)) await this.storeValue(context, claim, handled.value, response);
          else this.observer.notStorable(endpointOf(context), 'a value holding class instances, unsent (the client left before outer interceptors ran)');
        }
        return await this.abandon(claim);
      }
      if (sent.kind !== 'sent' || retryable || !isStoredStatus(sent.status) || isHead(context)) return await this.abandon(claim);
      const stored = storedOf(sent);
      if (!stored) {
        this.observer.notStorable(endpointOf(context), 'a binary body');
        return await this.abandon(claim);
      }
      await this.store(claim, stored);
    } finally {
      // Whatever failed above: the claim never stays locked (a settled claim ignores this).
      await this.abandon(claim);
    }
  }

  /** Whether Nest answers the route by sending the handler's value as it is (not through @Res(), @Redirect() or @Render()). */
  private sendsValue(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    return !this.answersItselfFor(context) && !Reflect.getMetadata(REDIRECT_METADATA, handler) && !Reflect.getMetadata(RENDER_METADATA, handler);
  }

  /** Stores the handler's value with the response's status and replay headers (when both can be stored); else the key is freed by the caller. */
  private async storeValue(context: ExecutionContext, claim: RunningClaim, value: unknown, response: unknown): Promise<void> {
    const body = bodyOf(value);
    const status = (response as { statusCode?: number }).statusCode ?? 200;
    if ('unstorable' in body) this.observer.notStorable(endpointOf(context), body.unstorable);
    else if (isStoredStatus(status) && !isHead(context)) await this.store(claim, { status, headers: this.replayHeadersOf(response), ...body });
  }

  /** Other platforms: the handler's value (or 4xx HttpException) is stored. */
  private async serveValue(context: ExecutionContext, claim: RunningClaim, next: CallHandler, response: unknown): Promise<unknown> {
    try {
      let value: unknown;
      try {
        value = await lastValueFrom(next.handle(), { defaultValue: undefined });
      } catch (error) {
        if (error instanceof HttpException && !isCoordinationFailure(error) && isFinalError(error.getStatus()) && !isHead(context)) {
          const stored = this.errorOf(response, error);
          if (stored) await this.store(claim, stored);
        }
        throw error;
      }
      await this.storeValue(context, claim, value, response);
      return value;
    } finally {
      await this.abandon(claim);
    }
  }

  private replay(context: ExecutionContext, response: unknown, stored: StoredHttpResponse): unknown {
    const adapter = this.adapterHost.httpAdapter;
    const express = isExpressResponse(response) && adapter?.getType?.() === 'express';
    if (express) replayOnExpress(response, stored);
    else {
      adapter.status(response, stored.status);
      for (const [name, value] of Object.entries(stored.headers)) adapter.setHeader(response, name, value);
    }
    adapter.setHeader(response, REPLAYED_HEADER, 'true');
    if (!this.answersItselfFor(context)) return replayValue(stored);
    // Nest sends nothing for a route answering through @Res() / @Next(): the replay is written here.
    const value = stored.kind === 'error' ? JSON.parse(stored.body) : express ? undefined : replayValue(stored);
    adapter.reply(response, value, stored.status);
    return undefined;
  }

  private answersItselfFor(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let answers = this.answersItself.get(handler);
    if (answers === undefined) {
      const name = methodKeyOf(context.getClass(), handler);
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), name) ?? {}) as Record<string, unknown>;
      const takesResponse = Object.keys(args).some((key) => {
        const type = Number(key.split(':')[0]);
        return type === RouteParamtypes.RESPONSE || type === RouteParamtypes.NEXT;
      });
      answers = takesResponse && !Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, context.getClass(), name);
      this.answersItself.set(handler, answers);
    }
    return answers;
  }

  /** A 4xx HttpException as stored (non-express platforms); undefined when its response cannot be JSON-encoded (cyclic, BigInt). */
  private errorOf(response: unknown, error: HttpException): StoredHttpResponse | undefined {
    let body: string | undefined;
    try {
      body = JSON.stringify(error.getResponse());
    } catch {
      return undefined;
    }
    return body === undefined ? undefined : { status: error.getStatus(), headers: this.replayHeadersOf(response), kind: 'error', body };
  }

  /** Stores the response; a failure (Redis gone meanwhile) is logged: the answer still goes out, the key frees itself after its lease. */
  private async store(claim: RunningClaim, stored: StoredHttpResponse): Promise<void> {
    await claim.complete(stored).catch((error: unknown) => this.observer.stepFailed('storing the response', error));
  }

  /** Frees the key (a no-op once the claim is settled); a failure is logged. */
  private async abandon(claim: RunningClaim): Promise<void> {
    await claim.abandon().catch((failure: unknown) => this.observer.stepFailed('abandon', failure));
  }

  private replayHeadersOf(response: unknown): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const name of this.options.replayHeaders) {
      const value = headerText(this.adapterHost.httpAdapter.getHeader(response, name));
      if (value !== undefined) headers[name] = value;
    }
    return headers;
  }

  /** `read()` of the key header, an IdempotencyKeyInvalidError as its 400 refusal. */
  private keyOf<T>(response: unknown, read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw error instanceof IdempotencyKeyInvalidError ? refusal(response, error) : error;
    }
  }

  private refuse(response: unknown, error: unknown): unknown {
    if (error instanceof IdempotencyInFlightError) return refusal(response, error, { 'Retry-After': String(retryAfterSeconds(error.retryAfterMs)) });
    if (error instanceof CoordinationError) return refusal(response, error);
    return error;
  }

  /** The configured header as it is usually written (the default `Idempotency-Key`), for messages. */
  private headerName(): string {
    return this.options.header === 'idempotency-key' ? 'Idempotency-Key' : this.options.header;
  }
}

/** An error of this library (or an HttpException made of one): "not now", never a stored answer. */
function isCoordinationFailure(error: unknown): boolean {
  return error instanceof CoordinationError || (error instanceof HttpException && error.cause instanceof CoordinationError);
}

/** A HEAD request: its answer (headers, no body) is never stored, nor replayed to a retry. */
function isHead(context: ExecutionContext): boolean {
  return context.switchToHttp().getRequest<{ method?: string }>().method?.toUpperCase() === 'HEAD';
}

/**
 * The property of `controller`'s prototype (or an ancestor's) holding `handler`: Nest keeps a
 * route's parameter metadata under that key, which a decorator wrapping the method in another
 * function (an anonymous one) no longer gives as `handler.name`.
 */
function methodKeyOf(controller: Function, handler: Function): string {
  for (let proto: object | null = controller.prototype as object; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key !== 'constructor' && Object.getOwnPropertyDescriptor(proto, key)?.value === handler) return key;
    }
  }
  return handler.name;
}

const PLAIN_PROTOTYPES: ReadonlySet<unknown> = new Set([Object.prototype, Array.prototype, Date.prototype, null]);

/** Whether `value` is data only: primitives, plain objects, arrays and Dates, all the way down (bounded depth). */
function isPlainData(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (depth > 64 || !PLAIN_PROTOTYPES.has(Object.getPrototypeOf(value))) return false;
  if (value instanceof Date) return true;
  return Object.values(value).every((v) => isPlainData(v, depth + 1));
}
