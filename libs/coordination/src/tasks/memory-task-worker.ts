import type { Attempt } from './memory-task-record.js';
import { fromJson } from './memory-task-record.js';
import type { MemoryTaskQueue } from './memory-task-queue.js';
import type { AttemptOutcome, RunningTask, TaskProcessor, TaskWorker, WorkOptions } from './task-backend.interface.js';

/** After a close cut attempts off (aborted their signals), how long it waits for their handlers to settle, ms. */
const CUT_OFF_GRACE_MS = 1_000;

/** An attempt this worker runs, with its signal and its settling. */
interface Run {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/**
 * A worker of MemoryTaskBackend: takes the next ready task of its queue whenever it has fewer
 * than `concurrency` running (woken by the queue when tasks are added, due or retried, and by
 * its own tasks finishing) and hands it to the processor; the resolved value completes the
 * attempt, a rejection fails it (the queue retries it or fails it for good), except after a close
 * cut it off (see close). Each settled attempt is then reported to `options.onSettled` with the
 * processor's duration (real time); an error it throws is dropped, never the worker's.
 *
 * @example
 * const worker = new MemoryTaskWorker(queue, { concurrency: 4 }, async (task) => send(task.payload));
 * await worker.close(10_000);
 */
export class MemoryTaskWorker implements TaskWorker {
  private readonly running = new Map<Attempt, Run>();
  private closing: Promise<void> | null = null;

  constructor(private readonly queue: MemoryTaskQueue, private readonly options: WorkOptions, private readonly processor: TaskProcessor) {
    queue.wakeups.add(this.pump);
  }

  /**
   * Stops taking tasks and waits up to `timeoutMs` (real time) for the running ones; then aborts
   * their signals and waits up to CUT_OFF_GRACE_MS more for them to settle, as RedisTaskWorker
   * does. A cut-off handler that returns completes its task with its value; one that throws hands
   * the task back to waiting without spending the attempt. A task stays active while its handler
   * runs, even past the close (never run twice at once); one that never settles stays active.
   */
  close(timeoutMs: number): Promise<void> {
    return (this.closing ??= this.stop(timeoutMs));
  }

  private readonly pump = (): void => {
    while (!this.closing && this.running.size < this.options.concurrency) {
      const attempt = this.queue.take();
      if (!attempt) return;
      this.run(attempt);
    }
  };

  private run(attempt: Attempt): void {
    const { task } = attempt;
    const controller = new AbortController();
    const running: RunningTask = {
      name: task.name, jobId: task.jobId, tenant: task.tenant, payload: fromJson(task.payload), attempt: attempt.number,
      attempts: task.attempts, enqueuedAtMs: task.enqueuedAtMs, runAtMs: task.runAtMs, startedAtMs: attempt.startedAtMs,
      progress: async (value) => this.queue.progress(attempt, value),
      signal: controller.signal,
      traceparent: task.traceparent,
    };
    const done = (async () => {
      let began = performance.now();
      let outcome: AttemptOutcome | undefined;
      try {
        // A microtask first: the run is registered before a processor that throws at once settles it.
        const result = await Promise.resolve().then(() => {
          began = performance.now();
          return this.processor(running);
        });
        outcome = this.queue.complete(attempt, result);
      } catch (error) {
        outcome = controller.signal.aborted ? this.queue.putBack(attempt) : this.queue.fail(attempt, error);
      } finally {
        this.running.delete(attempt);
        if (outcome) this.settled(running, outcome, performance.now() - began);
        this.pump();
      }
    })();
    this.running.set(attempt, { controller, done });
  }

  private settled(task: RunningTask, outcome: AttemptOutcome, runMs: number): void {
    try {
      this.options.onSettled?.(task, outcome, runMs);
    } catch {
      // A failing observer must not break the worker: the attempt is stored already.
    }
  }

  private async stop(timeoutMs: number): Promise<void> {
    this.queue.wakeups.remove(this.pump);
    if (await this.settledWithin(timeoutMs)) return;
    // Only this worker aborts its controllers, and only here: `aborted` in run() means cut off.
    for (const run of this.running.values()) run.controller.abort(new Error('task worker closed'));
    await this.settledWithin(CUT_OFF_GRACE_MS);
  }

  /** Whether every running attempt settled within `ms` (real time). */
  private async settledWithin(ms: number): Promise<boolean> {
    if (this.running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
    try {
      return await Promise.race([Promise.all([...this.running.values()].map((run) => run.done)).then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
