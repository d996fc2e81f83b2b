// Issue 5's smoke journey: log in, create a Django service, see a validation
// error inline, fix it, save, see revision 2 and its diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, assertNoHorizontalScroll, launch, login, shot } from './lib.js';

test('a member creates a Django service, fixes an inline error and sees revision 2 with its diff', async () => {
  const { browser, page } = await launch();
  try {
    await login(page, 'dev@slipway.test', 'member-journey-pass-2');
    assert.ok(await page.isVisible('text=Services'));
    // htmx is served from our own /static, never a CDN.
    const htmx = await page.evaluate(() => typeof window.htmx === 'object' && window.htmx.version);
    assert.match(String(htmx), /^2\./);

    await page.click('text=New service');
    await page.fill('input[name=name]', 'shop-web');
    await page.check('input[value=django]');
    await Promise.all([page.waitForURL(`${BASE}/services/shop/shop-web`), page.click('button:has-text("Create service")')]);
    assert.ok(await page.isVisible('text=Created shop/shop-web from the django preset.'));
    await shot(page, 'service-overview');
    // The same page in the dark theme the system may ask for: readable too.
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(dark, 'rgb(13, 17, 23)', 'the dark theme applies');
    await shot(page, 'service-overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    await page.click('nav.tabs >> text=Edit spec');
    const original = await page.inputValue('textarea[name=spec]');
    // Beside the editor, the live check reads the text as it is.
    await page.waitForSelector('#spec-check >> text=reads');
    assert.ok(await page.isVisible('#spec-check table.objects >> text=Deployment'));
    // A typo in a field name: the live check names it with its line as it is
    // typed, before any save; its "line" button puts the cursor there.
    const broken = original.replace('image:', 'imagee:');
    assert.notEqual(broken, original);
    await page.fill('textarea[name=spec]', broken);
    const problem = page.locator('#spec-check li[data-path="spec.imagee"]');
    await problem.waitFor();
    const brokenLine = broken.split('\n').findIndex((l) => l.includes('imagee:')) + 1;
    assert.match(await problem.textContent(), new RegExp(`line ${brokenLine} spec\\.imagee: unknown field; did you mean \`image\`\\?`));
    await problem.locator('button[data-line]').click();
    const caret = await page.evaluate(() => document.getElementById('spec-text').selectionStart);
    assert.equal(caret, broken.split('\n').slice(0, brokenLine - 1).join('\n').length + 1, 'the cursor is on the problem\'s line');
    await shot(page, 'editor-live-check');
    await page.fill('input[name=message]', 'Pin the image');
    await page.click('button:has-text("Save revision")');
    await page.waitForSelector('#spec-errors');
    const errors = await page.textContent('#spec-errors');
    assert.match(errors, /spec\.imagee/);
    assert.equal(await page.inputValue('textarea[name=spec]'), broken, 'typed text kept');
    await shot(page, 'editor-inline-error');

    const fixed = original.replace(/image: (\S+):0\.1\.0/, 'image: $1:0.2.0');
    assert.notEqual(fixed, original);
    await page.fill('textarea[name=spec]', fixed);
    await Promise.all([
      page.waitForURL(`${BASE}/services/shop/shop-web/diff?from=1&to=2`),
      page.click('button:has-text("Save revision")'),
    ]);
    assert.ok(await page.isVisible('text=Saved revision 2.'));
    assert.ok(await page.isVisible('#spec-diff .add:has-text("0.2.0")'));
    assert.ok(await page.isVisible('#spec-diff .del:has-text("0.1.0")'));
    await shot(page, 'revision-diff');

    await page.click('nav.tabs >> text=Revisions');
    assert.ok(await page.isVisible('text=Pin the image'));
    assert.equal(await page.locator('table.list tr').count(), 3, 'header + two revisions');
  } finally {
    await browser.close();
  }
});

test('the catalog filters as you type and the URL reflects the filter', async () => {
  const { browser, page } = await launch();
  try {
    await login(page, 'admin@slipway.test', 'browser-journey-pass-1');
    await page.fill('input[name=q]', 'shop-w');
    await page.waitForURL(/q=shop-w/);
    await page.waitForSelector('table.catalog >> text=shop-web');
    await page.fill('input[name=q]', 'zzz-nothing');
    await page.waitForSelector('text=No services match');
    await page.fill('input[name=q]', '');
    await page.waitForSelector('table.catalog >> text=shop-web');
    await shot(page, 'catalog');
    // On a phone (390 px): nothing scrolls sideways, wide tables scroll in place.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ['/', '/services/shop/shop-web', '/services/shop/shop-web/edit',
                        '/services/shop/shop-web/revisions', '/deploys', '/admin/users', '/admin/audit']) {
      await page.goto(`${BASE}${path}`);
      await assertNoHorizontalScroll(page, `${path} at 390 px`);
    }
    await page.goto(`${BASE}/services/shop/shop-web`);
    await shot(page, 'service-overview-390');
  } finally {
    await browser.close();
  }
});

