import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { send } from './soak-http.js';

/** How long an instance may take to answer `GET /health` after it was started. */
const BOOT_TIMEOUT_MS = 60_000;

/** One process of a demo instance, from its start to its end: what the RSS rule is applied to. */
export interface Incarnation {
  instance: string;
  pid: number;
  startedAt: number;
  /** When it first answered `GET /health` with 200. */
  readyAt?: number;
  endedAt?: number;
  /** `sigkill`: the chaos killed it; `stop`: the soak stopped it at the end; `exit`: it ended on its own (a crash). */
  endedBy?: 'sigkill' | 'stop' | 'exit';
  exitCode?: number | null;
  /** [ms since the epoch, VmRSS in kB], sampled every second while it runs. */
  rss: Array<[number, number]>;
}

/** How a demo instance is started: the real `main.js`, its port and environment. */
export interface InstanceSpec {
  name: string;
  port: number;
  mainPath: string;
  env: NodeJS.ProcessEnv;
  logPath: string;
}

/**
 * One demo instance of the soak: started as its own node process running the built demo
 * (`dist/apps/demo/src/main.js`), killed with SIGKILL and started again by the chaos, on the same
 * port and under the same `COORD_INSTANCE_ID`, as a supervisor would restart a crashed replica.
 */
export class DemoInstance {
  readonly incarnations: Incarnation[] = [];
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private ready = false;
  /** Called when a process ends that nobody killed or stopped. */
  onUnexpectedExit?: (incarnation: Incarnation) => void;

  constructor(readonly spec: InstanceSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get port(): number {
    return this.spec.port;
  }

  /** Whether it runs and answered its health check: requests are sent to it. */
  get up(): boolean {
    return this.ready && this.child !== undefined;
  }

  get current(): Incarnation | undefined {
    const last = this.incarnations.at(-1);
    return last?.endedAt === undefined ? last : undefined;
  }

  /** Starts a process and waits until it answers `GET /health` with 200. */
  async start(): Promise<Incarnation> {
    if (this.child) throw new Error(`${this.name} is already running`);
    const log = openSync(this.spec.logPath, 'a');
    const child = spawn(process.execPath, [this.spec.mainPath], { env: this.spec.env, stdio: ['ignore', log, log] });
    closeSync(log);
    const incarnation: Incarnation = { instance: this.name, pid: child.pid ?? -1, startedAt: Date.now(), rss: [] };
    this.incarnations.push(incarnation);
    this.child = child;
    this.exited = new Promise((done) => child.once('exit', (code) => {
      incarnation.endedAt ??= Date.now();
      incarnation.exitCode = code;
      if (incarnation.endedBy === undefined) {
        incarnation.endedBy = 'exit';
        this.onUnexpectedExit?.(incarnation);
      }
      if (this.child === child) {
        this.child = undefined;
        this.ready = false;
      }
      done();
    }));
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    while (this.child === child) {
      const outcome = await send({ port: this.port, method: 'GET', path: '/health', timeoutMs: 2_000 });
      if (outcome.kind === 'answered' && outcome.answer.status === 200) {
        incarnation.readyAt = Date.now();
        this.ready = true;
        return incarnation;
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`${this.name} did not answer GET /health within ${BOOT_TIMEOUT_MS} ms (see ${this.spec.logPath})`);
      }
      await sleep(100);
    }
    throw new Error(`${this.name} exited while starting (code ${incarnation.exitCode}; see ${this.spec.logPath})`);
  }

  /** SIGKILL: a crash, nothing shut down, connections reset. Resolves once the process is gone. */
  kill(): Promise<void> {
    return this.end('SIGKILL', 'sigkill');
  }

  /** SIGTERM (the demo's graceful shutdown), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const exited = this.exited;
    const stopping = this.end('SIGTERM', 'stop');
    const done = await Promise.race([stopping.then(() => true), sleep(10_000).then(() => false)]);
    if (!done && this.child) {
      this.child.kill('SIGKILL');
      await exited;
    }
  }

  /** Samples the current process's VmRSS (`/proc/<pid>/status`), if it runs. */
  sampleRss(now = Date.now()): void {
    const incarnation = this.current;
    if (!incarnation || !this.ready) return;
    const kb = vmRssKb(incarnation.pid);
    if (kb !== undefined) incarnation.rss.push([now, kb]);
  }

  private async end(signal: NodeJS.Signals, endedBy: Incarnation['endedBy']): Promise<void> {
    const child = this.child;
    const incarnation = this.current;
    if (!child || !incarnation) return;
    this.ready = false;
    incarnation.endedBy = endedBy;
    incarnation.endedAt = Date.now();
    child.kill(signal);
    await this.exited;
  }
}

/** VmRSS of a process in kB, from `/proc/<pid>/status`; undefined once it is gone. */
export function vmRssKb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
