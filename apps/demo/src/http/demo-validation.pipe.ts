import { ValidationPipe, type ArgumentMetadata, type ValidationPipeOptions } from '@nestjs/common';
import { InvalidArgumentError } from '@nest-coordination/core';

/** How many levels a request body may nest (the body itself is level 1). */
export const MAX_BODY_DEPTH = 32;

/**
 * The demo's ValidationPipe, which first refuses a body nested deeper than `maxDepth` levels
 * with 400 `E_INVALID_ARGUMENT` (argument `body`, problem+json through
 * CoordinationExceptionFilter). The JSON parser copes with any depth, but class-transformer,
 * which the pipe runs before validating, recurses once per level: a body nested 40 000 deep
 * (80 KB of `[`) overflowed the stack and answered 500.
 *
 * @example
 * { provide: APP_PIPE, useValue: new DemoValidationPipe({ whitelist: true, transform: true }) }
 */
export class DemoValidationPipe extends ValidationPipe {
  constructor(options: ValidationPipeOptions, private readonly maxDepth = MAX_BODY_DEPTH) {
    super(options);
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && nestsDeeperThan(value, this.maxDepth)) {
      throw new InvalidArgumentError('body', `nests deeper than ${this.maxDepth} levels`);
    }
    return super.transform(value, metadata);
  }
}

/**
 * Whether objects or arrays in `value` nest more than `maxDepth` levels (`value` itself is
 * level 1). Iterative, so that measuring cannot overflow the stack it protects.
 *
 * @example
 * nestsDeeperThan({ a: { b: [1] } }, 2); // true: the array is level 3
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 1 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.node === null || typeof next.node !== 'object') continue;
    if (next.depth > maxDepth) return true;
    for (const child of Object.values(next.node)) {
      if (child !== null && typeof child === 'object') pending.push({ node: child, depth: next.depth + 1 });
    }
  }
  return false;
}
