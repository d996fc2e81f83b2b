// Every page of the portal, not only those a journey happens to screenshot:
// each answers 200, passes axe-core (no serious or critical violation) and
// has no horizontal scroll at 1280 px and at 390 px, signed in as an
// administrator who is also a member (so the team's own pages show every
// control), plus the sign-in page signed out. The list is every GET page
// route of server/src/web; a route added without a line here is a page nobody
// checked, which the last assertion catches by reading the routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { BASE, assertAccessible, assertNoHorizontalScroll, launch, login } from './lib.js';

const CLUSTER = process.env.SLIPWAY_KUBECONFIG_PRESENT === '1';
const SERVICE = 'every-page';
const S = `/services/shop/${SERVICE}`;

// GET routes that are not pages: redirects, htmx fragments, streams, the
// provider's callback. Each with why it is not in the sweep.
const NOT_PAGES = new Map([
  ['/favicon.ico', 'a redirect to the icon'],
  ['/auth/oidc/start', 'a redirect to the identity provider'],
  ['/auth/oidc/callback', 'the provider\'s return, refused without its state'],
  ['/services/{team}/{service}/status', 'the live status fragment, checked inside the service page'],
  ['/services/{team}/{service}/logs/follow', 'a log stream'],
  ['/services/{team}/{service}/deploy-panel', 'the deploy panel fragment, checked inside the service page'],
  ['/admin/notifications/{id}', 'a notification target (needs a reachable receiver; its form is the list page\'s)'],
]);

