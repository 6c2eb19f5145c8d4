// Passkeys in a real browser (issue 12): dave adds a passkey in Settings > Account >
// Passkeys (name, password, the browser's prompt, then the recovery code and "I have
// saved" before Activate), logs in with password + passkey ("Use a passkey"), then
// without a password ("Sign in with a passkey"). The authenticator is Chromium's
// DevTools virtual authenticator (CTAP2, internal, resident keys, user verification).
// WebAuthn needs a domain, so this runs at http://localhost:PORT with the server's
// --public-url set to it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, BASE, api, launch, screenshot } from './lib/setup.mjs';

const DAVE = { username: 'dave', password: 'dave-password-1' };
let browser;
let page;
let cdp;
let authenticatorId;
let failed = false;
const pageErrors = [];

function step(name, fn) {
  it(name, async (t) => {
    if (failed) return t.skip('an earlier step failed');
    try {
      await fn(t);
      assert.deepEqual(pageErrors, [], 'no script errors on the pages');
    } catch (e) {
      failed = true;
      throw e;
    }
  });
}

async function expectAccountPage() {
  await page.waitForURL(`${BASE}/settings/account`);
  await page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
}

async function passwordStep() {
  await page.goto(`${BASE}/login`);
  await page.getByLabel('Username').fill(DAVE.username);
  await page.getByLabel('Password', { exact: true }).fill(DAVE.password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function logOut() {
  await page.getByRole('button', { name: 'Logout' }).click();
  await page.waitForURL(`${BASE}/login`);
}

before(async () => {
  assert.ok(ADMIN_PASSWORD, 'GATEHOUSE_ADMIN_PASSWORD must be set to the admin password of the server under test');
  assert.match(BASE, /^http:\/\/localhost:\d+$/, 'passkeys need the server at http://localhost:PORT');
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  page.on('dialog', async (d) => { pageErrors.push(`unexpected script dialog: ${d.message()}`); await d.dismiss(); });
  page.on('pageerror', (e) => { pageErrors.push(e.stack || e.message); });
  cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  }));
});

after(async () => {
  if (browser) await browser.close();
});

describe('the issue 12 passkey journey', { concurrency: false }, () => {
  step('the admin creates dave', async () => {
    const admin = await api('POST', '/api/v1/session', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    assert.equal(admin.status, 200, admin.text);
    const r = await api('POST', '/api/v1/users', { token: admin.body.access_token, body: { ...DAVE, webdav: true } });
    assert.equal(r.status, 201, r.text);
  });

  step('dave adds a passkey: password, the browser prompt, the recovery code, Activate', async () => {
    await passwordStep();
    await expectAccountPage();
    await page.getByRole('button', { name: 'Passkeys' }).click();
    const dialog = page.locator('#dlg-passkeys');
    await dialog.getByText('No passkeys yet.').waitFor();
    await dialog.getByRole('button', { name: 'Add a passkey' }).click();
    await dialog.getByLabel('Name', { exact: true }).fill('Headless laptop');
    await dialog.locator('#passkey-password').fill(DAVE.password);
    await dialog.getByRole('button', { name: 'Continue' }).click();
    const code = dialog.locator('#passkey-recovery-code');
    await code.waitFor({ state: 'visible' });
    const recovery = (await code.textContent()).trim();
    assert.ok(recovery.replace(/-/g, '').length >= 16, recovery);
    await screenshot(page, 'passkey-recovery-code', { dialog: true });
    // Not on until Activate: the API still says 2FA is off.
    const me = await api('POST', '/api/v1/session', { body: DAVE });
    assert.equal(me.status, 200, 'the password alone still works before activation');
    const activate = dialog.getByRole('button', { name: 'Activate' });
    assert.equal(await activate.isDisabled(), true);
    await dialog.getByLabel('I have saved my recovery code in a safe place').check();
    await Promise.all([page.waitForEvent('load'), activate.click()]);
    await page.getByRole('button', { name: 'Passkeys' }).click();
    await page.locator('#dlg-passkeys').getByText('Headless laptop').waitFor();
    await screenshot(page, 'passkeys-list', { dialog: true });
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0].isResidentCredential, true, 'a discoverable passkey');
    const need = await api('POST', '/api/v1/session', { body: DAVE });
    assert.equal(need.status, 401);
    assert.deepEqual(need.body.methods, ['passkey', 'recovery']);
  });

  step('dave logs in with his password and then "Use a passkey"', async () => {
    await page.keyboard.press('Escape');
    await logOut();
    await passwordStep();
    const use = page.getByRole('button', { name: 'Use a passkey' });
    await use.waitFor({ state: 'visible' });
    await screenshot(page, 'login-use-a-passkey');
    await use.click();
    await expectAccountPage();
  });

  step('dave signs in without a password: "Sign in with a passkey"', async () => {
    await logOut();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expectAccountPage();
    await page.getByRole('button', { name: 'Passkeys' }).click();
    const row = page.locator('#dlg-passkeys tr', { hasText: 'Headless laptop' });
    await row.waitFor();
    assert.doesNotMatch(await row.textContent(), /Never/, 'the last use is listed');
    await screenshot(page, 'passkeys-after-passwordless', { dialog: true });
  });
});