test('in the editor Tab moves focus until indenting is asked for, and Escape gives it back', async () => {
  const { browser, page } = await launch();
  try {
    await login(page, 'dev@slipway.test', 'member-journey-pass-2');
    await page.goto(`${BASE}/services/new?team=shop`);
    await page.fill('input[name=name]', 'tab-keys');
    await page.check('input[value=flask]');
    await Promise.all([page.waitForURL(`${BASE}/services/shop/tab-keys`), page.click('button:has-text("Create service")')]);
    await page.goto(`${BASE}/services/shop/tab-keys/edit`);
    const editor = page.locator('#spec-text');
    const original = await editor.inputValue();
    const focused = () => page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.getAttribute('name')));

    // By default Tab leaves the editor, and the text is untouched.
    await editor.focus();
    await page.keyboard.press('Tab');
    assert.notEqual(await focused(), 'spec-text', 'Tab moved the focus out of the editor');
    assert.equal(await editor.inputValue(), original);
    assert.equal(await page.getAttribute('#tab-mode', 'aria-pressed'), 'false');
    assert.match(await page.textContent('#tab-mode-state'), /Tab moves focus/);

    // Asked for: Tab indents by two spaces at the cursor, Shift+Tab takes them back.
    await page.click('#tab-mode');
    assert.equal(await page.getAttribute('#tab-mode', 'aria-pressed'), 'true');
    assert.match(await page.textContent('#tab-mode-state'), /Esc to leave/);
    assert.equal(await focused(), 'spec-text', 'the button hands the focus back to the editor');
    const lineStart = original.indexOf('spec:');
    await page.evaluate((at) => document.getElementById('spec-text').setSelectionRange(at, at), lineStart);
    await page.keyboard.press('Tab');
    assert.equal(await editor.inputValue(), original.slice(0, lineStart) + '  ' + original.slice(lineStart));
    assert.equal(await focused(), 'spec-text', 'Tab stayed in the editor');
    // The live check reads the indented (now broken) text as typed.
    await page.waitForSelector('#spec-check >> text=as you typed');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await editor.inputValue(), original, 'Shift+Tab removed the indent');
    await page.waitForSelector('#spec-check >> text=reads');
    await shot(page, 'editor-tab-indents');

    // Escape is the way out: Tab moves the focus again.
    await page.keyboard.press('Escape');
    assert.equal(await page.getAttribute('#tab-mode', 'aria-pressed'), 'false');
    await page.keyboard.press('Tab');
    assert.notEqual(await focused(), 'spec-text');
    // Ctrl+M toggles it from inside the editor too.
    await editor.focus();
    await page.keyboard.press('Control+m');
    assert.equal(await page.getAttribute('#tab-mode', 'aria-pressed'), 'true');
    await page.keyboard.press('Control+m');
    assert.equal(await page.getAttribute('#tab-mode', 'aria-pressed'), 'false');
  } finally {
    await browser.close();
  }
});
