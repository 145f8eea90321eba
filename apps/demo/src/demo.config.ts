import type { CoordinationModuleOptions } from '@nest-coordination/core';

/** Request header that carries the company (tenant) id. */
export const COMPANY_HEADER = 'x-company-id';

/** Request header that names the calling user (the demo's stand-in for real authentication). */
export const USER_HEADER = 'x-user-id';

/** Everything the demo needs to boot; built from the environment by `demoConfigFromEnv`. */
export interface DemoConfig {
  coordination: CoordinationModuleOptions;
}

/**
 * Reads the demo's configuration from environment variables:
 * - `REDIS_URL`: Redis to coordinate through; unset means the in-memory driver.
 * - `COORD_KEY_PREFIX`: first segment of every key and channel (default `demo`).
 *
 * Tenancy is `required`: a request without a company is rejected with 400, except on
 * routes marked `@TenantOptional()` such as `/health`, which load balancers call without
 * one. `DemoAuthGuard` additionally turns a user outside that company into a 403.
 *
 * @example
 * const app = await NestFactory.create(AppModule.register(demoConfigFromEnv(process.env)));
 */
export function demoConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const url = env.REDIS_URL?.trim();
  return {
    coordination: {
      ...(url ? { connection: { url } } : { driver: 'memory' as const }),
      prefix: env.COORD_KEY_PREFIX?.trim() || 'demo',
      tenancy: { header: COMPANY_HEADER, required: true },
    },
  };
}
