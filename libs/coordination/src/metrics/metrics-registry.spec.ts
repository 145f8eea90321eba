import { InvalidArgumentError } from '../errors/coordination.error.js';
import { DEFAULT_BUCKETS_MS, MetricsRegistry, type MetricsListener } from './metrics-registry.js';

describe('MetricsRegistry', () => {
  it('counts per name and label set, whatever the label order', () => {
    const metrics = new MetricsRegistry();
    metrics.increment('lock_acquired_total', { tenant: 'acme', mode: 'wait' });
    metrics.increment('lock_acquired_total', { mode: 'wait', tenant: 'acme' });
    metrics.increment('lock_acquired_total', { tenant: 'globex', mode: 'wait' }, 5);
    metrics.increment('lock_acquired_total');
    metrics.increment('lock_released_total', { tenant: 'acme' });

    expect(metrics.counter('lock_acquired_total', { tenant: 'acme', mode: 'wait' })).toBe(2);
    expect(metrics.counter('lock_acquired_total', { tenant: 'globex', mode: 'wait' })).toBe(5);
    expect(metrics.counter('lock_acquired_total')).toBe(1);
    expect(metrics.counter('lock_acquired_total', { tenant: 'acme' })).toBe(0);
    expect(metrics.counter('never_incremented')).toBe(0);

    const counters = metrics.snapshot().counters;
    expect(counters).toHaveLength(4);
    expect(counters).toContainEqual({ name: 'lock_released_total', labels: { tenant: 'acme' }, value: 1 });
  });

  it('keeps count, sum, cumulative buckets and bucket-bound quantiles per histogram series', () => {
    const metrics = new MetricsRegistry();
    for (let i = 0; i < 98; i++) metrics.observe('lock_wait_ms', 3, { tenant: 'acme' });
    metrics.observe('lock_wait_ms', 40, { tenant: 'acme' });
    metrics.observe('lock_wait_ms', 400, { tenant: 'acme' });
    metrics.observe('lock_wait_ms', 0.2, { tenant: 'globex' });

    const [acme, globex] = metrics.snapshot().histograms;
    expect(acme).toMatchObject({ name: 'lock_wait_ms', labels: { tenant: 'acme' }, count: 100, sum: 98 * 3 + 40 + 400 });
    expect(acme.p50).toBe(5);
    expect(acme.p99).toBe(50);
    expect(acme.buckets).toHaveLength(DEFAULT_BUCKETS_MS.length);
    expect(acme.buckets.find((b) => b.le === 2)!.count).toBe(0);
    expect(acme.buckets.find((b) => b.le === 5)!.count).toBe(98);
    expect(acme.buckets.find((b) => b.le === 50)!.count).toBe(99);
    expect(acme.buckets.at(-1)).toEqual({ le: Infinity, count: 100 });
    expect(globex).toMatchObject({ count: 1, sum: 0.2, p50: 0.25, p99: 0.25 });
    expect(globex.buckets.slice(0, 3)).toEqual([{ le: 0.1, count: 0 }, { le: 0.25, count: 1 }, { le: 0.5, count: 1 }]);
  });

  it('puts values above the largest finite bound in the +Infinity bucket', () => {
    const metrics = new MetricsRegistry();
    metrics.observe('slow_ms', 60_000);
    const [h] = metrics.snapshot().histograms;
    expect(h.p99).toBe(Infinity);
    expect(h.buckets.at(-2)!.count).toBe(0);
    expect(h.buckets.at(-1)!.count).toBe(1);
  });

  it('counts through a handle into the same series as increment(), listed from the moment it is bound', () => {
    const metrics = new MetricsRegistry();
    const hits = metrics.counterOf('cache_hits_total', { layer: 'l1' });
    expect(metrics.snapshot().counters).toEqual([{ name: 'cache_hits_total', labels: { layer: 'l1' }, value: 0 }]);
    hits.add();
    hits.add(2);
    metrics.increment('cache_hits_total', { layer: 'l1' });
    expect(metrics.counter('cache_hits_total', { layer: 'l1' })).toBe(4);
    expect(hits.value).toBe(4);
    expect(metrics.counter('cache_hits_total', { layer: 'l2' })).toBe(0);
  });

  it('observes through a handle into the same series as observe(), listed from the moment it is bound, dropping bad values', () => {
    const metrics = new MetricsRegistry();
    const handlerMs = metrics.histogramOf('streams_handler_ms', { stream: 'orders', group: 'billing' });
    expect(metrics.snapshot().histograms).toMatchObject([{ name: 'streams_handler_ms', labels: { stream: 'orders', group: 'billing' }, count: 0, sum: 0 }]);
    handlerMs.observe(3);
    handlerMs.observe(Number.NaN);
    handlerMs.observe(-1);
    metrics.observe('streams_handler_ms', 40, { group: 'billing', stream: 'orders' });
    const [h] = metrics.snapshot().histograms;
    expect(h).toMatchObject({ count: 2, sum: 43, p50: 5, p99: 50 });
  });

  it('returns copies: a snapshot does not change when metrics move on', () => {
    const metrics = new MetricsRegistry();
    metrics.increment('c');
    const before = metrics.snapshot();
    metrics.increment('c');
    expect(before.counters[0].value).toBe(1);
    expect(metrics.snapshot().counters[0].value).toBe(2);
  });
});

