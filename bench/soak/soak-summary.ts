import type { AuditReport } from './soak-audit.js';
import type { ChaosEvent } from './soak-chaos.js';
import { acknowledgedRuns, type CheckResult, type RssLevel } from './soak-checks.js';
import type { SoakLedger } from './soak-ledger.js';
import type { SoakOptions } from './soak-options.js';

/** Failures printed per check (the JSON line and summary.json keep them all). */
const SHOWN_FAILURES = 10;

/** The soak's verdict and figures: printed as a table and as one JSON line (`kind: 'soak-summary'`). */
export interface SoakSummary {
  kind: 'soak-summary';
  passed: boolean;
  seed: number;
  durationMs: number;
  logDir: string;
  checks: CheckResult[];
  figures: {
    requests: number;
    /** Answers by status class (`2xx`, `4xx`, ...), and `refused` / `unknown` for requests without one. */
    byClass: Record<string, number>;
    /** Answers per route and status. */
    statuses: Record<string, number>;
    runs: { attempts: number; acknowledged: number; replayed: number; lockHeld: number; rateLimited: number; serverErrors: number; unanswered: number };
    sessions: { logins: number; liveAtEnd: number; loggedOut: number };
    /** Messages received on the event streams users held open. */
    streamMessages: number;
    edits: { sent: number; acknowledged: number };
    chaos: { kills: number; redisPauses: number; redisPausedMs: number };
    rss: RssLevel[];
    /** The three instances' first boot, side by side. */
    bootMs: number;
    /** From the end of the load to the last request in flight answered (or given up on) and the last restart done. */
    tailMs: number;
    /** From then until every acknowledged run was in the history and every task ended (or the deadline). */
    settleMs: number;
    settled: boolean;
  };
}

export interface SummaryInput {
  options: SoakOptions;
  checks: CheckResult[];
  ledger: SoakLedger;
  chaos: readonly ChaosEvent[];
  rss: RssLevel[];
  audit: AuditReport;
  loadStartedAt: number;
  loadEndedAt: number;
  logDir: string;
  bootMs: number;
  tailMs: number;
}

export function summaryJson(input: SummaryInput): SoakSummary {
  const { ledger, chaos, audit } = input;
  const statuses = Object.fromEntries([...ledger.statuses].filter(([key]) => !key.includes('X-Cache')).sort(([a], [b]) => a.localeCompare(b)));
  const byClass: Record<string, number> = {};
  for (const [key, n] of Object.entries(statuses)) {
    const status = key.slice(key.lastIndexOf(' ') + 1);
    const cls = /^\d{3}$/.test(status) ? `${status[0]}xx` : status;
    byClass[cls] = (byClass[cls] ?? 0) + n;
  }
  for (const [key, n] of ledger.statuses) if (key.includes('X-Cache')) statuses[key] = n;
  const runs = ledger.runs;
  const status = (s: number | string, test: (n: number) => boolean): boolean => typeof s === 'number' && test(s);
  return {
    kind: 'soak-summary',
    passed: input.checks.every((c) => c.passed),
    seed: input.options.seed,
    durationMs: input.loadEndedAt - input.loadStartedAt,
    logDir: input.logDir,
    checks: input.checks,
    figures: {
      requests: Object.values(byClass).reduce((a, b) => a + b, 0),
      byClass,
      statuses,
      runs: {
        attempts: runs.length,
        acknowledged: acknowledgedRuns(runs).length,
        replayed: runs.filter((r) => r.replayed).length,
        lockHeld: runs.filter((r) => r.status === 409 && r.code === 'E_LOCK_TIMEOUT').length,
        rateLimited: runs.filter((r) => r.status === 429).length,
        serverErrors: runs.filter((r) => status(r.status, (n) => n >= 500)).length,
        unanswered: runs.filter((r) => typeof r.status !== 'number').length,
      },
      sessions: {
        logins: ledger.sessions.length,
        liveAtEnd: ledger.sessions.filter((s) => s.state === 'live').length,
        loggedOut: ledger.sessions.filter((s) => s.state === 'ended').length,
      },
      streamMessages: ledger.streamMessages,
      edits: { sent: ledger.edits.length, acknowledged: ledger.edits.filter((e) => status(e.status, (n) => n < 300)).length },
      chaos: {
        kills: chaos.filter((e) => e.kind === 'kill').length,
        redisPauses: chaos.filter((e) => e.kind === 'redis-pause').length,
        redisPausedMs: chaos.filter((e) => e.kind === 'redis-pause').reduce((sum, e) => sum + ((e.endedAt ?? e.at) - e.at), 0),
      },
      rss: input.rss,
      bootMs: input.bootMs,
      tailMs: input.tailMs,
      settleMs: audit.settleMs,
      settled: audit.settled,
    },
  };
}

/** The summary as a person reads it: the figures, then each check with its failures. */
export function renderSummary(summary: SoakSummary): string {
  const f = summary.figures;
  const lines = [
    '',
    `Chaos soak: ${(summary.durationMs / 1000).toFixed(0)} s, seed ${summary.seed}: ${summary.passed ? 'PASSED' : 'FAILED'}`,
    `  requests   ${f.requests} (${Object.entries(f.byClass).map(([k, n]) => `${k} ${n}`).join(', ')})`,
    `  crew runs  ${f.runs.attempts} attempts, ${f.runs.acknowledged} answered 2xx, ${f.runs.replayed} replays, ${f.runs.lockHeld} lock held (409), ${f.runs.rateLimited} rate-limited (429), ${f.runs.serverErrors} 5xx, ${f.runs.unanswered} unanswered`,
    `  sessions   ${f.sessions.logins} logins, ${f.sessions.loggedOut} logged out, ${f.sessions.liveAtEnd} live at the end`,
    `  edits      ${f.edits.sent} sent, ${f.edits.acknowledged} answered 200`,
    `  streams    ${f.streamMessages} messages received on the event streams held open`,
    `  chaos      ${f.chaos.kills} instances killed and restarted, Redis paused ${f.chaos.redisPauses} times (${(f.chaos.redisPausedMs / 1000).toFixed(1)} s in all)`,
    `  RSS        ${f.rss.map((l) => `${l.instance} ${mib(l.baselineKb)} -> ${mib(l.finalKb)} MiB (${signed(l.change)}, lived ${Math.round(l.livedMs / 1000)} s)`).join('; ') || 'none measured'}`,
    `  timing     boot ${(f.bootMs / 1000).toFixed(1)} s; after the load: requests in flight ${(f.tailMs / 1000).toFixed(1)} s, then ${f.settled ? 'settled' : 'still not settled'} after ${(f.settleMs / 1000).toFixed(1)} s`,
    '',
  ];
  for (const check of summary.checks) {
    lines.push(`  ${check.passed ? 'ok  ' : 'FAIL'} ${check.name}: ${check.summary}`);
    for (const failure of check.failures.slice(0, SHOWN_FAILURES)) lines.push(`         - ${failure}`);
    if (check.failures.length > SHOWN_FAILURES) lines.push(`         ... and ${check.failures.length - SHOWN_FAILURES} more (${summary.logDir}/summary.json)`);
  }
  lines.push('', `  logs: ${summary.logDir}`, '');
  return lines.join('\n');
}

const mib = (kb: number): string => (kb / 1024).toFixed(0);
const signed = (fraction: number): string => `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(1)} %`;
