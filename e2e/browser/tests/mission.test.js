// The whole mission as one journey (issue 18), in the order a team lives it:
// an administrator creates a team and a developer; the developer creates a
// Django service from its preset, fixes a mistake the editor names as it is
// typed, previews production's manifests and deploys to staging, watching the
// rollout on a page that is never reloaded; the Secrets tab shows a key
// production lacks and the administrator writes it; the developer requests
// production, the administrator reads the plan from the approvals queue and
// approves; a signed push webhook deploys a new commit to staging, in the
// history with its commit; the developer rolls back and staging shows as
// pinned. Every step writes a screenshot (mission-NN-*.png, each page checked
// with axe-core first); the README shows three of them.
//
// It needs the local control plane (make test starts it): without one it is
// reported as skipped, by name, never passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { BASE, SHOTS, assertNoHorizontalScroll, launch, login, shot } from './lib.js';

const CLUSTER = process.env.SLIPWAY_KUBECONFIG_PRESENT === '1';
const ADMIN = ['admin@slipway.test', 'browser-journey-pass-1'];
const DEVELOPER = ['baker@slipway.test', 'oven-warm-croissant-4'];
const TEAM = 'bakery';
const SERVICE = 'storefront';
const SERVICE_URL = `${BASE}/services/${TEAM}/${SERVICE}`;
const ROLLOUT = { timeout: 120000 };
// The release this run ships: its own tag, so production's plan has a change to
// read even where an earlier run left the same service running.
const RELEASE = `1.0.${Date.now() % 100000}`;

/// On a deploy's page (opened by the request): the page follows the rollout
/// through htmx until it succeeds, and the document is the one the request
/// opened (a marker set on arrival survives: nothing reloaded the page).
async function watchRollout(page) {
  await page.waitForURL(/\/deploys\/\d+$/);
  const first = (await page.textContent('#deploy-state')).trim();
  await page.evaluate(() => {
    window.missionMarker = 'not reloaded';
    window.missionSwaps = 0;
    document.body.addEventListener('htmx:afterSwap', () => { window.missionSwaps += 1; });
  });
  await page.waitForSelector('#deploy-state.succeeded', ROLLOUT);
  const seen = await page.evaluate(() => ({ marker: window.missionMarker, swaps: window.missionSwaps }));
  assert.equal(seen.marker, 'not reloaded', 'the rollout was watched on the page it opened');
  if (first !== 'succeeded') {
    assert.ok(seen.swaps >= 1, `the page updated itself from "${first}" to succeeded (${seen.swaps} swaps)`);
  }
  return page.url().split('/').pop();
}

async function deploy(page, environment, image) {
  await page.goto(SERVICE_URL);
  await page.selectOption('#deploy-panel select[name=environment]', environment);
  if (image) await page.fill('#deploy-panel input[name=image]', image);
  await page.click('#deploy-panel button:has-text("Deploy")');
}

