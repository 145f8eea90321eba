import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'demo:public';

/**
 * Lets a handler or controller through `DemoAuthGuard` without a user, e.g. health checks.
 *
 * @example
 * @Public()
 * @Get('health')
 * check() { ... }
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
