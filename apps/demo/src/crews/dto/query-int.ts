import { Transform } from 'class-transformer';

/** A plain non-negative decimal integer: no sign, blank, hexadecimal, exponent or fraction. */
const PLAIN_INT = /^\d{1,15}$/;

/**
 * Reads a query parameter as a plain decimal integer (`2`, `030`), unlike `@Type(() => Number)`,
 * which `Number()` would make read `''` as 0, `0x2` as 2 and `1e0` as 1. Anything else is left as
 * the string it is, so `@IsInt()` after it refuses it (400 naming the parameter).
 *
 * @example
 * @IsOptional() @QueryInt() @IsInt() @Min(0) @Max(3)
 * failures?: number;
 */
export function QueryInt(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => (typeof value === 'string' && PLAIN_INT.test(value) ? Number(value) : value));
}
