// Issue 11's acceptance journey: a team member creates a hook in the portal,
// a signed push (the README's `curl` + `openssl` command, done here with
// node's crypto) arrives, and the deploy shows in the history with its commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { BASE, assertNoHorizontalScroll, launch, login, shot } from './lib.js';

const EMAIL = process.env.JOURNEY_EMAIL || 'dev@slipway.test';
const PASSWORD = process.env.JOURNEY_PASSWORD || 'member-journey-pass-2';
const TEAM = process.env.JOURNEY_TEAM || 'shop';
const SERVICE = process.env.JOURNEY_SERVICE || 'hooked-api';

test('a member creates a hook, a signed push deploys, history shows the commit', async () => {
  const { browser, page } = await launch();
  try {
    await login(page, EMAIL, PASSWORD);
    await page.goto(`${BASE}/services/${TEAM}/${SERVICE}`);
    if (page.url().endsWith('/login') || (await page.isVisible('text=Not found'))) {
      // A fresh database: create the service from the FastAPI preset first.
      await page.goto(`${BASE}/services/new?team=${TEAM}`);
      await page.fill('input[name=name]', SERVICE);
      await page.check('input[value=fastapi]');
      await Promise.all([page.waitForURL(`${BASE}/services/${TEAM}/${SERVICE}`), page.click('button:has-text("Create service")')]);
    }
    await page.click('nav.tabs >> text=Hooks');
    await page.selectOption('select[name=environment]', 'development');
    await page.fill('input[name=ref]', 'refs/heads/main');
    await page.fill('input[name=image]', `registry.example.com/${TEAM}/${SERVICE}:{sha}`);
    await page.click('button:has-text("Create hook")');
    await page.waitForSelector('text=Hook created');
    const url = await page.inputValue('input[aria-label="payload URL"]');
    const secret = await page.inputValue('input[aria-label="secret"]');
    assert.match(secret, /^whsec_[0-9a-f]{64}$/);
    await shot(page, 'hook-created');

    const sha = '89abcdef0123456789abcdef0123456789abcdef';
    const body = JSON.stringify({
      ref: 'refs/heads/main', before: '0'.repeat(39) + '1', after: sha,
      pusher: { name: 'you' },
      head_commit: { id: sha, message: 'Try Slipway webhooks', author: { name: 'You' } },
    });
    const signature = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
    const push = (sig) => fetch(url.replace(/^http:\/\/127\.0\.0\.1:\d+/, BASE), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push',
                 'x-github-delivery': `journey-${Date.now()}-${sig.length}`, 'x-hub-signature-256': sig },
      body,
    });
    const forged = await push('sha256=' + createHmac('sha256', 'guess').update(body).digest('hex'));
    assert.equal(forged.status, 401);
    const res = await push(signature);
    assert.equal(res.status, 202);
    const receipt = await res.json();
    // The endpoint only records the push; the judge requests its deploy a
    // moment later, and the hook's page lists the verdict with its deploy.
    assert.equal(receipt.result, 'queued', JSON.stringify(receipt));
    const hookPage = `${BASE}/services/${TEAM}/${SERVICE}/hooks/${url.split('/hooks/')[1]}`;
    let deployLink = null;
    for (let i = 0; i < 60 && !deployLink; i++) {
      await page.goto(hookPage);
      deployLink = await page.$('table a[href^="/deploys/"]');
      if (!deployLink) await page.waitForTimeout(250);
    }
    assert.ok(deployLink, 'the delivery names the deploy it made');
    assert.ok(await page.isVisible('td >> text=deployed'));
    const deployPath = await deployLink.getAttribute('href');

    await page.goto(`${BASE}/services/${TEAM}/${SERVICE}/history`);
    await page.waitForSelector('text=push of 89abcdef0123 (Try Slipway webhooks)');
    await page.goto(`${BASE}${deployPath}`);
    await page.waitForSelector('text=Try Slipway webhooks');
    assert.ok(await page.isVisible(`text=registry.example.com/${TEAM}/${SERVICE}:${sha}`));
    // With a cluster the rollout runs to its end (the page polls the live part).
    if (process.env.SLIPWAY_KUBECONFIG_PRESENT === '1') {
      await page.waitForSelector('.state.succeeded', { timeout: 120000 });
    }
    // The image carries the whole commit (a long reference): the details
    // panel wraps it instead of pushing the page past 1280 px.
    await assertNoHorizontalScroll(page, 'the pushed deploy at 1280 px');
    await shot(page, 'webhook-deploy');
    await page.goto(`${BASE}/services/${TEAM}/${SERVICE}/hooks`);
    assert.ok(await page.isVisible('text=deployed'));
    assert.ok(!(await page.content()).includes(secret), 'the secret is shown only once');
  } finally {
    await browser.close();
  }
});