test('the whole mission: team, service, live check, staging, secret, approval, push, rollback', { skip: !CLUSTER && 'needs the local control plane (SLIPWAY_TEST_KUBECONFIG)' }, async () => {
  // The cluster outlives the journey's database: a key an earlier run wrote
  // would make step 6 find nothing missing. Start without it.
  execFileSync(new URL('../../cluster/kubectl', import.meta.url).pathname,
    ['-n', `${TEAM}-production`, 'delete', 'secret', `${SERVICE}-db`, '--ignore-not-found'], { stdio: 'inherit' });
  const admin = await launch();
  const developer = await launch();
  try {
    // 1. The administrator creates the team and its developer.
    const a = admin.page;
    await login(a, ...ADMIN);
    await a.click('header >> text=Admin');
    await a.click('nav >> text=Teams');
    await a.fill('#new-team input[name=name]', TEAM);
    await a.fill('#new-team input[name=display_name]', 'Bakery');
    await Promise.all([a.waitForURL(`${BASE}/admin/teams/${TEAM}`), a.click('button:has-text("Create team")')]);
    await a.click('nav >> text=Users');
    await a.fill('#new-user input[name=email]', DEVELOPER[0]);
    await a.fill('#new-user input[name=password]', DEVELOPER[1]);
    await a.check(`#new-user input[name=teams][value=${TEAM}]`);
    await a.click('button:has-text("Create user")');
    await a.waitForSelector(`text=Created user ${DEVELOPER[0]}.`);
    assert.match(await a.locator('table.users tr', { hasText: DEVELOPER[0] }).textContent(), new RegExp(TEAM));
    await shot(a, 'mission-01-admin-creates-team-and-developer');

    // 2. The developer signs in to an empty catalog of their team and
    //    creates a Django service from the preset.
    const d = developer.page;
    await login(d, ...DEVELOPER);
    assert.ok(await d.isVisible('text=No services match'));
    assert.equal((await d.textContent('select[name=team] option[value=""]')).trim(), 'My teams');
    await d.click('text=New service');
    assert.equal(await d.inputValue('select[name=team]'), TEAM);
    await d.fill('input[name=name]', SERVICE);
    await d.check('input[value=django]');
    await Promise.all([d.waitForURL(SERVICE_URL), d.click('button:has-text("Create service")')]);
    assert.ok(await d.isVisible(`text=Created ${TEAM}/${SERVICE} from the django preset.`));
    await shot(d, 'mission-02-service-created-from-the-django-preset');

    // 3. A mistake typed in the editor is named, with its line, before any
    //    save; fixing it brings the checklist and the objects back.
    await d.click('nav.tabs >> text=Edit spec');
    await d.waitForSelector('#spec-check >> text=reads');
    const original = await d.inputValue('textarea[name=spec]');
    assert.match(original, /maxReplicas: 5/);
    const typo = original.replace('maxReplicas: 5', 'maxReplica: 8');
    await d.fill('textarea[name=spec]', typo);
    const problem = d.locator('#spec-check li[data-path="spec.autoscaling.maxReplica"]');
    await problem.waitFor();
    const line = typo.split('\n').findIndex((l) => l.includes('maxReplica:')) + 1;
    assert.match(await problem.textContent(), new RegExp(`line ${line} spec\\.autoscaling\\.maxReplica: unknown field; did you mean \`maxReplicas\`\\?`));
    assert.equal(await d.inputValue('textarea[name=spec]'), typo, 'the text is as typed');
    await shot(d, 'mission-03-a-typo-named-as-it-is-typed');
    const fixed = typo.replace('maxReplica: 8', 'maxReplicas: 8').replace(/:0\.1\.0/, `:${RELEASE}`);
    await d.fill('textarea[name=spec]', fixed);
    await d.waitForSelector('#spec-check >> text=reads');
    assert.equal(await problem.count(), 0, 'the problem left the list');
    for (const kind of ['Deployment', 'HorizontalPodAutoscaler', 'Service']) {
      assert.ok(await d.isVisible(`#spec-check table.objects >> text=${kind}`), kind);
    }
    await d.fill('input[name=message]', 'Up to 8 replicas; first release');
    await Promise.all([d.waitForURL(`${SERVICE_URL}/diff?from=1&to=2`), d.click('button:has-text("Save revision")')]);

    // 4. Production's manifests, previewed.
    await d.click('nav.tabs >> text=Manifests');
    await Promise.all([d.waitForURL(/env=production/), d.selectOption('select[name=env]', 'production')]);
    await d.waitForSelector('text=rendered for production');
    const yaml = await d.textContent('#manifests-yaml');
    assert.match(yaml, new RegExp(`namespace: ${TEAM}-production`));
    assert.match(yaml, /maxReplicas: 8/);
    await shot(d, 'mission-04-production-manifests-previewed');

    // 5. Staging: requested, watched to the end without a reload.
    await deploy(d, 'staging');
    const staging = await watchRollout(d);
    await assertNoHorizontalScroll(d, 'the staging deploy at 1280 px');
    await shot(d, 'mission-05-staging-rolled-out');

    // 6. The Secrets tab: production lacks the key DATABASE_URL comes from;
    //    the developer cannot write it, the administrator does.
    await d.goto(`${SERVICE_URL}/wiring?env=production`);
    const row = d.locator('table.wiring tr', { hasText: 'DATABASE_URL' });
    assert.match(await row.textContent(), new RegExp(`${SERVICE}-db`));
    assert.match(await row.locator('.state').textContent(), /missing/);
    assert.equal(await d.locator('details.set-value').count(), 0, 'a developer has no way to write a value');
    await shot(d, 'mission-06-production-lacks-a-secret-key');

    const value = `postgres://storefront:${Date.now()}@db.bakery.internal/storefront`;
    await a.goto(`${SERVICE_URL}/wiring?env=production`);
    const adminRow = a.locator('table.wiring tr', { hasText: 'DATABASE_URL' });
    await adminRow.locator('details.set-value summary').click();
    await adminRow.locator('input[name=value]').fill(value);
    await Promise.all([a.waitForURL(/wiring\?env=production/), adminRow.locator('button:has-text("Write")').click()]);
    await a.waitForSelector(`text=Set key url of Secret ${SERVICE}-db in production.`);
    assert.match(await a.locator('table.wiring tr', { hasText: 'DATABASE_URL' }).locator('.state').textContent(), /present/);
    assert.ok(!(await a.content()).includes(value), 'the value is never shown');
    await shot(a, 'mission-07-the-administrator-writes-the-key');

    // 7. The developer requests production: it waits for an approver.
    await deploy(d, 'production');
    await d.waitForURL(/\/deploys\/\d+$/);
    const production = d.url().split('/').pop();
    assert.equal((await d.textContent('#deploy-state')).trim(), 'awaiting approval');
    await shot(d, 'mission-08-production-awaits-approval');

    // 8. The administrator opens the queue, reads the plan, approves.
    await a.goto(BASE);
    assert.ok(Number((await a.textContent('#nav-approvals .nav-count')).trim()) >= 1);
    await Promise.all([a.waitForURL(`${BASE}/approvals`), a.click('#nav-approvals')]);
    await a.click(`#queue-${production} summary`);
    assert.ok(await a.isVisible(`#queue-${production} h3:has-text("Objects")`));
    await shot(a, 'mission-09-the-approvals-queue');
    await Promise.all([a.waitForURL(`${BASE}/deploys/${production}`), a.click(`#queue-${production} a[href="/deploys/${production}"]`)]);
    for (const part of ['Objects', 'Secrets wiring', 'Readiness checklist', 'Images']) {
      assert.ok(await a.isVisible(`#deploy-plan h3:has-text("${part}")`), part);
    }
    // The approver opens the Deployment's field diff: the release saved in step 3.
    const workload = a.locator('#deploy-plan li:has(summary)', { hasText: 'Deployment/storefront' });
    await workload.locator('summary').click();
    assert.match(await workload.textContent(), new RegExp(`storefront:${RELEASE.replaceAll('.', '\\.')}`), 'the plan shows what will be applied');
    await a.fill('#decide input[name=comment]', 'Plan read: first production release of the storefront');
    await shot(a, 'mission-10-the-plan-read-before-approving');
    await Promise.all([a.waitForURL(`${BASE}/deploys/${production}`), a.click('#decide button:has-text("Approve")')]);
    await a.waitForSelector('#deploy-state.succeeded', ROLLOUT);
    await d.goto(`${BASE}/deploys/${production}`);
    assert.ok(await d.isVisible(`table.timeline >> text=approved by ${ADMIN[0]}`));
    await shot(d, 'mission-11-production-approved-and-rolled-out');

    // 9. A hook for staging; a signed push of main deploys the new commit.
    await d.goto(`${SERVICE_URL}/hooks`);
    await d.selectOption('select[name=environment]', 'staging');
    await d.fill('input[name=ref]', 'refs/heads/main');
    await d.fill('input[name=image]', `registry.example.com/${SERVICE}:{short_sha}`);
    await d.click('button:has-text("Create hook")');
    await d.waitForSelector('text=Hook created');
    const hookUrl = (await d.inputValue('input[aria-label="payload URL"]')).replace(/^http:\/\/127\.0\.0\.1:\d+/, BASE);
    const secret = await d.inputValue('input[aria-label="secret"]');
    const sha = 'c0ffee0123456789abcdef0123456789abcdef01';
    const body = JSON.stringify({
      ref: 'refs/heads/main', before: '1'.repeat(40), after: sha,
      compare: `https://git.example.com/${TEAM}/${SERVICE}/compare/111111111111...c0ffee012345`,
      pusher: { name: 'baker' },
      head_commit: { id: sha, message: 'Seasonal menu on the front page', author: { name: 'Baker' } },
    });
    const response = await fetch(hookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `mission-${Date.now()}`,
        'x-hub-signature-256': 'sha256=' + createHmac('sha256', secret).update(body).digest('hex'),
      },
      body,
    });
    assert.equal(response.status, 202, await response.text());
    await d.goto(`${SERVICE_URL}/history`);
    const pushed = d.locator('#history-staging tr', { hasText: 'push of c0ffee012345 (Seasonal menu on the front page)' });
    for (let i = 0; i < 40 && (await pushed.count()) === 0; i++) {
      await d.waitForTimeout(250);
      await d.reload();
    }
    assert.equal(await pushed.count(), 1, 'the push is one deploy in staging\'s history');
    const pushDeploy = (await pushed.locator('a[href^="/deploys/"]').first().getAttribute('href')).split('/').pop();
    await d.goto(`${BASE}/deploys/${pushDeploy}`);
    await d.waitForSelector('#deploy-state.succeeded', ROLLOUT);
    assert.ok(await d.isVisible(`text=registry.example.com/${SERVICE}:c0ffee0`));
    await d.goto(`${SERVICE_URL}/history`);
    await shot(d, 'mission-12-a-push-deployed-to-staging');

    // 10. The developer rolls staging back to the deploy before the push;
    //     staging is pinned, so the next push would be held.
    await d.goto(`${BASE}/deploys/${pushDeploy}`);
    await d.click(`button:has-text("Roll back to #${staging}")`);
    await watchRollout(d);
    assert.ok(await d.isVisible(`text=staging is pinned by ${DEVELOPER[0]}`));
    await d.goto(`${SERVICE_URL}/history`);
    assert.match(await d.textContent('#history-staging .pin'), new RegExp(`pinned by ${DEVELOPER[0]} since .*: automatic deploys are held`));
    await shot(d, 'mission-13-rolled-back-and-pinned');
    await d.goto(SERVICE_URL);
    assert.match(await d.textContent('#deploy-panel'), new RegExp(`pinned by ${DEVELOPER[0]}`));
    await shot(d, 'mission-14-the-service-page');
    await d.goto(BASE);
    await shot(d, 'mission-15-the-catalog');
  } catch (error) {
    // Where each browser was when it failed, for whoever reads the failure.
    await admin.page.screenshot({ path: `${SHOTS}/mission-failed-admin.png`, fullPage: true }).catch(() => {});
    await developer.page.screenshot({ path: `${SHOTS}/mission-failed-developer.png`, fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await admin.browser.close();
    await developer.browser.close();
  }
});
