// METRIC_CATALOG against the source: every metric the library records is catalogued (under the
// kind it is recorded as), every entry is recorded somewhere, names follow the convention, and
// the README documents each one.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRIC_CATALOG, catalogEntry, deriveMetricName, type MetricKind } from '../../libs/coordination/src/telemetry/metric-catalog.js';

const SOURCE_ROOT = 'libs/coordination/src';
const KIND_OF: Record<string, MetricKind> = {
  increment: 'counter', counterOf: 'counter', observe: 'histogram', histogramOf: 'histogram', setGauge: 'gauge', removeGauge: 'gauge',
};
const CALL = /\.(increment|counterOf|observe|histogramOf|setGauge|removeGauge)\(\s*([A-Za-z_$][\w$]*|'[^']*')\s*[,)]/g;

interface Recorded {
  name: string;
  kind: MetricKind;
  where: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** The source without comments (JSDoc examples name metrics nobody records). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').replace(/\s\/\/[^'\n]*$/gm, '');
}

/**
 * The string values an identifier holds in `text`: `const X = 'name'`, `const X = ['a', 'b']`, or
 * a loop variable over such an array (`for (const name of X)`).
 */
function valuesOf(identifier: string, text: string): string[] | undefined {
  const literal = new RegExp(`const ${identifier}\\s*=\\s*'([^']+)'`).exec(text);
  if (literal) return [literal[1]];
  const list = new RegExp(`const ${identifier}\\s*=\\s*\\[([^\\]]*)\\]`).exec(text);
  if (list) return [...list[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
  const loop = new RegExp(`for \\(const ${identifier} of ([A-Za-z_$][\\w$]*)\\)`).exec(text);
  return loop ? valuesOf(loop[1], text) : undefined;
}

/** Every (metric name, kind) recorded through MetricsRegistry in the library's source. */
function recordedMetrics(): Recorded[] {
  const recorded: Recorded[] = [];
  for (const file of sourceFiles(SOURCE_ROOT)) {
    if (file.endsWith('metrics-registry.ts')) continue;
    const text = code(readFileSync(file, 'utf8'));
    for (const [, method, argument] of text.matchAll(CALL)) {
      const kind = KIND_OF[method];
      if (argument.startsWith("'")) {
        recorded.push({ name: argument.slice(1, -1), kind, where: file });
        continue;
      }
      // A constant (or a loop over constants) names a metric; anything else is an observed value
      // (`handle.observe(ms)`) or another API (`store.increment(key)`).
      const values = /^[A-Z][A-Z0-9_]*$/.test(argument) || method === 'removeGauge' || method === 'setGauge' ? valuesOf(argument, text) : undefined;
      if (values) for (const name of values) recorded.push({ name, kind, where: file });
    }
  }
  return recorded;
}

/** The arguments of the call whose `(` is at `open` in `text`, split at top-level commas. */
function callArguments(text: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = open + 1;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) {
      if (depth === 0) return [...args, text.slice(start, i)].map((a) => a.trim()).filter((a) => a.length > 0);
      depth--;
    } else if (c === ',' && depth === 0) {
      args.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return args;
}

/** Position of the labels argument of each recording method (observe and setGauge take a value first). */
const LABELS_AT: Record<string, number> = { increment: 1, counterOf: 1, histogramOf: 1, removeGauge: 1, observe: 2, setGauge: 2 };

/**
 * Every call recording a metric by literal name whose labels the source shows: none, or an object
 * literal (`{ operation }`, `{ role: 'command' }`), with the label names it passes. Labels held in
 * a variable are left to metrics-attributes.spec.ts, which records them for real.
 */
function literalLabels(): Array<{ name: string; kind: MetricKind; labels: string[]; where: string }> {
  const found: Array<{ name: string; kind: MetricKind; labels: string[]; where: string }> = [];
  const call = /\.(increment|counterOf|observe|histogramOf|setGauge|removeGauge)\(\s*'([a-z_]+)'/g;
  for (const file of sourceFiles(SOURCE_ROOT)) {
    if (file.endsWith('metrics-registry.ts')) continue;
    const text = code(readFileSync(file, 'utf8'));
    for (const match of text.matchAll(call)) {
      const [, method, name] = match;
      const labels = callArguments(text, match.index + match[0].indexOf('('))[LABELS_AT[method]];
      if (labels === undefined || labels === 'undefined') found.push({ name, kind: KIND_OF[method], labels: [], where: file });
      else if (labels.startsWith('{') && labels.endsWith('}')) {
        const keys = callArguments(`(${labels.slice(1, -1)})`, 0).map((entry) => /^([A-Za-z_$][\w$]*)/.exec(entry)?.[1] ?? entry);
        found.push({ name, kind: KIND_OF[method], labels: keys, where: file });
      }
    }
  }
  return found;
}

describe('METRIC_CATALOG', () => {
  const recorded = recordedMetrics();

  it('finds the metrics the source records (the scan itself works)', () => {
    const names = new Set(recorded.map((r) => r.name));
    // Literal first arguments, a constant (cache-bus) and a loop over a constant array (stream-observer).
    for (const name of ['lock_acquire_ms', 'cache_hits_total', 'cache_bus_malformed_total', 'streams_group_lag', 'tasks_depth']) expect(names).toContain(name);
    expect(names).not.toContain('lock_acquired_total'); // only in a JSDoc example
    expect(recorded.length).toBeGreaterThan(60);
  });

  it('lists every metric recorded in libs/coordination/src, under the kind it is recorded as', () => {
    const missing = recorded.filter((r) => !catalogEntry(r.name, r.kind)).map((r) => `${r.name} (${r.kind}, ${r.where})`);
    expect([...new Set(missing)]).toEqual([]);
  });

  it('lists, for each metric recorded with literal labels, exactly the label names the source passes', () => {
    const calls = literalLabels();
    // The scan itself works: calls without labels, with `{ operation }` and with `{ role: 'command' }`.
    expect(calls).toContainEqual(expect.objectContaining({ name: 'sessions_created_total', labels: [] }));
    expect(calls).toContainEqual(expect.objectContaining({ name: 'leader_errors_total', labels: ['operation'] }));
    expect(calls).toContainEqual(expect.objectContaining({ name: 'redis_reconnects_total', labels: ['role'] }));
    expect(calls.length).toBeGreaterThan(25);
    const wrong = calls.filter((c) => [...c.labels].sort().join() !== [...(catalogEntry(c.name, c.kind)?.attributes ?? [])].sort().join());
    expect(wrong.map((c) => `${c.name} (${c.kind}, ${c.where}): {${c.labels.join()}}, catalogued {${catalogEntry(c.name, c.kind)?.attributes.join() ?? '?'}}`)).toEqual([]);
  });

  it('lists only metrics something records', () => {
    const names = new Set(recorded.map((r) => `${r.kind}:${r.name}`));
    expect(METRIC_CATALOG.filter((m) => !names.has(`${m.kind}:${m.registryName}`)).map((m) => m.registryName)).toEqual([]);
  });

  it('has unique registry and OTel names', () => {
    const dupes = (values: string[]) => values.filter((v, i) => values.indexOf(v) !== i);
    expect(dupes(METRIC_CATALOG.map((m) => m.registryName))).toEqual([]);
    expect(dupes(METRIC_CATALOG.map((m) => m.name))).toEqual([]);
    // Prometheus flattens dots: two OTel names must not become one there either.
    expect(dupes(METRIC_CATALOG.map((m) => m.name.replace(/\./g, '_')))).toEqual([]);
  });

  it.each(METRIC_CATALOG.map((m) => [m.registryName, m] as const))('%s follows the naming convention', (_, m) => {
    expect(m.name).toBe(deriveMetricName(m.registryName, m.kind));
    expect(m.name).toMatch(/^coordination(\.[a-z][a-z0-9_]*)+$/);
    if (m.kind === 'counter') expect(m.registryName).toMatch(/_total$/);
    if (m.kind === 'histogram') expect({ name: m.registryName, unit: m.unit }).toEqual({ name: expect.stringMatching(/_ms$/), unit: 'ms' });
    else expect(m.unit).toMatch(/^(1|\{[a-z_]+\})$/);
    expect(m.description).toMatch(/^[A-Z].*[^.]$/);
    expect(m.attributes).toEqual([...new Set(m.attributes)]);
    for (const attribute of m.attributes) expect(attribute).toMatch(/^[a-z][a-z_]*$/);
    // How several module instances' series of a gauge combine: stated for each gauge, only for gauges.
    if (m.kind === 'gauge') expect(['sum', 'max']).toContain(m.aggregation);
    else expect(m.aggregation).toBeUndefined();
  });

  it('derives names as documented', () => {
    expect(deriveMetricName('lock_wait_ms', 'histogram')).toBe('coordination.lock.wait.duration');
    expect(deriveMetricName('cache_hits_total', 'counter')).toBe('coordination.cache.hits');
    expect(deriveMetricName('tasks_depth', 'gauge')).toBe('coordination.tasks.depth');
    expect(deriveMetricName('odd-name total', 'counter')).toBe('coordination.odd.name.total');
  });

  it('is documented in README.md: every OTel name appears there', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(METRIC_CATALOG.map((m) => m.name).filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