describe('MetricsRegistry gauges', () => {
  it('keeps the last value set per name and label set, whatever the label order, and lists it in snapshot()', () => {
    const metrics = new MetricsRegistry();
    metrics.setGauge('streams_group_lag', 7, { stream: 'orders', group: 'billing' });
    metrics.setGauge('streams_group_lag', 3, { group: 'billing', stream: 'orders' });
    metrics.setGauge('streams_group_lag', 0, { stream: 'orders', group: 'audit' });
    metrics.setGauge('queue_depth', 12);

    expect(metrics.gauge('streams_group_lag', { stream: 'orders', group: 'billing' })).toBe(3);
    expect(metrics.gauge('streams_group_lag', { stream: 'orders', group: 'audit' })).toBe(0);
    expect(metrics.gauge('queue_depth')).toBe(12);
    expect(metrics.gauge('streams_group_lag', { stream: 'orders' })).toBeUndefined();
    expect(metrics.gauge('never_set')).toBeUndefined();

    const { gauges, counters } = metrics.snapshot();
    expect(gauges).toHaveLength(3);
    expect(gauges).toContainEqual({ name: 'streams_group_lag', labels: { stream: 'orders', group: 'billing' }, value: 3 });
    expect(gauges).toContainEqual({ name: 'queue_depth', labels: {}, value: 12 });
    expect(counters).toEqual([]);
  });

  it('removes one gauge series, whatever the label order, and leaves the others', () => {
    const metrics = new MetricsRegistry();
    metrics.setGauge('streams_group_lag', 7, { stream: 'orders', group: 'billing' });
    metrics.setGauge('streams_group_lag', 2, { stream: 'orders', group: 'audit' });
    metrics.removeGauge('streams_group_lag', { group: 'billing', stream: 'orders' });
    metrics.removeGauge('never_set');
    expect(metrics.gauge('streams_group_lag', { stream: 'orders', group: 'billing' })).toBeUndefined();
    expect(metrics.snapshot().gauges).toEqual([{ name: 'streams_group_lag', labels: { stream: 'orders', group: 'audit' }, value: 2 }]);
  });

  it('goes down as well as up, keeps gauges apart from counters of the same name, and drops non-finite values', () => {
    const metrics = new MetricsRegistry();
    metrics.setGauge('depth', 10);
    metrics.setGauge('depth', -2);
    metrics.setGauge('depth', Number.NaN);
    metrics.setGauge('depth', Infinity);
    metrics.increment('depth', {}, 5);
    expect(metrics.gauge('depth')).toBe(-2);
    expect(metrics.counter('depth')).toBe(5);
    const before = metrics.snapshot();
    metrics.setGauge('depth', 4);
    expect(before.gauges).toEqual([{ name: 'depth', labels: {}, value: -2 }]);
    expect(metrics.snapshot().gauges).toEqual([{ name: 'depth', labels: {}, value: 4 }]);
  });
});

