import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { INestApplication } from '@nestjs/common';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import request from 'supertest';
import { SESSION_COOKIE } from '../../apps/demo/src/demo.config.js';
import { DEMO_BACKENDS, bootDemo } from './demo-test-app.js';

/**
 * A switch chromium ignores, naming the browser this file starts: a launch that fails (its
 * `timeout` passed) may leave the process it started running, and `killLeftovers` finds it by it.
 */
const MARKER = `--nest-coordination-dashboard-test=${process.pid}-${Date.now()}`;

/** Debian's chromium (scripts/ensure-test-tools.sh installs it), headless, with nothing running in the background. */
const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  headless: true,
  timeout: 20_000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', MARKER],
};

/** Booting the demo and launching the browser (each bounded on its own: the demo by its connect timeout, the browser by `CHROMIUM.timeout`). */
const SETUP_TIMEOUT_MS = 60_000;

/** Where the screenshot goes: a test artifact always, and the README's with UPDATE_SCREENSHOTS=1. */
const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const DOCS_DIR = fileURLToPath(new URL('../../docs/', import.meta.url));

/** A laptop screen. */
const VIEWPORT = { width: 1440, height: 900 };

/** Generous bounds on what the page must show: they catch a page that never shows it, not a slow one. */
const SHOWN = { timeout: 15_000 };

/**
 * Kills the process groups of the browsers this file started that are still running. After a
 * failed launch playwright hands back no Browser to close; its own clean-up waits minutes for the
 * browser to close gracefully, or for an `exit` of the process that Jest's sandbox may not pass
 * on. Playwright starts the browser as the leader of its own process group: killing the group
 * ends its helper processes too.
 */
