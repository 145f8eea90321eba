import { SetMetadata } from '@nestjs/common';

export const TENANT_OPTIONAL = 'coordination:tenant-optional';

/**
 * Lets a controller or handler run without a tenant even when `tenancy.required` is on,
 * e.g. health checks and sign-up. Operations inside it still need an explicit `{ tenant }`
 * (or throw `TenantRequiredError`): nothing falls back to a shared namespace.
 *
 * @example
 * @TenantOptional()
 * @Get('health')
 * check() { ... }
 */
export const TenantOptional = (): MethodDecorator & ClassDecorator => SetMetadata(TENANT_OPTIONAL, true);
