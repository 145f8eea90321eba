import { Command, type Cluster } from 'ioredis';
import type { LuaScript } from './lua-script.js';

/**
 * Replies a cluster node gives instead of running a command: the slot is served elsewhere
 * (`MOVED`), is being migrated and the key is not here (`ASK`), its keys are split by a migration
 * (`TRYAGAIN`), or the cluster is down for now (`CLUSTERDOWN`). And ioredis's refusal to send an
 * auto-pipeline whose commands the slot table, refreshed since they were queued, now puts on
 * different nodes. In every case the command did not run.
 */
const REDIRECT = /^(?:(?:MOVED|ASK|TRYAGAIN|CLUSTERDOWN) |All keys in the pipeline should belong to the same slots allocation group)/;

/**
 * Whether `error` is a redirection a cluster client handed back raw. ioredis follows redirections
 * of a command sent on its own, but a command it auto-pipelined with others comes back with the
 * raw reply whenever the pipeline cannot be retried as a whole (its commands met different
 * replies, or some already ran), or with an error of its own when the slot table changed under
 * the pipeline: during a slot migration or after a failover, a busy instance sees this for calls
 * on the moving slot while others in the same batch succeed.
 *
 * @example
 * isClusterRedirect(new ReplyError('ASK 3353 127.0.0.1:7001')); // true
 */
export function isClusterRedirect(error: unknown): boolean {
  return error instanceof Error && REDIRECT.test(error.message);
}

/** The client gave up on a chain of redirections (not of lost connections: those end in a connection error). */
const REDIRECTED_TOO_OFTEN = /^Too many Cluster redirections\. Last error: (?:\w+: )?(?:MOVED|ASK|TRYAGAIN|NOSCRIPT)\b/;

/**
 * Whether `error` only says that the call's slot is on the move (a migration in progress, or the
 * slot table changed under an auto-pipeline): the node answered, so the connection is fine and
 * the cluster serves every other slot. Such a call fails with RedisUnavailableError, but does not
 * count against the circuit breaker, which would otherwise fail the calls on every slot.
 *
 * @example
 * isSlotInMotion(new ReplyError('TRYAGAIN Multiple keys request during rehashing of slot')); // true
 * isSlotInMotion(new ReplyError('CLUSTERDOWN The cluster is down')); // false: no slot is served
 */
export function isSlotInMotion(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { message } = error;
  return (isClusterRedirect(error) && !message.startsWith('CLUSTERDOWN'))
    || REDIRECTED_TOO_OFTEN.test(message)
    || message.includes('Script attempted to access a non local key');
}

/**
 * Runs `script` as a command of its own, outside the auto-pipeline, after a redirection: ioredis
 * then follows MOVED (and refreshes its slot table) and ASK (with ASKING), and retries TRYAGAIN and
 * CLUSTERDOWN after a delay, up to its `maxRedirections`. Safe to resend: a redirected command
 * never ran. EVAL once after NOSCRIPT (a node new to the slot may not know the script).
 *
 * @example
 * const reply = await evalAlone(cluster, LOCK_SCRIPTS.release, keys, args);
 */
export async function evalAlone(
  client: Cluster, script: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>,
): Promise<unknown> {
  try {
    return await client.sendCommand(new Command('evalsha', [script.sha, keys.length, keys as string[], args as Array<string | number | Buffer>], { replyEncoding: 'utf8' }));
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
    return client.sendCommand(new Command('eval', [script.lua, keys.length, keys as string[], args as Array<string | number | Buffer>], { replyEncoding: 'utf8' }));
  }
}
