// Issue 15's journey, as docs/clusters.md tells a new user to try it: an
// administrator registers a second local control plane on Administration →
// Clusters by pasting its kubeconfig (the connection test runs on save),
// points production at it, a member's production deploy is approved and rolls
// out, and its pods are there — `kubectl --kubeconfig` of the second control
// plane lists them, and the first has none of them. Removing the registration
// is refused while production targets it, and accepted once production points
// back.
//
// Needs both control planes (make test starts them): SLIPWAY_TEST_KUBECONFIG
// for the portal and SLIPWAY_TEST_SECOND_KUBECONFIG for the second one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  BASE, assertNoHorizontalScroll, launch, login, makeProductionReady, productionReadyService, requestProduction, shot,
} from './lib.js';

// The browser suite's people; SLIPWAY_JOURNEY_ADMIN / _MEMBER ("email:password")
// run the journey against another portal, e.g. the one `make run` started.
const person = (env, fallback) => (process.env[env] ? process.env[env].split(/:(.*)/s).slice(0, 2) : fallback);
const MEMBER = person('SLIPWAY_JOURNEY_MEMBER', ['dev@slipway.test', 'member-journey-pass-2']);
const ADMIN = person('SLIPWAY_JOURNEY_ADMIN', ['admin@slipway.test', 'browser-journey-pass-1']);
const SERVICE = 'ledger';
const NAMESPACE = 'shop-production';