function pageRoutes() {
  const dir = new URL('../../../server/src/web/', import.meta.url).pathname;
  const routes = new Set();
  for (const file of readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.rs'))) {
    const text = readFileSync(dir + file, 'utf8');
    for (const m of text.matchAll(/\.route\(\s*"([^"]+)",\s*get\(/g)) routes.add(m[1]);
  }
  return [...routes].filter((r) => !/^\/(api|hooks|static|healthz|readyz|metrics)/.test(r));
}

test('every page answers 200, passes axe-core and fits 1280 px and 390 px', async () => {
  const { browser, page } = await launch();
  try {
    await login(page, 'admin@slipway.test', 'browser-journey-pass-1');
    // What the pages show: a service with two revisions, a deploy and a hook.
    await page.goto(`${BASE}/services/new?team=shop`);
    await page.fill('input[name=name]', SERVICE);
    await page.check('input[value=fastapi]');
    await Promise.all([page.waitForURL(`${BASE}${S}`), page.click('button:has-text("Create service")')]);
    await page.goto(`${BASE}${S}/edit`);
    const spec = await page.inputValue('textarea[name=spec]');
    await page.fill('textarea[name=spec]', spec.replace(/:0\.1\.0/, ':0.2.0'));
    await page.fill('input[name=message]', 'A second revision to diff');
    await Promise.all([page.waitForURL(/diff\?from=1&to=2/), page.click('button:has-text("Save revision")')]);
    await page.goto(`${BASE}${S}`);
    await page.selectOption('#deploy-panel select[name=environment]', 'development');
    await Promise.all([page.waitForURL(/\/deploys\/\d+$/), page.click('#deploy-panel button:has-text("Deploy")')]);
    const deploy = page.url().split('/').pop();
    await page.goto(`${BASE}${S}/hooks`);
    await page.selectOption('select[name=environment]', 'development');
    await page.fill('input[name=ref]', 'refs/heads/main');
    await page.fill('input[name=image]', 'registry.example.com/every-page:{sha}');
    await page.click('button:has-text("Create hook")');
    await page.waitForSelector('text=Hook created');
    const hook = (await page.inputValue('input[aria-label="payload URL"]')).split('/hooks/')[1];

    const pages = new Map([
      ['/', '/'], ['/services/new', '/services/new'], ['/account', '/account'],
      ['/deploys', '/deploys'], ['/deploys/{id}', `/deploys/${deploy}`], ['/approvals', '/approvals'],
      ['/services/{team}/{service}', S], ['/services/{team}/{service}/edit', `${S}/edit`],
      ['/services/{team}/{service}/revisions', `${S}/revisions`],
      ['/services/{team}/{service}/revisions/{number}', `${S}/revisions/1`],
      ['/services/{team}/{service}/diff', `${S}/diff?from=1&to=2`],
      ['/services/{team}/{service}/manifests', `${S}/manifests?env=production`],
      ['/services/{team}/{service}/wiring', `${S}/wiring?env=production`],
      ['/services/{team}/{service}/history', `${S}/history`],
      ['/services/{team}/{service}/hooks', `${S}/hooks`],
      ['/services/{team}/{service}/hooks/{id}', `${S}/hooks/${hook}`],
      ['/admin', '/admin'], ['/admin/users', '/admin/users'], ['/admin/tokens', '/admin/tokens'],
      ['/admin/teams', '/admin/teams'], ['/admin/teams/{team}', '/admin/teams/shop'],
      ['/admin/environments', '/admin/environments'],
      ['/admin/environments/{name}', '/admin/environments/production'],
      ['/admin/environments/{name}/freeze', '/admin/environments/production/freeze'],
      ['/admin/environments/{name}/quota', '/admin/environments/production/quota'],
      ['/admin/cluster', '/admin/cluster'], ['/admin/clusters', '/admin/clusters'], ['/admin/clusters/{name}', '/admin/clusters/default'], ['/admin/namespaces', '/admin/namespaces'],
      ['/admin/tenancy', '/admin/tenancy'], ['/admin/sso', '/admin/sso'],
      ['/admin/notifications', '/admin/notifications'], ['/admin/audit', '/admin/audit'],
      ['/login', null],
    ]);
    // Logs and drift ask the cluster; without one they say it is unavailable.
    if (CLUSTER) {
      // A pod's log, from its link in the live status once the deploy ran.
      await page.goto(`${BASE}/deploys/${deploy}`);
      await page.waitForSelector('#deploy-state.succeeded', { timeout: 120000 });
      await page.goto(`${BASE}${S}?env=development`);
      const pod = page.locator('#live-status a[href*="/logs?"]').first();
      await pod.waitFor({ timeout: 30000 });
      pages.set('/services/{team}/{service}/logs', await pod.getAttribute('href'));
      pages.set('/services/{team}/{service}/drift', `${S}/drift?env=development`);
    } else {
      NOT_PAGES.set('/services/{team}/{service}/logs', 'needs the cluster');
      NOT_PAGES.set('/services/{team}/{service}/drift', 'needs the cluster');
    }

    const check = async (path, what) => {
      const response = await page.goto(`${BASE}${path}`);
      assert.equal(response.status(), 200, `${what}: ${path} answered ${response.status()}`);
      await assertAccessible(page, `${what} (${path})`);
      await assertNoHorizontalScroll(page, `${what} (${path})`);
    };
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 860 });
      for (const [route, path] of pages) {
        if (path) await check(path, `${route} at ${width} px`);
      }
    }
    await Promise.all([page.waitForURL(/\/login/), page.click('button:has-text("Sign out")')]);
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 860 });
      await check('/login', `/login signed out at ${width} px`);
    }

    // Both ways: every route is checked or said not to be a page, and every
    // line here is a route (so a reader that found no routes fails too).
    const routes = pageRoutes();
    const unchecked = routes.filter((r) => !pages.has(r) && !NOT_PAGES.has(r));
    assert.deepEqual(unchecked, [], 'GET routes that no line of this sweep checks');
    const unknown = [...pages.keys(), ...NOT_PAGES.keys()].filter((r) => !routes.includes(r));
    assert.deepEqual(unknown, [], 'lines of this sweep that name no GET route');
  } finally {
    await browser.close();
  }
});
