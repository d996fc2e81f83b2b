// Issue 12's acceptance journeys: a member requests a production deploy and sees
// it waiting (after production refused the first try because a Secret key the
// spec references is missing there: missing keys block the request, not the
// apply after approval); the admin opens the queue from the navigation bar, reads the plan and
// approves; the rollout runs; the member sees who approved, when, and the plan
// they approved on the timeline. A second journey rejects with a comment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, assertNoHorizontalScroll, launch, login, makeProductionReady, productionReadyService, requestProduction, shot,
} from './lib.js';

const MEMBER = ['dev@slipway.test', 'member-journey-pass-2'];
const ADMIN = ['admin@slipway.test', 'browser-journey-pass-1'];

test('a member requests production, an admin approves the plan from the queue, the member sees who approved', async () => {
  const member = await launch();
  const admin = await launch();
  try {
    const { page } = member;
    await login(page, ...MEMBER);
    await productionReadyService(page, 'checkout');
    // The starter references a Secret production lacks: the request itself is
    // refused, naming the key, before anyone is asked to approve.
    await requestProduction(page, 'checkout', 'registry.example.com/shop/checkout:1.0.0');
    await page.waitForSelector('#deploy-panel .flash.error:has-text("missing in namespace")');
    assert.ok(await page.isVisible('#deploy-panel .flash.error:has-text("checkout-db/url")'));
    await shot(page, 'approval-missing-secret-refused');

    await makeProductionReady(page, 'checkout');
    await requestProduction(page, 'checkout', 'registry.example.com/shop/checkout:1.0.0');
    await page.waitForURL(/\/deploys\/\d+$/);
    const deployUrl = page.url();
    const id = deployUrl.split('/').pop();
    assert.equal((await page.textContent('#deploy-state')).trim(), 'awaiting approval');
    assert.ok(await page.isVisible('#deploy-plan'), 'the requester sees the plan too');
    assert.ok(await page.isVisible('text=You cannot decide: the requester may not approve their own deploy'));
    await shot(page, 'approval-waiting');

    // The admin: the navigation bar counts what waits, the queue shows the plan.
    const a = admin.page;
    await login(a, ...ADMIN);
    assert.ok(Number((await a.textContent('#nav-approvals .nav-count')).trim()) >= 1, 'the navigation bar counts it');
    await a.click('#nav-approvals');
    await a.waitForURL(`${BASE}/approvals`);
    assert.ok(await a.isVisible(`#queue-${id}`));
    await a.click(`#queue-${id} summary`);
    assert.ok(await a.isVisible(`#queue-${id} h3:has-text("Objects")`));
    assert.ok(await a.isVisible(`#queue-${id} h3:has-text("Readiness checklist")`));
    await shot(a, 'approval-queue');

    // On the deploy's page: the plan (diff, prune list, wiring, checklist), then approve.
    await a.click(`#queue-${id} a[href="/deploys/${id}"]`);
    await a.waitForURL(deployUrl);
    for (const part of ['Objects', 'Pruned', 'Secrets wiring', 'Readiness checklist', 'Images']) {
      assert.ok(await a.isVisible(`#deploy-plan h3:has-text("${part}")`), part);
    }
    const digest = (await a.textContent('#deploy-plan code[title]')).trim();
    assert.match(digest, /^[0-9a-f]{12}$/);
    await a.fill('#decide input[name=comment]', 'Plan reviewed: first release of checkout');
    await shot(a, 'approval-plan');
    await Promise.all([a.waitForURL(deployUrl), a.click('#decide button:has-text("Approve")')]);
    await a.waitForSelector('text=Approved deploy');
    const cluster = process.env.SLIPWAY_KUBECONFIG_PRESENT === '1';
    if (cluster) {
      await a.waitForSelector('#deploy-state.succeeded', { timeout: 120000 });
    }

    // The member sees who approved, when, on which plan (the digest), in the timeline.
    await page.goto(deployUrl);
    if (cluster) {
      await page.waitForSelector('#deploy-state.succeeded', { timeout: 120000 });
    }
    assert.ok(await page.isVisible('#approvals >> text=admin@slipway.test'));
    assert.ok(await page.isVisible(`#approvals code:has-text("${digest}")`));
    assert.ok(await page.isVisible('text=Plan reviewed: first release of checkout'));
    assert.ok(await page.isVisible(`table.timeline >> text=approved by admin@slipway.test (1 of 1, digest ${digest})`));
    await assertNoHorizontalScroll(page, 'the deploy page at 1280 px');
    await shot(page, 'approval-approved');
  } finally {
    await member.browser.close();
    await admin.browser.close();
  }
});

test('an admin rejects a production deploy with a comment and the member reads why', async () => {
  const member = await launch();
  const admin = await launch();
  try {
    const { page } = member;
    await login(page, ...MEMBER);
    await productionReadyService(page, 'payments');
    await makeProductionReady(page, 'payments');
    await requestProduction(page, 'payments', 'registry.example.com/shop/payments:0.9.0');
    await page.waitForURL(/\/deploys\/\d+$/);
    const deployUrl = page.url();

    const a = admin.page;
    await login(a, ...ADMIN);
    await a.goto(deployUrl);
    await a.fill('#decide input[name=comment]', 'Not during the payment-provider migration');
    await Promise.all([a.waitForURL(deployUrl), a.click('#decide button:has-text("Reject")')]);
    await a.waitForSelector('text=Rejected deploy');

    await page.goto(deployUrl);
    assert.equal((await page.textContent('#deploy-state')).trim(), 'rejected');
    assert.ok(await page.isVisible('#deploy-reason:has-text("rejected by admin@slipway.test: Not during the payment-provider migration")'));
    await shot(page, 'approval-rejected');
  } finally {
    await member.browser.close();
    await admin.browser.close();
  }
});
