import { Inject, Injectable } from '@nestjs/common';
import { COORDINATION_RESOLVED_OPTIONS } from '../core/coordination.tokens.js';
import type { ResolvedCoordinationOptions } from '../options/resolve-options.js';

interface RequestLike {
  headers?: Record<string, string | string[] | undefined>;
  user?: unknown;
}

/**
 * Finds the tenant of an incoming request: the configured `resolver` function, else the
 * `userProperty` of `request.user`, else the `header`. Returns undefined when none is
 * present; validation and the `required` rule are applied by the caller.
 *
 * @example
 * CoordinationModule.forRoot({ tenancy: { header: 'x-company-id', required: true } });
 */
@Injectable()
export class TenantResolver {
  constructor(@Inject(COORDINATION_RESOLVED_OPTIONS) private readonly options: ResolvedCoordinationOptions) {}

  async fromRequest(request: unknown): Promise<string | undefined> {
    const { resolver, userProperty, header } = this.options.tenancy;
    if (resolver) return (await resolver(request)) ?? undefined;
    const req = (request ?? {}) as RequestLike;
    if (userProperty) {
      // Only the authenticated user names the tenant then: a header the client chose must
      // never stand in for a missing or unauthenticated user.
      const value = userProperty.split('.').reduce<unknown>((obj, part) => (obj as Record<string, unknown> | undefined)?.[part], req.user);
      return value === undefined || value === null ? undefined : String(value);
    }
    const raw = req.headers?.[header.toLowerCase()];
    const value = Array.isArray(raw) ? raw[0] : raw;
    return value === undefined || value === '' ? undefined : value;
  }
}
