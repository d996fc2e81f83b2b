// Single sign-on as people would meet it (issue 16): an administrator maps the
// identity provider's group to a team; a developer chooses "Sign in with Dex",
// signs in on Dex's own login form (a real Dex, built from its Go module) and
// lands in the portal as a member of that team.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, login, shot } from './lib.js';

test('a developer signs in through Dex and lands with the team their group maps to', async () => {
  const { browser, page } = await launch();
  try {
    await login(page, 'admin@slipway.test', 'browser-journey-pass-1');
    await page.click('header >> text=Admin');
    await page.click('nav >> text=Single sign-on');
    assert.ok(await page.isVisible('text=People sign in through'));
    await page.fill('#add-mapping input[name=group]', 'shop-devs');
    await page.selectOption('#add-mapping select[name=team]', 'shop');
    await page.click('#add-mapping button:has-text("Map")');
    await page.waitForSelector('table.sso-mappings >> text=shop-devs');
    await shot(page, 'admin-sso');
    await Promise.all([page.waitForURL(/\/login/), page.click('button:has-text("Sign out")')]);

    await shot(page, 'login-sso');
    await page.click('text=Sign in with Dex');
    // Dex's own form, on Dex's own origin.
    await page.waitForSelector('input[name=login]');
    assert.ok(page.url().startsWith(process.env.SLIPWAY_DEX_ISSUER), page.url());
    await page.fill('input[name=login]', 'dev@example.com');
    await page.fill('input[name=password]', 'dex-demo-dev-1');
    await Promise.all([page.waitForURL(`${BASE}/`), page.click('button[type=submit]')]);
    await page.goto(`${BASE}/account`);
    assert.ok(await page.isVisible('text=dev@example.com'));
    assert.ok(await page.isVisible('.badge:has-text("shop")'), 'the group made dev a member of shop');
    assert.equal(await page.locator('header >> text=Admin').count(), 0, 'no admin link for a member');
  } finally {
    await browser.close();
  }
});
