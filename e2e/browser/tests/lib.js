// Shared helpers for the browser journeys: launch Debian's Chromium headless.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { after } from 'node:test';

export const BASE = process.env.SLIPWAY_URL;
export const SHOTS = new URL('../screenshots/', import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });

// The Content-Security-Policy refuses inline script and style: whatever a page
// (or htmx) tries that the policy blocks is a console error, collected from
// every page a journey opens, and fails the file once its journeys are done
// (after their browsers are closed, so none is left running).
const cspViolations = [];
after(() => {
  if (cspViolations.length > 0) {
    throw new Error(`Content-Security-Policy violations:\n${cspViolations.join('\n')}`);
  }
});

export async function launch() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(15000);
  page.on('console', (message) => {
    if (message.type() === 'error' && message.text().includes('Content Security Policy')) {
      cspViolations.push(`${page.url()}: ${message.text()}`);
    }
  });
  return { browser, page };
}

export async function login(page, email, password) {
  await page.goto(`${BASE}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(`${BASE}/`), page.click('button[type=submit]')]);
}
