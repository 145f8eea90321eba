// Micro-benchmark of CoordinationTracer.trace() on the hot path (not a test): what a call site
// `tracer.trace(OP, tenant, key, () => work(tenant, key))` costs over calling `work(tenant, key)`
// directly, with no OpenTelemetry SDK registered (the default), with `telemetry.traces: false`,
// and, for scale, with an SDK registered (a span per call, exported nowhere).
//
//   npm run build:lib && node scripts/bench-trace-overhead.mjs
//
// TRACING_MODULE=<path to a built telemetry/tracing.js> measures another build. Prints the best of
// ROUNDS rounds of ITERATIONS calls each (cases interleaved), in ns per call.
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const modulePath = resolve(process.env.TRACING_MODULE ?? 'libs/coordination/dist/telemetry/tracing.js');
const { CoordinationTracer } = await import(pathToFileURL(modulePath).href);

const ITERATIONS = Number(process.env.ITERATIONS ?? 2_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const OPTIONS = { metrics: true, traces: true, hashKeys: false, tenantAttribute: 'all', maxTenantValues: 100 };
const OP = { name: 'cache.get', result: (span, value) => span.setAttribute('coordination.cache.hit', value !== undefined) };

// The "store call": an already settled promise, so only the call-site overhead is measured.
const settled = Promise.resolve('value');
let sink = 0;
function work(tenant, key) {
  sink += tenant.length + key.length;
  return settled;
}

const keys = Array.from({ length: 64 }, (_, i) => `user:${i}`);

/** ns per call of each case: cases interleaved within each round (a loaded machine slows them alike), best round kept. */
function measure(cases, iterations) {
  const best = cases.map(() => Infinity);
  for (let round = 0; round < ROUNDS; round++) {
    cases.forEach(([, call], c) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) call('acme', keys[i & 63]);
      best[c] = Math.min(best[c], Number(process.hrtime.bigint() - started) / iterations);
    });
  }
  return cases.map(([label], c) => ({ label, ns: best[c] }));
}

const noSdk = new CoordinationTracer(OPTIONS, 'redis');
const disabled = new CoordinationTracer({ ...OPTIONS, traces: false }, 'redis');

const results = measure([
  ['direct call: work(tenant, key)', (t, k) => work(t, k)],
  ['trace(), traces: false', (t, k) => disabled.trace(OP, t, k, () => work(t, k))],
  ['trace(), no SDK registered', (t, k) => noSdk.trace(OP, t, k, () => work(t, k))],
  ['`enabled` check only, no SDK registered', (t, k) => (noSdk.enabled ? settled : work(t, k))],
], ITERATIONS);

// For scale: an SDK registered globally, a span made and ended per call (no processor: exported nowhere).
trace.setGlobalTracerProvider(new BasicTracerProvider());
results.push(...measure([['trace(), SDK registered (a span per call)', (t, k) => noSdk.trace(OP, t, k, () => work(t, k))]], Math.min(ITERATIONS, 100_000)));
trace.disable();

const base = results[0].ns;
console.log(`node ${process.version}, ${ITERATIONS} calls x ${ROUNDS} rounds (best round)`);
for (const { label, ns } of results) console.log(`${label.padEnd(52)} ${ns.toFixed(1).padStart(8)} ns/call  (+${(ns - base).toFixed(1)} ns)`);
if (sink === 0) console.log('');
