import { runCursor, type RunCursor } from './crew-store.js';
import type { CrewRun } from './crew.model.js';

/**
 * Response header of `GET /crews/:crewId/runs` naming where the next page starts: present when
 * the page is full (more runs may follow), absent on the last page.
 *
 * @example
 * GET /crews/market-research/runs?limit=20&cursor=<X-Next-Cursor of the page before>
 */
export const NEXT_CURSOR_HEADER = 'X-Next-Cursor';

/** Longest cursor accepted (a run id of up to 200 characters, encoded). */
export const MAX_CURSOR_LENGTH = 1_000;

/**
 * The opaque cursor of the page after `run` (the last run of a page): its `finishedAt` (ms) and
 * id, base64url-encoded. Clients pass it back as they got it.
 *
 * @example
 * res.setHeader(NEXT_CURSOR_HEADER, encodeRunCursor(page[page.length - 1]));
 */
export function encodeRunCursor(run: CrewRun): string {
  const { finishedMs, id } = runCursor(run);
  return Buffer.from(JSON.stringify([finishedMs, id])).toString('base64url');
}

/**
 * The position a cursor of `encodeRunCursor` stands for; undefined when it is not one.
 *
 * @example
 * decodeRunCursor(query.cursor); // { finishedMs: 1736154250000, id: 'r-1' }
 */
export function decodeRunCursor(cursor: string): RunCursor | undefined {
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
  const [finishedMs, id] = parsed as unknown[];
  if (!Number.isSafeInteger(finishedMs) || typeof id !== 'string' || id === '') return undefined;
  return { finishedMs: finishedMs as number, id };
}
