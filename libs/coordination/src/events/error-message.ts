/**
 * The message of a thrown value, for log lines (anything can be thrown, not only Errors).
 *
 * @example
 * logger.warn(`Could not unsubscribe from ${name}: ${errorMessage(error)}`);
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
