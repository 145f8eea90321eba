import { HttpException, HttpStatus, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CoordinationCore } from '../core/coordination-core.js';
import { ErrorCode } from '../errors/coordination.error.js';
import { encodeId } from '../keys/key-builder.js';
import { TenantResolver } from '../tenancy/tenant-resolver.js';
import { legacyHeaders, policyHeader, rateLimitHeader, retryAfterSeconds } from './rate-limit-headers.js';
import { RATE_LIMIT_METADATA, SKIP_RATE_LIMIT_METADATA, type RateLimitMetadata, type RateLimitRule } from './rate-limit.decorator.js';
import { RateLimitService } from './rate-limit.service.js';
import type { RateLimitCheck, RateLimitDecision } from './rate-limit.types.js';

interface RequestLike {
  ip?: string;
  headers?: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
  user?: Record<string, unknown>;
}

interface ResponseLike {
  setHeader?(name: string, value: string): void;
  header?(name: string, value: string): void;
}

/**
 * Enforces `@RateLimit` metadata on HTTP handlers: checks every rule of the handler in one
 * atomic call, sets the IETF `RateLimit-Policy` / `RateLimit` headers (and/or the legacy
 * `X-RateLimit-*`, per `rateLimit.headers`), and answers a denial with 429, `Retry-After` and an
 * `application/problem+json` body naming the violated policy. Handlers without metadata,
 * or with `@SkipRateLimit()`, pass. Extend it and override the protected hooks to change
 * how clients are identified or keys are built, as with @nestjs/throttler.
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
 *     return rule.scope === 'user' ? req.headers['x-api-key'] : super.getTracker(req, rule, ctx);
 *   }
 * }
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    protected readonly rateLimits: RateLimitService,
    protected readonly reflector: Reflector,
    protected readonly core: CoordinationCore,
    protected readonly tenantResolver: TenantResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(SKIP_RATE_LIMIT_METADATA, targets)) return true;
    const metadata = this.reflector.getAllAndOverride<RateLimitMetadata | undefined>(RATE_LIMIT_METADATA, targets);
    if (!metadata || metadata.rules.length === 0) return true;

    const http = context.switchToHttp();
    const request = http.getRequest<RequestLike>();
    const response = http.getResponse<ResponseLike>();
    const tenant = this.core.tenants.current() ?? (await this.tenantResolver.fromRequest(request));
    const checks: RateLimitCheck[] = [];
    const names = new Set<string>();
    for (const [i, rule] of metadata.rules.entries()) {
      const scope = scopeName(rule);
      let name = rule.name ?? scope;
      if (names.has(name)) name = `${name}-${i}`;
      names.add(name);
      const tracker = await this.getTracker(request, rule, context);
      checks.push({ key: await this.generateKey(context, tracker, rule), policy: { ...rule, name }, scope });
    }
    const decision = await this.rateLimits.consumeMany(checks, { tenant, cost: metadata.cost });
    this.setHeaders(response, decision, checks);
    if (!decision.allowed) await this.throwRateLimited(context, decision);
    return true;
  }

  /** Identifies the client for a rule: user id, tenant, endpoint, IP or the rule's own function. */
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
        return this.core.tenants.current() ?? (await this.tenantResolver.fromRequest(request)) ?? '_shared';
      case 'endpoint':
        return endpointOf(context);
      case 'ip':
        return this.clientIp(request);
    }
  }

  /**
   * The counter key of a rule. Named rules are shared across handlers; unnamed rules of
   * user/ip/custom scope count per handler.
   */
  protected async generateKey(context: ExecutionContext, tracker: string, rule: RateLimitRule): Promise<string> {
    const scope = scopeName(rule);
    const key = `${scope}:${encodeId(tracker)}`;
    return rule.name !== undefined || scope === 'tenant' || scope === 'endpoint' ? key : `${key}:${endpointOf(context)}`;
  }

  /** Throws the 429. Override to change the body or the exception. */
  protected async throwRateLimited(context: ExecutionContext, decision: RateLimitDecision): Promise<never> {
    const response = context.switchToHttp().getResponse<ResponseLike>();
    const violated = decision.violated!;
    const failClosed = decision.source === 'fail-closed';
    const status = failClosed ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.TOO_MANY_REQUESTS;
    setHeader(response, 'Retry-After', String(retryAfterSeconds(violated.retryAfterMs)));
    setHeader(response, 'Content-Type', 'application/problem+json');
    throw new HttpException(
      {
        type: `urn:coordination:error:${failClosed ? ErrorCode.RedisUnavailable : ErrorCode.RateLimited}`,
        title: failClosed ? 'Rate limiter unavailable' : 'Too Many Requests',
        status,
        detail: failClosed
          ? 'The shared rate limiter cannot be reached and is configured to fail closed'
          : `Rate limit policy "${violated.policy}" exceeded (${violated.limit} per window)`,
        code: failClosed ? ErrorCode.RedisUnavailable : ErrorCode.RateLimited,
        policy: violated.policy,
        limit: violated.limit,
        retryAfterMs: violated.retryAfterMs,
      },
      status,
    );
  }

  /** The client address; `X-Forwarded-For` is trusted only with `rateLimit.trustProxy`. */
  protected clientIp(request: RequestLike): string {
    if (this.rateLimits.options.trustProxy) {
      const forwarded = request.headers?.['x-forwarded-for'];
      const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return request.ip ?? request.socket?.remoteAddress ?? 'unknown';
  }

  private setHeaders(response: ResponseLike, decision: RateLimitDecision, checks: readonly RateLimitCheck[]): void {
    const mode = this.rateLimits.options.headers;
    if (mode === 'none') return;
    if (mode === 'ietf' || mode === 'both') {
      const shown = new Set(decision.results.map((r) => r.policy));
      setHeader(response, 'RateLimit-Policy', policyHeader(checks.map((c) => ({ name: c.policy.name!, limit: c.policy.limit, windowMs: c.policy.windowMs })).filter((p) => shown.has(p.name))));
      setHeader(response, 'RateLimit', rateLimitHeader(decision.results));
    }
    if (mode === 'legacy' || mode === 'both') {
      for (const [name, value] of Object.entries(legacyHeaders(decision))) setHeader(response, name, value);
    }
  }
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
