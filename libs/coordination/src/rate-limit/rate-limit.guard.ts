import { createHash } from 'node:crypto';
import { HttpException, HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ContextExceptions } from '../contexts/context-exceptions.js';
import { withRetrySeconds } from '../contexts/context-errors.js';
import { isHandlerContextType, requestResponseOf, type ContextRequest, type ContextRequestResponse, type ContextResponse } from '../contexts/context-requests.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { ErrorCode, InvalidArgumentError } from '../errors/coordination.error.js';
import { SHARED_TENANT, encodeId } from '../keys/key-builder.js';
import { asBadRequest } from '../http/as-bad-request.js';
import { PerRoute } from '../http/per-route.js';
import { PROBLEM_JSON, problemDetails } from '../http/problem-details.js';
import { TenantResolver } from '../tenancy/tenant-resolver.js';
import { isFallback, legacyHeaders, policyHeader, rateLimitHeader, retryAfterSeconds, type AdvertisedPolicy } from './rate-limit-headers.js';
import { RATE_LIMIT_METADATA, SKIP_RATE_LIMIT_METADATA, type RateLimitMetadata, type RateLimitRule } from './rate-limit.decorator.js';
import { RATE_LIMIT_OPTIONS, type ResolvedRateLimitOptions } from './rate-limit.options.js';
import { RateLimitService } from './rate-limit.service.js';
import type { RateLimitCheck, RateLimitDecision, RateLimitPolicy, RateLimitSource } from './rate-limit.types.js';

/** Encoded trackers longer than this are hashed, so that long ids (API keys, URLs) never exceed the key length limit. */
const MAX_TRACKER_LENGTH = 128;
/** The tracker of the `global` scope: everyone. Unnamed rules add the handler to the key, named ones do not. */
const EVERYONE = 'all';

type RequestLike = ContextRequest;
type ResponseLike = ContextResponse;

/** One rule of a handler as the guard checks it. */
interface PlannedRule {
  readonly rule: RateLimitRule;
  readonly scope: string;
  /**
   * `{ ...rule, name }`, built once per handler: RateLimitService validates a policy object once
   * and reuses the result while the object is unchanged, so a fresh copy per request would be
   * validated on every request.
   */
  readonly policy: RateLimitPolicy;
  readonly global: boolean;
}

/** The rules a request checks, with the `RateLimit-Policy` they advertise when the shared limiter answers them all. */
interface PlannedRules {
  readonly rules: readonly PlannedRule[];
  readonly policyHeader: string;
}

/** What the guard enforces on one handler, read from its metadata once (see RateLimitGuard.planOf). */
interface HandlerPlan {
  readonly endpoint: string;
  readonly cost: number | undefined;
  /** The rules of a request with a tenant, or of one without where tenancy is not required. */
  readonly all: PlannedRules;
  /** The rules of a request counted in the shared namespace: `tenant` rules skipped. */
  readonly shared: PlannedRules;
}

