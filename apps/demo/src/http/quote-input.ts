/** Longest piece of client input an error message quotes in full. */
export const MAX_QUOTED_LENGTH = 64;

/**
 * `value` quoted for an error message; past `max` characters, its start and its length, so a
 * client's 8 KB header is not echoed back (nor written to logs) in full.
 *
 * @example
 * quoteInput('u-ada');           // "u-ada" (with the quotes)
 * quoteInput('x'.repeat(8_192)); // "xxxx…xx"… (8192 characters), 64 x's quoted
 */
export function quoteInput(value: string, max = MAX_QUOTED_LENGTH): string {
  if (value.length <= max) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)`;
}
