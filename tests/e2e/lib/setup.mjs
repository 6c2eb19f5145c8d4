// What the journey needs around the browser: the server's address, an API client for
// the arrange steps, headless Chromium, screenshots and curl.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

export const BASE = (process.env.GATEHOUSE_URL || 'http://127.0.0.1:2342').replace(/\/$/, '');
/** The same server for Node's own requests: `localhost` may resolve to ::1 first while
 * the server listens on 127.0.0.1 (the browser tries both). */
export const API_BASE = BASE.replace(/^http:\/\/localhost(?=[:/]|$)/, 'http://127.0.0.1');
export const ADMIN_PASSWORD = process.env.GATEHOUSE_ADMIN_PASSWORD || '';
export const SHOTS = process.env.E2E_SCREENSHOTS || resolve(here, '../../../target/e2e-screenshots');

/** Calls the JSON API with a bearer token (no cookie, so no CSRF token needed). */
export async function api(method, path, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(API_BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = null; }
  return { status: resp.status, body: json, text };
}

/** Headless Debian Chromium, never a downloaded browser; Playwright starts it with a fresh,
 * empty --user-data-dir of its own. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
    ],
  });
}

let shotNo = 0;
/** Saves a screenshot as target/e2e-screenshots/NN-name.png: the whole page, or with
 * `{ dialog: true }` the viewport (a modal dialog's backdrop covers only that). */
export async function screenshot(page, name, { dialog = false } = {}) {
  mkdirSync(SHOTS, { recursive: true });
  shotNo += 1;
  const file = join(SHOTS, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: !dialog });
  return file;
}

/** Runs curl and returns `{ status, body }`. */
export function curl(args) {
  const out = execFileSync('curl', ['-s', '-S', '-o', '-', '-w', '\n%{http_code}', ...args], { encoding: 'utf8' });
  const cut = out.lastIndexOf('\n');
  return { body: out.slice(0, cut), status: Number(out.slice(cut + 1)) };
}