/**
 * Enforces `@RateLimit` metadata on HTTP handlers, GraphQL resolvers, WebSocket message handlers
 * and microservice message handlers (README "GraphQL, WebSockets and microservices"; other
 * context types pass). On HTTP it checks every rule of the handler in one
 * atomic call (`global` rules mixed with others: in a second one, see RateLimitScope), sets the
 * IETF `RateLimit-Policy` / `RateLimit` headers (and/or the legacy `X-RateLimit-*`, per
 * `rateLimit.headers`), and answers a denial with 429, `Retry-After` and an
 * `application/problem+json` body naming the violated policy and its `source`; elsewhere a
 * denial is the context's error (see ContextExceptions), with the same members: a GraphQL error
 * with `extensions.code: 'E_RATE_LIMITED'` and `retryAfterMs` (and `Retry-After` on the HTTP
 * response behind it), a `WsException` or an `RpcException` with
 * `{ status: 'error', code, message, retryAfterMs, ... }`. The client is read from the HTTP
 * request behind a GraphQL operation, the socket's handshake, or the RPC message
 * (getRequestResponse), the tenant from the context (TenantResolver.forContext). While Redis is
 * unreachable, each policy the fallback answered carries `src=local` (or `src=fail-closed`) in
 * `RateLimit-Policy`, e.g. `"user";q=10;w=1;src=local`. Handlers without metadata, or with
 * `@SkipRateLimit()`, pass. A handler's metadata is read on its first request and kept, as Nest
 * keeps the routes it builds from metadata at startup (the rules themselves are fixed when
 * `@RateLimit()` runs). Extend it and override the protected hooks to change how clients are
 * identified (`getTracker`, `getRequestResponse`), keys are built (`generateKey`) or denials
 * answered (`throwRateLimited`), as with @nestjs/throttler. Its settings (`headers`,
 * `trustProxy`, `trustedProxies`) come from the `rateLimit` options section, injected into a
 * property, so a subclass with its own constructor passes only the four constructor arguments
 * to `super()`.
 *
 * @example
 * // per controller
 * @UseGuards(RateLimitGuard)
 * @Controller('crews') class CrewController {}
 *
 * @example
 * // globally
 * providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }]
 *
 * @example
 * @Injectable()
 * class ApiKeyRateLimitGuard extends RateLimitGuard {
 *   protected override async getTracker(req: any, rule: RateLimitRule, ctx: ExecutionContext) {
 *     // A tracker must be a non-empty string: fall back to the default when the key is missing.
 *     return (rule.scope === 'user' ? req.headers?.['x-api-key'] : undefined) ?? super.getTracker(req, rule, ctx);
 *   }
 * }
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  /**
   * The resolved `rateLimit` options section (headers, trustProxy, trustedProxies). Injected as a
   * property, not a constructor argument, so that subclasses calling `super()` with the four
   * constructor arguments keep working (`useDefineForClassFields: false` keeps the declaration
   * from overwriting the injected value).
   */
  @Inject(RATE_LIMIT_OPTIONS) protected readonly options!: ResolvedRateLimitOptions;

  /** Builds the GraphQL, WebSocket and microservice errors of a denial; injected as a property, like `options`. */
  @Inject(ContextExceptions) protected readonly exceptions!: ContextExceptions;

  /** Plans by controller class, then handler (a handler inherited by several controllers gets one per class); null: nothing to enforce. */
  private readonly plans = new PerRoute<HandlerPlan | null>();

  /** The tenant canActivate resolved for a non-HTTP call, for its `tenant` rules: resolved once per call. */
  private readonly contextTenants = new WeakMap<ExecutionContext, string | undefined>();

  constructor(
    protected readonly rateLimits: RateLimitService,
    protected readonly reflector: Reflector,
    protected readonly core: CoordinationCore,
    protected readonly tenantResolver: TenantResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const type = context.getType();
    // Other context types (a custom transport's) pass, as they did before any was supported.
    if (type !== 'http' && !isHandlerContextType(type)) return true;
    const plan = this.planOf(context);
    if (plan === null) return true;

    let request: RequestLike;
    let response: ResponseLike | undefined;
    if (type === 'http') {
      const http = context.switchToHttp();
      request = http.getRequest<RequestLike>();
      response = http.getResponse<ResponseLike>();
    } else {
      ({ req: request, res: response } = this.getRequestResponse(context));
    }
    const tenant = await this.resolveTenant(request, context);
    if (type !== 'http') this.contextTenants.set(context, tenant);
    // A @TenantOptional request without a tenant under `tenancy.required` counts in the shared
    // namespace, where there is no tenant to count a `tenant` rule against.
    const shared = tenant === undefined && this.core.tenants.isRequired;
    const { rules, policyHeader: answeredPolicyHeader } = shared ? plan.shared : plan.all;
    if (rules.length === 0) return true;
    const checks: RateLimitCheck[] = [];
    for (const { rule, scope, policy, global } of rules) {
      const tracker: unknown = await this.getTracker(request, rule, context);
      if (typeof tracker !== 'string' || tracker === '') {
        const error = new InvalidArgumentError('scope', `the ${scope} scope of rate-limit rule "${policy.name}" on ${plan.endpoint} must give a non-empty string`, tracker);
        // Over HTTP the filter answers it (a 400); elsewhere it would reach the client as "Internal server error".
        throw type === 'http' ? error : this.exceptions.map(context, error);
      }
      checks.push({ key: await this.generateKey(context, tracker, rule), policy, scope, global });
    }
    const options = shared ? { sharedNamespace: true, cost: plan.cost } : { tenant, cost: plan.cost };
    // A socket or a message without a tenant is counted in none, not in a tenant left in the async
    // context by whatever opened its connection (as TenantInterceptor runs it in none).
    const decision = type !== 'http' && tenant === undefined
      ? await this.core.tenants.exit(() => this.rateLimits.consumeMany(checks, options))
      : await this.rateLimits.consumeMany(checks, options);
    if (response !== undefined) this.setHeaders(response, decision, checks, answeredPolicyHeader);
    if (!decision.allowed) await this.throwRateLimited(context, decision);
    return true;
  }

  /**
   * The request a GraphQL resolver, WebSocket message handler or microservice handler is counted
   * by, and the HTTP response its headers go to when there is one (@nestjs/throttler's hook of the
   * same name): the HTTP request behind a GraphQL operation (the GraphQL context's `req`) and its
   * response; a view of a socket (`{ ip, headers, user }` from the handshake and `client.data.user`
   * or `client.request.user`); a view of an RPC message (the TCP peer's `ip`, the payload's
   * `user`). HTTP handlers read their request and response directly. Override it for a GraphQL
   * context of your own shape, or to count sockets by something else.
   *
   * @example
   * protected override getRequestResponse(context: ExecutionContext) {
   *   if (context.getType<string>() !== 'graphql') return super.getRequestResponse(context);
   *   const { request, reply } = context.getArgByIndex(2); // a Mercurius-style context
   *   return { req: request, res: reply };
   * }
   */
  protected getRequestResponse(context: ExecutionContext): ContextRequestResponse {
    return requestResponseOf(context);
  }

  /** Identifies the client for a rule: user id, tenant, endpoint, everyone (`global`), IP or the rule's own function. */
  protected async getTracker(request: RequestLike, rule: RateLimitRule, context: ExecutionContext): Promise<string> {
    const scope = rule.scope ?? 'user';
    if (typeof scope === 'function') return scope(context);
    switch (scope) {
      case 'user': {
        const user = request.user;
        const id = user?.id ?? user?.sub ?? user?.userId;
        return id === undefined || id === null ? `anonymous-${this.clientIp(request)}` : String(id);
      }
      case 'tenant':
        if (context.getType() !== 'http') {
          const tenant = this.contextTenants.has(context) ? this.contextTenants.get(context) : await this.tenantResolver.forContext(context);
          return tenant ?? SHARED_TENANT;
        }
        return (await this.tenantResolver.fromRequest(request)) ?? this.core.tenants.current() ?? SHARED_TENANT;
      case 'endpoint':
        return endpointOf(context);
      case 'global':
        return EVERYONE;
      case 'ip':
        return this.clientIp(request);
    }
  }

  /**
   * The tenant of the request, resolved exactly as TenantInterceptor does (guards run before it;
   * see TenantResolver.forHandler); a missing required or malformed tenant is a 400. On a GraphQL
   * resolver, a WebSocket or a microservice handler: the tenant its context names
   * (TenantResolver.forContext, `tenancy.resolvers`), refused with the context's error.
   */
  protected resolveTenant(_request: RequestLike, context: ExecutionContext): Promise<string | undefined> {
    if (context.getType() === 'http') return this.tenantResolver.forHandler(context).catch(rethrowAsBadRequest);
    return this.tenantResolver.forContext(context).catch((error: unknown) => {
      throw this.exceptions.map(context, error);
    });
  }

  /**
   * The counter key of a rule. Named rules are shared across handlers; unnamed rules count per
   * handler whatever their scope. Long trackers are hashed.
   */
  protected async generateKey(context: ExecutionContext, tracker: string, rule: RateLimitRule): Promise<string> {
    const encoded = encodeId(tracker);
    const id = encoded.length > MAX_TRACKER_LENGTH ? `h:${createHash('sha256').update(tracker).digest('base64url')}` : encoded;
    const key = `${scopeName(rule)}:${id}`;
    return rule.name !== undefined ? key : `${key}:${endpointOf(context)}`;
  }

  /**
   * Throws the 429 (503 when failing closed). Its problem body names the violated policy and who
   * answered (`source`: `local` or `fail-closed` while Redis is unreachable). On a GraphQL
   * resolver, a WebSocket or a microservice handler: the context's error with the same members
   * (ContextExceptions). Override to change the body or the exception.
   *
   * @example
   * protected override async throwRateLimited(context: ExecutionContext, decision: RateLimitDecision): Promise<never> {
   *   if (context.getType() === 'ws') throw new WsException({ event: 'slow-down', retryAfterMs: decision.violated?.retryAfterMs });
   *   return super.throwRateLimited(context, decision);
   * }
   */
  protected async throwRateLimited(context: ExecutionContext, decision: RateLimitDecision): Promise<never> {
    if (context.getType() !== 'http') this.throwContextRateLimited(context, decision);
    const response = context.switchToHttp().getResponse<ResponseLike>();
    const violated = decision.violated!;
    const failClosed = decision.source === 'fail-closed';
    const status = failClosed ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.TOO_MANY_REQUESTS;
    setHeader(response, 'Retry-After', String(retryAfterSeconds(violated.retryAfterMs)));
    setHeader(response, 'Content-Type', PROBLEM_JSON);
    const body = problemDetails({
      code: failClosed ? ErrorCode.RedisUnavailable : ErrorCode.RateLimited,
      status,
      title: failClosed ? 'Rate limiter unavailable' : 'Too Many Requests',
      detail: failClosed
        ? 'The shared rate limiter cannot be reached and is configured to fail closed'
        : deniedDetail(violated.policy, violated.limit),
      extensions: { policy: violated.policy, limit: violated.limit, retryAfterMs: violated.retryAfterMs, source: violated.source },
    });
    throw new HttpException(body, status);
  }

  /**
   * The denial of a GraphQL resolver, WebSocket message handler or microservice handler: the
   * context's error (ContextExceptions) with the members of the HTTP problem body, `code`
   * (`E_RATE_LIMITED`, or `E_REDIS_UNAVAILABLE` when failing closed), `message`, `policy`,
   * `limit`, `retryAfterMs`, `retryAfterSeconds` and `source`; a GraphQL operation's HTTP
   * response gets `Retry-After` too.
   */
  private throwContextRateLimited(context: ExecutionContext, decision: RateLimitDecision): never {
    const violated = decision.violated!;
    const failClosed = decision.source === 'fail-closed';
    const { res } = this.getRequestResponse(context);
    if (res !== undefined) setHeader(res, 'Retry-After', String(retryAfterSeconds(violated.retryAfterMs)));
    const body = withRetrySeconds({
      code: failClosed ? ErrorCode.RedisUnavailable : ErrorCode.RateLimited,
      message: failClosed ? 'The shared rate limiter cannot be reached and is configured to fail closed' : deniedDetail(violated.policy, violated.limit),
      policy: violated.policy,
      limit: violated.limit,
      retryAfterMs: violated.retryAfterMs ?? 0,
      source: violated.source,
    });
    throw this.exceptions.of(context, body);
  }

  /**
   * The client address. With `rateLimit.trustProxy`, the `X-Forwarded-For` entry appended by the
   * outermost of `rateLimit.trustedProxies` proxies, counted from the right: entries left of it
   * were sent by the client, who can write anything there.
   */
  protected clientIp(request: RequestLike): string {
    const { trustProxy, trustedProxies } = this.options;
    if (trustProxy) {
      const forwarded = request.headers?.['x-forwarded-for'];
      const entries = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');
      const client = entries[Math.max(0, entries.length - trustedProxies)];
      if (client) return client;
    }
    return request.ip ?? request.socket?.remoteAddress ?? 'unknown';
  }

  /**
   * The handler's plan: its rules (with their advertised names and the policy objects checked),
   * read from `@RateLimit` / `@SkipRateLimit` metadata on its first request and kept for the
   * guard's lifetime, like the routes Nest builds from the same metadata at startup. The rules
   * are the frozen ones `@RateLimit()` keeps, the very objects handed to the hooks; rules with
   * getters (`RateLimitMetadata.live`) are planned again on every request.
   */
  private planOf(context: ExecutionContext): HandlerPlan | null {
    let plan = this.plans.get(context);
    if (plan === undefined) {
      const targets = [context.getHandler(), context.getClass()];
      const skip = this.reflector.getAllAndOverride<boolean>(SKIP_RATE_LIMIT_METADATA, targets);
      const metadata = skip ? undefined : this.reflector.getAllAndOverride<RateLimitMetadata | undefined>(RATE_LIMIT_METADATA, targets);
      plan = !metadata || metadata.rules.length === 0
        ? null
        : { endpoint: endpointOf(context), cost: metadata.cost, all: planRules(metadata.rules, false), shared: planRules(metadata.rules, true) };
      // Rules with getters are read afresh on every request (see RateLimit): their plan is not kept.
      if (metadata?.live) return plan;
      this.plans.set(context, plan);
    }
    return plan;
  }

  private setHeaders(response: ResponseLike, decision: RateLimitDecision, checks: readonly RateLimitCheck[], answeredPolicyHeader: string): void {
    const mode = this.options.headers;
    if (mode === 'none') return;
    if (mode === 'ietf' || mode === 'both') {
      setHeader(response, 'RateLimit-Policy', answeredBySharedLimiter(decision, checks) ? answeredPolicyHeader : policyHeaderOf(decision, checks));
      setHeader(response, 'RateLimit', rateLimitHeader(decision.results));
    }
    if (mode === 'legacy' || mode === 'both') {
      for (const [name, value] of Object.entries(legacyHeaders(decision))) setHeader(response, name, value);
    }
  }
}

