/** The bullmq module (an optional peer dependency: only the redis driver's task queue needs it). */
export type BullMQ = typeof import('bullmq');

let loading: Promise<BullMQ> | undefined;

/**
 * Imports bullmq on first use, so that an application without it (the memory driver, or no task
 * queue at all) loads the library; the redis driver's first task call then fails with a message
 * that says what to install.
 *
 * @example
 * const { Queue } = await loadBullMQ();
 */
export function loadBullMQ(): Promise<BullMQ> {
  loading ??= import('bullmq').catch((error: unknown) => {
    loading = undefined;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`The task queue on the redis driver runs on BullMQ: install it (npm install bullmq). ${reason}`);
  });
  return loading;
}

/** A BullMQ Worker that can stop its own timers when its close cannot finish (see haltable). */
export type HaltableWorker<D = unknown, R = unknown> = import('bullmq').Worker<D, R, string> & { halt(): void };

/** The constructor of HaltableWorker: BullMQ's Worker's (name, processor, options). */
export type HaltableWorkerClass = new <D, R>(name: string, processor: import('bullmq').Processor<D, R, string>, options: import('bullmq').WorkerOptions) => HaltableWorker<D, R>;

const haltables = new WeakMap<BullMQ, HaltableWorkerClass>();

/**
 * BullMQ's Worker class of `bull` with `halt()`: closes its lock manager (the lock-renewal timer)
 * and pauses it without waiting (the stalled-check timer). For a shutdown whose `close()` hangs
 * because its connection waits to reconnect forever; the worker is unusable afterwards.
 *
 * @example
 * const Worker = haltable(await loadBullMQ());
 * const worker = new Worker('{email.send}', processor, { connection, prefix });
 * worker.halt();
 */
export function haltable(bull: BullMQ): HaltableWorkerClass {
  let Haltable = haltables.get(bull);
  if (!Haltable) {
    Haltable = class extends bull.Worker {
      halt(): void {
        void this.lockManager.close();
        this.pause(true).catch(() => undefined);
      }
    } as HaltableWorkerClass;
    haltables.set(bull, Haltable);
  }
  return Haltable;
}
