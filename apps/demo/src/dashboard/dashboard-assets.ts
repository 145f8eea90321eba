import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Injectable } from '@nestjs/common';

/**
 * Where the page's static files are: `apps/demo/public/dashboard/`, next to `src/` (from the
 * sources, as the tests run them) or next to the compiled `src/` in `dist/apps/demo/` (where
 * `npm run build` copies them: scripts/copy-demo-assets.mjs).
 */
export const DASHBOARD_ASSETS_DIR = fileURLToPath(new URL('../../public/dashboard/', import.meta.url));

/** The files of the page, by the name `GET /dashboard/<name>` serves them under (the page itself is `index.html`). */
export const DASHBOARD_FILES = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
} as const;

/** A file name of `DASHBOARD_FILES`. */
export type DashboardFile = keyof typeof DASHBOARD_FILES;

/**
 * The dashboard page's static files, read once at boot (a few kilobytes): a missing one fails
 * the boot naming its path, not the first request.
 *
 * @example
 * const html = assets.file('index.html');
 */
@Injectable()
export class DashboardAssets {
  private readonly files = new Map<DashboardFile, string>();

  constructor() {
    for (const name of Object.keys(DASHBOARD_FILES) as DashboardFile[]) {
      const path = DASHBOARD_ASSETS_DIR + name;
      try {
        this.files.set(name, readFileSync(path, 'utf8'));
      } catch (error) {
        throw new Error(`The dashboard page's file ${path} could not be read (npm run build copies apps/demo/public to dist/apps/demo/public): ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  /** The text of one file. */
  file(name: DashboardFile): string {
    return this.files.get(name)!;
  }
}
