/**
 * The HTTP group's load generator, forked by http.bench.ts so that autocannon's CPU is not
 * counted as the endpoint's ("node µs/op" is then the Nest app's own cost per request).
 * argv: url, connections, users. Sends `{ latencies: number[], errors: number }` batches to the
 * parent every few milliseconds until the parent disconnects or kills it.
 */
import autocannon from 'autocannon';

const [url, connections, users] = process.argv.slice(2);
const USERS = Number(users);
const BATCH_MS = 5;

let user = 0;
let latencies: number[] = [];
let errors = 0;
const instance = autocannon(
  {
    url,
    connections: Number(connections),
    duration: 3_600,
    requests: [{ setupRequest: (req: any) => ({ ...req, headers: { ...req.headers, 'x-user': `u${user++ % USERS}` } }) }],
  },
  () => undefined,
);
instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
  if (status !== 200) errors++;
  latencies.push(ms);
});
const stop = () => {
  clearInterval(timer);
  instance.stop();
  process.exit(0);
};
const timer = setInterval(() => {
  if (!process.connected || (latencies.length === 0 && errors === 0)) return;
  // With a callback, a send racing the parent's disconnect fails there instead of as an 'error' event.
  process.send!({ latencies, errors }, (error: Error | null) => error && stop());
  latencies = [];
  errors = 0;
}, BATCH_MS);
process.on('disconnect', stop);
