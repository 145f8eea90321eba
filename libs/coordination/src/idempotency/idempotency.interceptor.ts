import { HttpException, Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants.js';
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
import {
  IDEMPOTENT_METADATA, REPLAYED_HEADER, bodyOf, headerOf, headerText, isFinalError, namespaceOf, replayValue, userOfRequest, type IdempotentRequestLike,
} from './idempotency-http.js';
import { IdempotencyObserver } from './idempotency-observer.js';
import { keyOfHeader, policyOf, type IdempotencyPolicy } from './idempotency-validation.js';
import { IdempotencyInFlightError, IdempotencyKeyInvalidError, IdempotencyKeyRequiredError } from './idempotency.errors.js';
import { IDEMPOTENCY_OPTIONS, type ResolvedIdempotencyOptions } from './idempotency.options.js';
import type { IdempotencyClaim, IdempotentOptions, StoredHttpResponse } from './idempotency.types.js';

/** The operation HTTP requests' store calls are named after (RedisUnavailableError, metrics). */
const OPERATION = 'idempotency.http';

/**
 * Makes `@Idempotent()` routes safe to retry with the `Idempotency-Key` header (IETF httpapi
 * draft; the header name is `idempotency.header`):
 *
 * - The first request with a key runs the handler; its response (status, body, and the headers
 *   of `idempotency.replayHeaders`: Content-Type, Location, ...) is stored for `ttlMs`, and
 *   every later request with the key gets it again, byte for byte, with `Idempotent-Replayed: true`.
 * - A request arriving while the first still runs waits for its response (`concurrent: 'wait'`,
 *   at most `waitMs`) or gets 409 with `Retry-After` (`'reject'`, or the wait ended).
 * - The key reused for another request (method, path with query, tenant, user or body differ)
 *   gets 422. Keys are per user by default (`scope: 'user'`), or shared by the tenant.
 * - A handler that throws an HttpException with a 4xx status (but 408, 409, 425, 429) has
 *   answered: the error is stored and replayed. A 5xx, any other error, or a response that
 *   cannot be stored (StreamableFile, Buffer, stream, `@Sse()`: warned once per route) frees the
 *   key: a retry runs the handler again.
 * - No header: the route runs as usual, or 400 with `required`; a malformed key (not 1-255
 *   printable ASCII characters; a quoted structured-field string is unquoted) is a 400.
 * - Redis unreachable: 503, and the handler does not run.
 *
 * Refusals are CoordinationHttpExceptions (problem details at the error's status, with
 * CoordinationExceptionFilter or without). The tenant is resolved as TenantInterceptor and
 * RateLimitGuard do; the user with `idempotency.userOf`, else `request.user.id` / `.sub`, else
 * the SessionGuard session's user. It runs after guards (it is an interceptor), on express and
 * fastify (through the HttpAdapterHost). Other contexts than HTTP, and routes without
 * `@Idempotent()` metadata, pass through.
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
 * // globally: only routes with @Idempotent() metadata are concerned
 * providers: [{ provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor }]
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
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
    if (Reflect.getMetadata(SSE_METADATA, context.getHandler())) {
      this.observer.notStorable(endpointOf(context), 'a server-sent event stream');
      return next.handle();
    }
    const http = context.switchToHttp();
    const request = http.getRequest<IdempotentRequestLike>();
    const response = http.getResponse<unknown>();
    const raw = headerOf(request, this.options.header);
    if (raw === undefined) {
      if (route.required ?? this.options.required) throw refusal(response, new IdempotencyKeyRequiredError(this.headerName()));
      return next.handle();
    }
    const key = this.keyOf(raw, response);
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
   * `[method, path with query, tenant, user, body]` (a Buffer body as base64). Override to leave
   * out what may differ between two retries of one request, or add what must not.
   */
  protected fingerprintOf(request: IdempotentRequestLike, tenant: string, user: string): string {
    const path = request.originalUrl ?? request.url ?? '';
    return fingerprintOf([request.method ?? '', path, tenant, user, request.body ?? null], 'request body');
  }

  private async serve(context: ExecutionContext, target: ClaimTarget, policy: IdempotencyPolicy, next: CallHandler, response: unknown): Promise<unknown> {
    let claim: IdempotencyClaim<StoredHttpResponse>;
    try {
      claim = await this.claims.begin<StoredHttpResponse>(target, policy, OPERATION);
    } catch (error) {
      throw this.refuse(response, error);
    }
    if (claim.replay) return this.replay(response, claim.value);
    let value: unknown;
    try {
      value = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      if (error instanceof HttpException && !(error.cause instanceof CoordinationError) && isFinalError(error.getStatus())) {
        await this.store(claim, this.errorOf(response, error));
      } else {
        await claim.abandon().catch((failure: unknown) => this.observer.stepFailed('abandon', failure));
      }
      throw error;
    }
    const body = bodyOf(value);
    if ('unstorable' in body) {
      this.observer.notStorable(endpointOf(context), body.unstorable);
      await claim.abandon().catch((failure: unknown) => this.observer.stepFailed('abandon', failure));
      return value;
    }
    await this.store(claim, { status: (response as { statusCode?: number }).statusCode ?? 200, headers: this.replayHeadersOf(response), ...body });
    return value;
  }

  private replay(response: unknown, stored: StoredHttpResponse): unknown {
    const adapter = this.adapterHost.httpAdapter;
    adapter.status(response, stored.status);
    for (const [name, value] of Object.entries(stored.headers)) adapter.setHeader(response, name, value);
    adapter.setHeader(response, REPLAYED_HEADER, 'true');
    return replayValue(stored);
  }

  private errorOf(response: unknown, error: HttpException): StoredHttpResponse {
    return { status: error.getStatus(), headers: this.replayHeadersOf(response), kind: 'error', body: JSON.stringify(error.getResponse()) };
  }

  /** Stores the response; a failure (Redis gone meanwhile) is logged: the answer still goes out, the key frees itself after its lease. */
  private async store(claim: Extract<IdempotencyClaim<StoredHttpResponse>, { replay: false }>, stored: StoredHttpResponse): Promise<void> {
    await claim.complete(stored).catch((error: unknown) => this.observer.stepFailed('storing the response', error));
  }

  private replayHeadersOf(response: unknown): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const name of this.options.replayHeaders) {
      const value = headerText(this.adapterHost.httpAdapter.getHeader(response, name));
      if (value !== undefined) headers[name] = value;
    }
    return headers;
  }

  private keyOf(raw: string, response: unknown): string {
    try {
      return keyOfHeader(raw);
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
