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
];

export function isTransportError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError' || error.name === 'ClusterAllFailedError') return true;
  return TRANSPORT_MESSAGES.some((m) => error.message.includes(m));
}