function killLeftovers(): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let commandLine: string[];
    try {
      commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (!commandLine.includes(MARKER)) continue;
    const pid = Number(entry);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

const lockRow = (key: string) => `#locks tbody tr[data-lock-key="${key}"]`;

/** The text of a whole number of at least 2. */
const TWO_OR_MORE = /^([2-9]|[1-9]\d+)$/;

describe('demo dashboard in headless Chromium (standalone Redis)', () => {
  // The redis driver, so that the locks shown are the fleet's (LockService.inspect).
  const driver = DEMO_BACKENDS.find((d) => d.name === 'standalone')!;
  let app: INestApplication | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  /** Script errors and Content Security Policy violations of the page: there must be none. */
  const pageProblems: string[] = [];

  beforeAll(async () => {
    let port: number;
    ({ app, port } = await bootDemo(driver));
    // Set before anything can fail: afterAll closes whatever was started.
    browser = await chromium.launch(CHROMIUM);
    context = await browser.newContext({ viewport: VIEWPORT, baseURL: `http://127.0.0.1:${port}` });
    page = await context.newPage();
    page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (/content security policy/i.test(message.text())) pageProblems.push(`console: ${message.text()}`);
    });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    // The browser first: its open event stream would otherwise hold up the application's close.
    // The application closes even when closing the browser fails, and no browser is left running.
    try {
      await browser?.close();
    } finally {
      killLeftovers();
      await app?.close();
    }
  });

  it('tells a visitor without a session that they are not logged in, with a login form, rather than a blank page', async () => {
    await page.goto('/dashboard');
    await page.waitForSelector('#login:not([hidden])', SHOWN);
    expect(await page.textContent('#login h2')).toBe('You are not logged in');
    expect(await page.isVisible('#login-form button[type=submit]')).toBe(true);
    expect(await page.isHidden('#board')).toBe(true);
    expect(pageProblems).toEqual([]);
  });

  it("logs in from the page and shows the company's dashboard, Redis health included", async () => {
    await page.fill('#login-form input[name=userId]', 'u-ada');
    await page.fill('#login-form input[name=companyId]', 'acme');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#board:not([hidden])', SHOWN);

    expect(await page.textContent('h1')).toBe('Coordination dashboard');
    const headings = await page.$$eval('#board h2', (nodes) => nodes.map((node) => node.firstChild?.textContent?.trim()));
    expect(headings).toEqual(['Locks', 'Redis', 'Rate limits', 'Cache', 'Sessions', 'Queues', 'Streams']);
    expect(await page.textContent('#who')).toBe('Company acme');
    await page.locator('#redis-status', { hasText: /^up$/ }).waitFor(SHOWN);
    expect(await page.textContent('#redis-breaker')).toBe('closed');
    // The connection's background PING (every 5 s) gives the latency.
    await page.locator('#redis-ping', { hasText: /^\d+\.\d ms$/ }).waitFor(SHOWN);
    // The event stream is open (EventSource sent the session cookie).
    await page.locator('#live', { hasText: /^live$/ }).waitFor(SHOWN);
    expect(Number(await page.textContent('#sessions-active'))).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#queues tbody')).toContain('crew.agent-step');
    expect(pageProblems).toEqual([]);
  });

  it('shows a crew run started by HTTP as a held lock with its fencing token, drops it when the run ends, and saves a screenshot', async () => {
    // Some traffic for the panels, with the page's own session (the context's cookie): agent calls
    // until two are denied (a burst of 5 passes, refilled 2 a second), and a cached crew read twice.
    let denied = 0;
    for (let i = 0; i < 50 && denied < 2; i++) {
      if ((await page.request.post('/crews/support-triage/agents/a-3/calls')).status() === 429) denied += 1;
    }
    expect(denied).toBe(2);
    await page.request.get('/crews/market-research');
    await page.request.get('/crews/market-research');
    await page.locator('#decisions-denied', { hasText: TWO_OR_MORE }).waitFor(SHOWN);
    await page.locator('#violations-total', { hasText: TWO_OR_MORE }).waitFor(SHOWN);

    // Two runs that hold their crews' locks for the 4 s their agents work.
    const run = page.request.post('/crews/market-research/runs?durationMs=4000');
    const other = page.request.post('/crews/support-triage/runs?durationMs=4000');
    const row = await page.waitForSelector(lockRow('crew-run:market-research'), SHOWN);
    const shownToken = await row.getAttribute('data-fencing-token');
    await page.waitForSelector(lockRow('crew-run:support-triage'), SHOWN);
    // Held here (a snapshot taken on the lock event itself may come before this instance has listed the lock).
    await page.locator(lockRow('crew-run:market-research'), { hasText: 'this instance' }).waitFor(SHOWN);
    await page.locator(lockRow('crew-run:support-triage'), { hasText: 'this instance' }).waitFor(SHOWN);

    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS_DIR}dashboard.png`, fullPage: true });
    if (process.env.UPDATE_SCREENSHOTS === '1') {
      mkdirSync(DOCS_DIR, { recursive: true });
      await page.screenshot({ path: `${DOCS_DIR}dashboard.png`, fullPage: true });
    }

    const answer = await run;
    expect(answer.status()).toBe(201);
    const { fencingToken } = (await answer.json()) as { fencingToken: number };
    expect(shownToken).toBe(String(fencingToken));
    expect((await other).status()).toBe(201);
    await page.waitForSelector(lockRow('crew-run:market-research'), { ...SHOWN, state: 'detached' });
    await page.waitForSelector(lockRow('crew-run:support-triage'), { ...SHOWN, state: 'detached' });
    expect(await page.isVisible('#locks-empty')).toBe(true);
    expect(pageProblems).toEqual([]);
  }, 60_000);

  it('goes back to the login form when its session is ended elsewhere (logout everywhere)', async () => {
    await page.locator('#live', { hasText: /^live$/ }).waitFor(SHOWN);
    // From another device, which knows the session (its cookie) but leaves the page's cookie as it is.
    const cookie = (await context.cookies()).find((c) => c.name === SESSION_COOKIE);
    expect(cookie).toBeDefined();
    await request(app!.getHttpServer()).post('/auth/logout-everywhere').set('cookie', `${cookie!.name}=${cookie!.value}`).expect(200);
    await page.waitForSelector('#login:not([hidden])', SHOWN);
    expect(await page.textContent('#who')).toBe('Your session has ended or is not valid.');
    expect(await page.isHidden('#board')).toBe(true);
    expect(pageProblems).toEqual([]);
  });
});