/**
 * The rules a request checks, named as advertised: a rule's `name`, else its scope, suffixed with
 * its index when an earlier rule took the name. `skipTenant`: for the shared namespace.
 */
function planRules(all: readonly RateLimitRule[], skipTenant: boolean): PlannedRules {
  const rules: PlannedRule[] = [];
  const names = new Set<string>();
  all.forEach((rule, i) => {
    const scope = scopeName(rule);
    if (skipTenant && scope === 'tenant') return;
    let name = rule.name ?? scope;
    if (names.has(name)) name = `${name}-${i}`;
    names.add(name);
    rules.push({ rule, scope, policy: Object.freeze({ ...rule, name }), global: scope === 'global' });
  });
  return { rules, policyHeader: policyHeader(rules.map((r) => advertised(r.policy, 'redis'))) };
}

/** Whether every check was answered, in order, by a source `RateLimit-Policy` does not name: then the planned header applies. */
function answeredBySharedLimiter(decision: RateLimitDecision, checks: readonly RateLimitCheck[]): boolean {
  const { results } = decision;
  if (results.length !== checks.length) return false;
  for (let i = 0; i < results.length; i++) {
    if (results[i].policy !== checks[i].policy.name || isFallback(results[i].source)) return false;
  }
  return true;
}

/** `RateLimit-Policy` of the policies that were asked (a denial may leave some unasked), each with who answered it. */
function policyHeaderOf(decision: RateLimitDecision, checks: readonly RateLimitCheck[]): string {
  const sources = new Map(decision.results.map((r) => [r.policy, r.source]));
  return policyHeader(checks.map((c) => advertised(c.policy, sources.get(c.policy.name!))).filter((p) => p.source !== undefined));
}