describe('MetricsRegistry series identity and bad observations', () => {
  it('keeps label sets apart even when values contain separators', () => {
    const metrics = new MetricsRegistry();
    metrics.increment('c', { a: '1,b=2' });
    metrics.increment('c', { a: '1', b: '2' }, 5);
    expect(metrics.counter('c', { a: '1,b=2' })).toBe(1);
    expect(metrics.counter('c', { a: '1', b: '2' })).toBe(5);
  });

  it('drops NaN, Infinity and negative observations instead of corrupting the histogram', () => {
    const metrics = new MetricsRegistry();
    metrics.observe('h', Number.NaN);
    metrics.observe('h', Infinity);
    metrics.observe('h', -1);
    metrics.observe('h', 3);
    const [h] = metrics.snapshot().histograms;
    expect(h.count).toBe(1);
    expect(h.sum).toBe(3);
  });
});

describe('MetricsRegistry.attach (an exporter)', () => {
  function recorder() {
    const seen: string[] = [];
    const observed: Array<[string, number]> = [];
    const listener: MetricsListener = {
      counterOrGauge: (kind, series) => void seen.push(`${kind}:${series.name}${JSON.stringify(series.labels)}`),
      histogram: (name, labels) => {
        seen.push(`histogram:${name}${JSON.stringify(labels)}`);
        const id = `${name}${JSON.stringify(labels)}`;
        return (ms) => void observed.push([id, ms]);
      },
    };
    return { seen, observed, listener };
  }

  it('is told about existing series, then once about each new one, never per call', () => {
    const metrics = new MetricsRegistry();
    metrics.increment('a_total', { x: 1 });
    metrics.setGauge('g', 1);
    metrics.observe('h_ms', 1);
    const { seen, listener } = recorder();
    metrics.attach(listener);
    expect(seen).toEqual(['counter:a_total{"x":1}', 'gauge:g{}', 'histogram:h_ms{}']);

    seen.length = 0;
    for (let i = 0; i < 3; i++) {
      metrics.increment('a_total', { x: 1 });
      metrics.increment('a_total', { x: 2 });
      metrics.counterOf('b_total').add();
      metrics.setGauge('g', i);
      metrics.setGauge('g2', i);
      metrics.observe('h_ms', i);
      metrics.histogramOf('h2_ms').observe(i);
    }
    expect(seen).toEqual(['counter:a_total{"x":2}', 'counter:b_total{}', 'gauge:g2{}', 'histogram:h2_ms{}']);
    // A removed gauge set again is a new series.
    metrics.removeGauge('g2');
    metrics.setGauge('g2', 1);
    expect(seen.at(-1)).toBe('gauge:g2{}');
  });

  it('forwards each valid observation of a histogram series to its sink, until detached', () => {
    const metrics = new MetricsRegistry();
    const before = metrics.histogramOf('h_ms', { k: 'a' });
    const { observed, listener } = recorder();
    const detach = metrics.attach(listener);
    before.observe(2);
    metrics.observe('h_ms', 3, { k: 'a' });
    metrics.observe('h_ms', 4, { k: 'b' });
    metrics.observe('h_ms', -1, { k: 'a' });
    metrics.observe('h_ms', Number.NaN, { k: 'a' });
    expect(observed).toEqual([['h_ms{"k":"a"}', 2], ['h_ms{"k":"a"}', 3], ['h_ms{"k":"b"}', 4]]);

    detach();
    before.observe(5);
    metrics.observe('h_ms', 6, { k: 'c' });
    expect(observed).toHaveLength(3);
    expect(metrics.snapshot().histograms.map((h) => h.count)).toEqual([3, 1, 1]);
  });

  it('lists live series for reading at collection time, removed gauges excluded', () => {
    const metrics = new MetricsRegistry();
    const hits = metrics.counterOf('hits_total');
    metrics.setGauge('g', 1, { k: 'a' });
    metrics.setGauge('g', 2, { k: 'b' });
    metrics.removeGauge('g', { k: 'a' });
    const [counter] = [...metrics.liveCounters()];
    hits.add(3);
    expect(counter.value).toBe(3);
    expect([...metrics.liveGauges()].map((g) => g.labels)).toEqual([{ k: 'b' }]);
  });

  it('takes one exporter at a time, and another once the first detached', () => {
    const metrics = new MetricsRegistry();
    const detach = metrics.attach(recorder().listener);
    expect(() => metrics.attach(recorder().listener)).toThrow(InvalidArgumentError);
    detach();
    detach();
    const { seen, listener } = recorder();
    metrics.attach(listener);
    metrics.increment('c_total');
    expect(seen).toEqual(['counter:c_total{}']);
  });
});
