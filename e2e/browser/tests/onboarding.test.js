// Issue 5's acceptance as a new user would try it: the admin creates a team
// and a member in the portal; the member signs in, creates and edits a
// service, diffs two revisions, previews production manifests and reads the
// checklist. Only what is on the screen is used: links, buttons and labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, assertNoHorizontalScroll, launch, login, shot } from './lib.js';

const MEMBER = 'pat@slipway.test';
const MEMBER_PASSWORD = 'payments-member-pass-3';

test('an admin onboards a team and a member, who ships a first service', async () => {
  const { browser, page } = await launch();
  try {
    await login(page, 'admin@slipway.test', 'browser-journey-pass-1');

    // A bad team name is refused on its field, and what was typed stays.
    await page.click('header >> text=Admin');
    await page.click('nav >> text=Teams');
    await page.fill('#new-team input[name=name]', 'Payments!');
    await page.evaluate(() => document.querySelector('#new-team form').noValidate = true);
    await page.click('button:has-text("Create team")');
    await page.waitForSelector('#new-team .field-error');
    assert.equal(await page.inputValue('#new-team input[name=name]'), 'Payments!');

    await page.fill('#new-team input[name=name]', 'payments');
    await page.fill('#new-team input[name=display_name]', 'Payments');
    await Promise.all([
      page.waitForURL(`${BASE}/admin/teams/payments`),
      page.click('button:has-text("Create team")'),
    ]);
    assert.ok(await page.isVisible('text=Created team payments.'));

    await page.click('nav >> text=Users');
    await page.fill('#new-user input[name=email]', MEMBER);
    await page.fill('#new-user input[name=password]', MEMBER_PASSWORD);
    await page.check('#new-user input[name=teams][value=payments]');
    await page.click('button:has-text("Create user")');
    await page.waitForSelector(`text=Created user ${MEMBER}.`);
    const row = page.locator('table.users tr', { hasText: MEMBER });
    assert.match(await row.textContent(), /payments/);
    assert.match(await row.textContent(), /member/);
    await shot(page, 'admin-users');

    await Promise.all([page.waitForURL(/\/login/), page.click('button:has-text("Sign out")')]);

    // The member signs in and sees only their team's (empty) catalog.
    await login(page, MEMBER, MEMBER_PASSWORD);
    assert.ok(await page.isVisible('text=No services match'));
    assert.equal(await page.locator('header >> text=Admin').count(), 0, 'no admin link for a member');

    await page.click('text=New service');
    assert.equal(await page.inputValue('select[name=team]'), 'payments');
    // Each preset's radio button sits on the line of its name, at the left.
    for (const label of await page.locator('fieldset label.row').all()) {
      const radio = await label.locator('input[type=radio]').boundingBox();
      const box = await label.boundingBox();
      assert.ok(radio.y >= box.y - 1 && radio.y + radio.height <= box.y + box.height + 1
        && box.height < 2.2 * radio.height, `${await label.textContent()}: on one line`);
      assert.ok(radio.x - box.x < 8, `${await label.textContent()}: the radio button leads`);
    }
    await shot(page, 'new-service');
    await page.fill('input[name=name]', 'payments-api');
    await page.check('input[value=fastapi]');
    await Promise.all([
      page.waitForURL(`${BASE}/services/payments/payments-api`),
      page.click('button:has-text("Create service")'),
    ]);

    await page.click('nav.tabs >> text=Edit spec');
    const original = await page.inputValue('textarea[name=spec]');
    const edited = original.replace(/image: (\S+):0\.1\.0/, 'image: $1:1.0.0');
    assert.notEqual(edited, original, 'the preset pins an image version to change');
    await page.fill('textarea[name=spec]', edited);
    await page.fill('input[name=message]', 'First release');
    await Promise.all([
      page.waitForURL(`${BASE}/services/payments/payments-api/diff?from=1&to=2`),
      page.click('button:has-text("Save revision")'),
    ]);
    assert.ok(await page.isVisible('#spec-diff .add:has-text("1.0.0")'));

    await page.click('nav.tabs >> text=Manifests');
    await Promise.all([
      page.waitForURL(/env=production/),
      page.selectOption('select[name=env]', 'production'),
    ]);
    await page.waitForSelector('text=rendered for production');
    const yaml = await page.textContent('#manifests-yaml');
    assert.match(yaml, /kind: Deployment/);
    assert.match(yaml, /namespace: payments-production/);
    assert.match(yaml, /:1\.0\.0/);
    const score = Number((await page.textContent('.score')).replace(/\/100.*/s, '').trim());
    assert.ok(score > 0 && score <= 100, `a score out of 100, got ${score}`);
    assert.ok(await page.locator('table.checklist tr').count() >= 8, 'the checklist lists its checks');
    await shot(page, 'manifests-production');

    // The Secrets tab: DATABASE_URL comes from a Secret nobody has created yet.
    await page.click('nav.tabs >> text=Secrets');
    await page.waitForSelector('table.wiring');
    const wiring = page.locator('table.wiring tr', { hasText: 'DATABASE_URL' });
    assert.match(await wiring.textContent(), /payments-api-db/);
    assert.match(await wiring.textContent(), /missing|unknown/);
    await shot(page, 'secrets-wiring');

    // Deploy to development and watch the live status fill in from the cluster.
    await page.goto(`${BASE}/services/payments/payments-api?env=development`);
    await page.selectOption('#deploy-panel select[name=environment]', 'development');
    // The deploy page follows the request; the deploy must succeed first (a pod
    // left by an earlier run of this journey must not pass for this one's).
    await Promise.all([
      page.waitForURL(/\/deploys\/\d+$/),
      page.click('#deploy-panel button:has-text("Deploy")'),
    ]);
    await page.waitForSelector('#deploy-state.succeeded', { timeout: 90000 });
    await page.goto(`${BASE}/services/payments/payments-api?env=development`);
    await page.waitForSelector('#live-status .pods .state.ready', { timeout: 30000 });
    assert.match(await page.textContent('#live-status'), /Live status · development/);
    assert.match(await page.textContent('#live-status .replicas'), /ready/);
    await assertNoHorizontalScroll(page, 'the service page with its live status at 1280 px');
    await shot(page, 'live-status');

    // The member cannot reach the administration pages.
    const res = await page.goto(`${BASE}/admin/users`);
    assert.equal(res.status(), 403);
  } finally {
    await browser.close();
  }
});
