import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { firstHeader, type HeadersLike } from '../auth/credentials.js';
import type { MetricsConfig } from '../demo.config.js';

/** Injection token of the demo's `MetricsConfig` (who may read `GET /metrics`). */
export const METRICS_CONFIG = Symbol('METRICS_CONFIG');

/** The bearer token of `Authorization: Bearer <token>` (any case of the scheme); undefined without one. */
function bearerToken(request: HeadersLike): string | undefined {
  const match = /^bearer\s+(\S+)\s*$/i.exec(firstHeader(request, 'authorization')?.trim() ?? '');
  return match?.[1];
}

/** Fixed length, so that comparing digests tells nothing of the token's length either. */
const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/**
 * Lets a scrape of `GET /metrics` through when `METRICS_TOKEN` is set only with `Authorization:
 * Bearer <METRICS_TOKEN>` (compared in constant time), else 401 with `WWW-Authenticate: Bearer`.
 * Without a token the route is open (development); in production without one it is not served
 * at all (DemoTelemetryModule registers no controller).
 *
 * @example
 * curl -s -H "Authorization: Bearer $METRICS_TOKEN" localhost:3000/metrics
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(@Inject(METRICS_CONFIG) config: MetricsConfig) {
    this.expected = config.access === 'token' ? digest(config.token) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === undefined) return true;
    const presented = bearerToken(context.switchToHttp().getRequest<HeadersLike>());
    if (presented !== undefined && timingSafeEqual(digest(presented), this.expected)) return true;
    context.switchToHttp().getResponse<{ setHeader(name: string, value: string): void }>().setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
    throw new UnauthorizedException('GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>"');
  }
}
