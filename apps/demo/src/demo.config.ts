import type { CoordinationModuleOptions } from '@nest-coordination/core';

/** Request header that carries the company (tenant) id. */
export const COMPANY_HEADER = 'x-company-id';

/** Everything the demo needs to boot; built from the environment by `demoConfigFromEnv`. */
export interface DemoConfig {
  coordination: CoordinationModuleOptions;
}

/**
 * Reads the demo's configuration from environment variables:
 * - `REDIS_URL`: Redis to coordinate through; unset means the in-memory driver.
 * - `COORD_KEY_PREFIX`: first segment of every key and channel (default `demo`).
 *
 * Tenancy is deliberately not `required`: the module's tenant interceptor would then
 * reject `/health`, which load balancers call without a company. The company routes
 * enforce a tenant themselves with `CompanyGuard`.
 *
 * @example
 * const app = await NestFactory.create(AppModule.register(demoConfigFromEnv(process.env)));
 */
export function demoConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const url = env.REDIS_URL?.trim();
  return {
    coordination: {
      ...(url ? { connection: { url } } : { driver: 'memory' as const }),
      keyPrefix: env.COORD_KEY_PREFIX?.trim() || 'demo',
      tenancy: { header: COMPANY_HEADER, required: false },
    },
  };
}