function rethrowAsBadRequest(error: unknown): never {
  throw asBadRequest(error);
}

/**
 * The quota a client can actually use: with a burst above the limit (token bucket, GCRA), `r`
 * counts up to the burst, so the quota is the burst over the time the limit takes to refill it.
 * `source` is who answered for the policy (undefined: not asked, the policy is not shown).
 */
function advertised(policy: RateLimitPolicy, source: RateLimitSource | undefined): AdvertisedPolicy {
  const bucket = policy.algorithm === 'token-bucket' || policy.algorithm === 'gcra';
  if (!bucket || policy.burst === undefined || policy.burst <= policy.limit) return { name: policy.name!, limit: policy.limit, windowMs: policy.windowMs, source };
  return { name: policy.name!, limit: policy.burst, windowMs: (policy.burst * policy.windowMs) / policy.limit, source };
}

function deniedDetail(policy: string, limit: number): string {
  return `Rate limit policy "${policy}" exceeded (${limit} per window)`;
}

function scopeName(rule: RateLimitRule): string {
  return typeof rule.scope === 'function' ? 'custom' : (rule.scope ?? 'user');
}

function endpointOf(context: ExecutionContext): string {
  return `${context.getClass().name}.${context.getHandler().name}`;
}

function setHeader(response: ResponseLike, name: string, value: string): void {
  if (typeof response.setHeader === 'function') response.setHeader(name, value);
  else response.header?.(name, value);
}
