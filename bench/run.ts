/**
 * `npm run bench [-- <substring>...]`: runs every benchmark group (or those whose name
 * contains one of the substrings, case-insensitive) against one private redis-server,
 * prints a table per group (speed, and per op: bytes to / from Redis, node and Redis CPU µs)
 * and appends the results to bench/RESULTS.md.
 *
 * Env: BENCH_SECONDS (measured seconds per case, default 3), BENCH_CONCURRENCY (default 50),
 * BENCH_WARMUP_SECONDS (default 0.5), BENCH_REDIS_URL (use this server instead; it is FLUSHALLed),
 * BENCH_RESULTS (file to append to, default bench/RESULTS.md; "-" to not record).
 */
import { resolve } from 'node:path';
import { suites } from './cases/index.js';
import type { BenchCase, BenchGroupOptions } from './harness/types.js';
import { openBenchRedis } from './harness/redis.js';
import { checkGroupOptions, runGroup, settingsFromEnv } from './harness/runner.js';
import { appendResults, renderGroup, renderRunHeader } from './harness/report.js';

interface Group {
  name: string;
  cases: BenchCase[];
  options?: BenchGroupOptions;
}

function collectGroups(): Group[] {
  const groups = new Map<string, Group>();
  for (const suite of suites) {
    for (const c of suite.cases) {
      const group = groups.get(c.group) ?? { name: c.group, cases: [] };
      if (group.cases.some((other) => other.name === c.name)) {
        throw new Error(`duplicate case "${c.name}" in group "${c.group}"`);
      }
      group.cases.push(c);
      groups.set(c.group, group);
    }
  }
  for (const suite of suites) {
    for (const options of suite.groups ?? []) {
      const group = groups.get(options.name);
      if (!group) throw new Error(`group options for "${options.name}", which has no cases`);
      checkGroupOptions(options);
      group.options = options;
    }
  }
  return [...groups.values()];
}

async function main(): Promise<void> {
  const settings = settingsFromEnv();
  const filters = process.argv.slice(2);
  const all = collectGroups();
  const selected = all.filter(
    (g) => filters.length === 0 || filters.some((f) => g.name.toLowerCase().includes(f.toLowerCase())),
  );
  const probes = suites
    .flatMap((suite) => suite.probes ?? [])
    .filter((p) => filters.length === 0 || filters.some((f) => p.name.toLowerCase().includes(f.toLowerCase())));
  if (selected.length === 0 && probes.length === 0) {
    console.error(`no group matches ${JSON.stringify(filters)}; groups:\n  ${all.map((g) => g.name).join('\n  ')}`);
    process.exitCode = 1;
    return;
  }

  const redis = await openBenchRedis();
  const stop = () => void redis.close().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const sections: string[] = [];
  let missed = 0;
  try {
    console.log(`redis-server ${redis.version} at ${redis.url}; ${settings.seconds} s per case, concurrency ${settings.concurrency}\n`);
    for (const group of selected) {
      console.log(`${group.name}`);
      const ctx = { redisUrl: redis.url, redisHost: redis.host, redisPort: redis.port };
      const runs = await runGroup(group.cases, group.options, settings, ctx, redis);
      const concurrency = group.options?.concurrency ?? settings.concurrency;
      const section = renderGroup(group.name, group.cases, runs, group.options, concurrency);
      console.log(`\n${section.text}\n`);
      sections.push(section.text);
      missed += section.missed;
    }
    for (const probe of probes) {
      console.log(`${probe.name}`);
      await redis.flushAll();
      const ctx = { redisUrl: redis.url, redisHost: redis.host, redisPort: redis.port, concurrency: 1 };
      const section = await probe.run(ctx);
      const text = `### ${probe.name}\n\n${section.text}`;
      console.log(`\n${text}\n`);
      sections.push(text);
      missed += section.missed;
    }
  } finally {
    await redis.close();
  }

  const file = process.env.BENCH_RESULTS ?? resolve('bench/RESULTS.md');
  if (file !== '-') {
    const header = renderRunHeader({
      redisVersion: redis.version,
      redisSource: redis.source,
      seconds: settings.seconds,
      warmupSeconds: settings.warmupSeconds,
      concurrency: settings.concurrency,
      filters,
    });
    await appendResults(file, header, sections);
    console.log(`appended to ${file}`);
  }
  if (missed > 0) console.log(`${missed} target(s) MISSED`);
}

// Exit explicitly: a case that leaks a handle must not keep the run alive.
main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
