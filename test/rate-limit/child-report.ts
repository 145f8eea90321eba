import type { ChildProcess } from 'node:child_process';

/**
 * Follows a forked rate-limit child: `ready` once it sends 'ready' (booted, about to start), then
 * `report` with its next message. Both reject if the child fails or exits non-zero first.
 *
 * @example
 * const { ready, report } = childReport<{ admitted: number[] }>(fork(CHILD, args));
 */
export function childReport<Report>(child: ChildProcess): { ready: Promise<void>; report: Promise<Report> } {
  let onReady!: () => void;
  let failed!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    failed = reject;
  });
  const report = new Promise<Report>((resolve, reject) => {
    child.on('message', (message) => (message === 'ready' ? onReady() : resolve(message as Report)));
    const fail = (error: Error) => {
      failed(error);
      reject(error);
    };
    child.once('error', fail);
    child.once('exit', (code) => (code === 0 ? undefined : fail(new Error(`child exited with ${code}`))));
  });
  report.catch(() => undefined);
  return { ready, report };
}