function kubectl(kubeconfig, ...args) {
  return execFileSync('kubectl', ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8' });
}

/// The names of the pods of SERVICE in production on one control plane.
function podsOf(kubeconfig) {
  const out = kubectl(kubeconfig, '-n', NAMESPACE, 'get', 'pods', '-l',
    `app.kubernetes.io/name=${SERVICE}`, '-o', 'jsonpath={.items[*].metadata.name}', '--ignore-not-found');
  return out.split(/\s+/).filter(Boolean);
}

/// Points production at `cluster` on its environment page.
async function pointProductionAt(page, cluster) {
  await page.goto(`${BASE}/admin/environments/production`);
  await page.selectOption('#environment-policy select[name=cluster]', cluster);
  await Promise.all([
    page.waitForURL(`${BASE}/admin/environments/production`),
    page.click('#environment-policy button:has-text("Save production")'),
  ]);
  await page.waitForSelector('.flash:has-text("Environment production saved.")');
  assert.equal(await page.inputValue('#environment-policy select[name=cluster]'), cluster);
}

test('an admin registers a second cluster, points production at it, and the deploy runs there', async () => {
  const first = process.env.SLIPWAY_TEST_KUBECONFIG;
  const second = process.env.SLIPWAY_TEST_SECOND_KUBECONFIG;
  assert.ok(first && second,
    'this journey needs both control planes: SLIPWAY_TEST_KUBECONFIG and SLIPWAY_TEST_SECOND_KUBECONFIG ' +
    '(e2e/cluster/up, e2e/cluster/up --name second; make test starts both)');
  // A namespace left by an earlier run of this journey would hide a deploy that went elsewhere.
  kubectl(second, 'delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=true');

  const admin = await launch();
  const member = await launch();
  try {
    const a = admin.page;
    await login(a, ...ADMIN);
    await a.goto(`${BASE}/admin/clusters`);
    await a.fill('#register input[name=name]', 'eu');
    await a.check('#register input[name=source][value=kubeconfig]');
    await a.fill('#register textarea[name=kubeconfig]', readFileSync(second, 'utf8'));
    await Promise.all([
      a.waitForURL(`${BASE}/admin/clusters`),
      a.click('#register button:has-text("Test the connection and register")'),
    ]);
    await a.waitForSelector('.flash:has-text("Cluster eu registered")');
    const secondServer = /server:\s*(\S+)/.exec(readFileSync(second, 'utf8'))[1];
    assert.ok(await a.isVisible(`#cluster-eu code:has-text("${secondServer}")`), 'its API server is listed');
    await a.waitForSelector('#cluster-eu .state.ready:has-text("connected")');
    // The pasted credentials are never shown again (the key, and a token when the kubeconfig has one).
    const pasted = readFileSync(second, 'utf8');
    const secrets = [...pasted.matchAll(/(?:client-key-data|token):\s*(\S{24,})/g)].map((m) => m[1]);
    assert.ok(secrets.length >= 1, 'the kubeconfig carries a credential to look for');
    for (const page of [`${BASE}/admin/clusters`, `${BASE}/admin/clusters/eu`]) {
      await a.goto(page);
      const html = await a.content();
      for (const secret of secrets) {
        assert.ok(!html.includes(secret.slice(0, 24)), `${page} shows a pasted credential`);
      }
    }
    await a.goto(`${BASE}/admin/clusters`);
    await assertNoHorizontalScroll(a, 'the cluster registry at 1280 px');
    await shot(a, 'clusters-registered');

    // Whatever production targets now (`default` under `serve`, `local` under `make run`).
    await a.goto(`${BASE}/admin/environments/production`);
    const before = await a.inputValue('#environment-policy select[name=cluster]');
    await pointProductionAt(a, 'eu');
    await a.goto(`${BASE}/admin/clusters`);
    assert.ok(await a.isVisible('#cluster-eu td:has-text("production")'), 'the registry says production targets eu');

    // The member's service, without the starter's database Secret (production has none).
    const m = member.page;
    await login(m, ...MEMBER);
    await productionReadyService(m, SERVICE);
    await makeProductionReady(m, SERVICE);
    await Promise.all([
      m.waitForURL(/\/deploys\/\d+$/),
      requestProduction(m, SERVICE, `registry.example.com/shop/${SERVICE}:1.0.0`),
    ]);
    const deployUrl = m.url();
    assert.ok(await m.isVisible('text=on cluster eu'), 'the deploy page names the cluster it is planned for');

    await a.goto(deployUrl);
    await a.fill('#decide input[name=comment]', 'First release of the ledger on eu');
    await Promise.all([a.waitForURL(deployUrl), a.click('#decide button:has-text("Approve")')]);
    await a.waitForSelector('#deploy-state.succeeded', { timeout: 180000 });
    await m.goto(deployUrl);
    await m.waitForSelector('#deploy-state.succeeded', { timeout: 30000 });
    assert.ok(await m.isVisible('text=on cluster eu'));
    await shot(m, 'clusters-deploy-on-second');

    // The pods are on the second control plane, and none of them on the first.
    const there = podsOf(second);
    assert.ok(there.length >= 1, `pods of ${SERVICE} on the second control plane: ${there}`);
    assert.deepEqual(podsOf(first), [], `no pod of ${SERVICE} on the first control plane`);

    // The service's live status in production comes from eu's watches.
    await m.goto(`${BASE}/services/shop/${SERVICE}/status?env=production`);
    await m.waitForSelector(`text=${there[0]}`, { timeout: 30000 });

    // Removing eu is refused while production targets it; accepted once it does not.
    await a.goto(`${BASE}/admin/clusters/eu`);
    await Promise.all([a.waitForURL(`${BASE}/admin/clusters/eu`), a.click('#remove button:has-text("Remove eu")')]);
    await a.waitForSelector('.flash.error:has-text("is the cluster of production; point them at another cluster first")');
    await pointProductionAt(a, before);
    await a.goto(`${BASE}/admin/clusters/eu`);
    await Promise.all([a.waitForURL(`${BASE}/admin/clusters`), a.click('#remove button:has-text("Remove eu")')]);
    await a.waitForSelector('.flash:has-text("Cluster eu removed; its watches stopped.")');
    assert.equal(await a.locator('#cluster-eu').count(), 0);
  } finally {
    await admin.browser.close();
    await member.browser.close();
    try { kubectl(second, 'delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=false'); } catch { /* best effort */ }
  }
});
