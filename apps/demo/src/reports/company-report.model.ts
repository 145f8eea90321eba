/** Channel of the nightly report, published under each company's tenant. */
export const REPORT_GENERATED = 'report.generated';

/** How the runs of one crew (or of the whole company) ended, counted. */
export interface RunCounts {
  /** Runs recorded in the report's day, whatever their end. */
  runs: number;
  succeeded: number;
  failed: number;
  aborted: number;
}

/**
 * The report of one company for the day before `scheduledAt`: the crew runs its history recorded
 * then (`CrewsService.runsBetween`), counted per crew and overall. Published as the payload of
 * `report.generated` and kept as the company's latest (`GET /reports/latest`).
 *
 * @example
 * bus.on<CompanyReport>(REPORT_GENERATED, { tenant: 'acme' }).subscribe(({ payload }) => console.log(payload.runs, payload.fencingToken));
 */
export interface CompanyReport extends RunCounts {
  companyId: string;
  /** Per crew of the company, in seed order (crews without runs included). */
  crews: Array<RunCounts & { crewId: string }>;
  /** Start of the day reported (ISO 8601): `scheduledAt` minus 24 hours. */
  from: string;
  /** The tick this report is for (ISO 8601), the same on every instance: the end of the day reported. */
  scheduledAt: string;
  /** When the instance that ran the tick built it (ISO 8601). */
  generatedAt: string;
  /** The tick's fencing token: higher for every later run of the job, wherever it ran. */
  fencingToken: number;
  /** The instance (`instanceId`) that ran the tick. */
  instanceId: string;
}
