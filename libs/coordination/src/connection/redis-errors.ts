import { isClusterRedirect } from './cluster-redirect.js';

// Errors that mean "Redis could not be reached or did not answer", as opposed to a reply
// error of a command that ran (WRONGTYPE, a Lua error, ...). Only the former count
// against the circuit breaker and trigger a capability's fallback policy.
const TRANSPORT_MESSAGES = [
  'Connection is closed',
  "Stream isn't writeable",
  'Command timed out',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'LOADING',
  'Failed to refresh slots cache',
  'None of startup nodes is available',
  // A cluster client gave up following MOVED / ASK / TRYAGAIN (a slot held in migration).
  'Too many Cluster redirections',
  // A script touched a key absent on this node at that moment while its slot is migrating (one
  // it deleted and recreates, or a multi-key command on the importing node): Redis stops the
  // script there, and its writes made before stay. It may have partly run: never resend it.
  // The library's scripts only touch keys of their own hash tag, so this is the slot moving.
  'Script attempted to access a non local key',
];

export function isTransportError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError' || error.name === 'ClusterAllFailedError') return true;
  // A raw MOVED / ASK out of a cluster auto-pipeline (see cluster-redirect.ts) that was not sent again.
  if (isClusterRedirect(error)) return true;
  return TRANSPORT_MESSAGES.some((m) => error.message.includes(m));
}
