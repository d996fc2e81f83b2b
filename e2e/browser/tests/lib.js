// Shared helpers for the browser journeys: launch Debian's Chromium headless.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after } from 'node:test';
import assert from 'node:assert/strict';

export const BASE = process.env.SLIPWAY_URL;
export const SHOTS = new URL('../screenshots/', import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });

// The Content-Security-Policy refuses inline script and style: whatever a page
// (or htmx) tries that the policy blocks is a console error, collected from
// every page a journey opens, and fails the file once its journeys are done
// (after their browsers are closed, so none is left running).
const cspViolations = [];
// Likewise a page's own asset that is missing (a stylesheet, a script, an
// image): a 404 the user never sees but every page view pays for. Documents
// and htmx requests are left to the journeys, which sometimes mean to be
// refused. (Chromium's favicon request is not reported to playwright: the
// icon is checked by server/tests/it/foundation.rs.)
const missingAssets = [];
after(() => {
  if (cspViolations.length > 0) {
    throw new Error(`Content-Security-Policy violations:\n${cspViolations.join('\n')}`);
  }
  if (missingAssets.length > 0) {
    throw new Error(`missing assets:\n${missingAssets.join('\n')}`);
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
  page.on('response', (response) => {
    const kind = response.request().resourceType();
    if (response.status() === 404 && !['document', 'xhr', 'fetch'].includes(kind)) {
      missingAssets.push(`${page.url()}: ${kind} ${response.url()}`);
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

// The page fits its window: nothing (a long image reference, a diff line)
// pushes it past the right edge, so there is no horizontal scroll.
export async function assertNoHorizontalScroll(page, what) {
  const { scroll, width, widest } = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    let widest = '';
    for (const el of document.querySelectorAll('body *')) {
      if (el.getBoundingClientRect().right > width + 1) {
        widest = `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className}`;
        break;
      }
    }
    return { scroll: document.documentElement.scrollWidth, width, widest };
  });
  if (scroll > width) {
    throw new Error(`${what}: ${scroll} px wide in a ${width} px window (first past the edge: ${widest})`);
  }
}

// Accessibility: axe-core (from npm) checks the page as it is now; a serious
// or critical violation fails the journey with what and where. axe runs in
// the page through the DevTools protocol (page.evaluate), which the page's
// CSP does not govern, so the portal's own policy stays as strict as it is.
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export async function assertAccessible(page, what) {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${(n.failureSummary || '').split('\n').slice(1, 2).join('').trim()}`).join('\n    ')}`);
  });
  if (found.length > 0) {
    throw new Error(`${what}: accessibility violations (axe-core):\n  ${found.join('\n  ')}`);
  }
}

// A journey's screenshot of a page, after the page passes the accessibility
// check: every page a journey shows is checked.
export async function shot(page, name) {
  await assertAccessible(page, name);
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

// The production journeys' steps (approvals, clusters): a FastAPI service of
// shop that production can take, and its deploy request there.

/// Creates `shop/NAME` from the FastAPI preset as the member.
export async function productionReadyService(page, name) {
  await page.goto(`${BASE}/services/new?team=shop`);
  await page.fill('input[name=name]', name);
  await page.check('input[value=fastapi]');
  await Promise.all([page.waitForURL(`${BASE}/services/shop/${name}`), page.click('button:has-text("Create service")')]);
}

/// Saves revision 2 without the starter's DATABASE_URL (whose Secret
/// production does not have): a service without a database.
export async function makeProductionReady(page, name) {
  await page.goto(`${BASE}/services/shop/${name}/edit`);
  const spec = await page.inputValue('textarea[name=spec]');
  const ready = spec.replace(/  env:\n    - name: DATABASE_URL\n      secret: \{[^}]*\}\n/, '');
  assert.notEqual(ready, spec, spec);
  await page.fill('textarea[name=spec]', ready);
  await page.fill('input[name=message]', 'No database yet');
  await Promise.all([page.waitForURL(/\/diff\?from=1&to=2/), page.click('button:has-text("Save revision")')]);
}

/// Asks for a deploy of `shop/NAME` to production from the service page's deploy panel.
export async function requestProduction(page, name, image) {
  await page.goto(`${BASE}/services/shop/${name}`);
  await page.selectOption('#deploy-panel select[name=environment]', 'production');
  await page.fill('#deploy-panel input[name=image]', image);
  await page.click('#deploy-panel button:has-text("Deploy")');
}
