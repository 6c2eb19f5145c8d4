// The journey of issue 6 in a real browser: admin creates bob; bob reloads the page at
// the recovery-code step (2FA stays off), starts again with a new key and code, enables
// 2FA from the setup key on the page, downloads the recovery code, activates, makes a WebDAV app
// password and uses it with curl; logs in with password + code, then with the recovery
// code (2FA is off afterwards); carol's 2FA (set up over the API) is disabled by the
// admin in the User Details dialog and she logs in with her password alone; the admin's
// reset of bob's password revokes his app passwords; the forms save values at the edges
// of the server's field rules (issue 13); the admin shares a folder with carol, changes
// her home and unshares it (issue 19). Every page
// is saved as a screenshot under target/e2e-screenshots/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ADMIN_PASSWORD, BASE, api, curl, launch, screenshot } from './lib/setup.mjs';
import { freshCode } from './lib/totp.mjs';

const BOB = { username: 'bob', password: 'bob-password-1', name: 'Bob <img src=x onerror=alert(1)>' };
const CAROL = { username: 'carol', password: 'carol-password-1', name: 'Carol Danvers' };

let browser;
let failed = false;
/** Uncaught errors in the pages' scripts: any one fails the step it happened in. */
const pageErrors = [];
const state = { bobKey: '', bobStep: -1, recovery: '', firstKey: '', firstRecovery: '', appPassword: '', carolUid: '' };

/** A step of the journey; once one fails, the later ones are skipped. */
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

/** A new browser context (its own cookies) with a page that fails on any script dialog. */
async function newPage() {
  const context = await browser.newContext({
    acceptDownloads: true,
    viewport: { width: 1280, height: 860 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  page.on('dialog', async (d) => {
    pageErrors.push(`unexpected script dialog: ${d.type()} ${d.message()}`);
    await d.dismiss();
  });
  page.on('pageerror', (e) => { pageErrors.push(e.stack || e.message); });
  return page;
}

async function text(locator) {
  await locator.waitFor({ state: 'visible' });
  return (await locator.textContent()).trim();
}

/** Runs `action`, which makes the page load again, and waits for the new page. */
async function reloads(page, action) {
  await Promise.all([page.waitForEvent('load'), action()]);
}

async function logIn(page, username, password) {
  await page.goto(`${BASE}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function logOut(page) {
  await page.getByRole('button', { name: 'Logout' }).click();
  await page.waitForURL(`${BASE}/login`);
}

async function expectAccountPage(page) {
  await page.waitForURL(`${BASE}/settings/account`);
  await page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
}

before(async () => {
  assert.ok(ADMIN_PASSWORD, 'GATEHOUSE_ADMIN_PASSWORD must be set to the admin password of the server under test');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

describe('the issue 6 journey', { concurrency: false }, () => {
  step('arrange: carol exists with 2FA set up through the API', async () => {
    const admin = await api('POST', '/api/v1/session', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    assert.equal(admin.status, 200, admin.text);
    const made = await api('POST', '/api/v1/users', {
      token: admin.body.access_token,
      body: { username: CAROL.username, password: CAROL.password, name: CAROL.name },
    });
    assert.equal(made.status, 201, made.text);
    state.carolUid = made.body.uid;
    const carol = await api('POST', '/api/v1/session', { body: { username: CAROL.username, password: CAROL.password } });
    assert.equal(carol.status, 200, carol.text);
    const token = carol.body.access_token;
    const base = `/api/v1/users/${state.carolUid}/passcode`;
    const setup = await api('POST', base, { token, body: { type: 'totp', password: CAROL.password } });
    assert.equal(setup.status, 200, setup.text);
    const { code } = await freshCode(setup.body.secret);
    assert.equal((await api('POST', `${base}/confirm`, { token, body: { code } })).status, 200);
    const activated = await api('POST', `${base}/activate`, { token });
    assert.equal(activated.status, 200, activated.text);
    const plain = await api('POST', '/api/v1/session', { body: { username: CAROL.username, password: CAROL.password } });
    assert.equal(plain.status, 401);
    assert.equal(plain.body.error, 'passcode required');
  });

  let page;

  step('admin logs in and creates bob with WebDAV allowed', async () => {
    page = await newPage();
    await page.goto(`${BASE}/`);
    await page.waitForURL(`${BASE}/login`);
    await screenshot(page, 'login');
    await logIn(page, 'admin', 'wrong-password');
    assert.match(await text(page.getByRole('alert')), /invalid username or password/i);
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await expectAccountPage(page);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.waitForURL(`${BASE}/admin/users`);
    await page.getByRole('button', { name: 'Add user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add user' });
    await dialog.getByLabel('Username').fill(BOB.username);
    await dialog.getByLabel('Display name').fill(BOB.name);
    await dialog.getByLabel('Email').fill('bob@example.com');
    await dialog.getByLabel('Password', { exact: true }).fill(BOB.password);
    await dialog.getByLabel('WebDAV').check();
    await screenshot(page, 'admin-add-user', { dialog: true });
    await reloads(page, () => dialog.getByRole('button', { name: 'Create user' }).click());
    const row = page.locator('#users-table tr', { hasText: '@bob' });
    await row.waitFor();
    assert.match(await row.textContent(), /Allowed/);
    // The display name is text, not markup.
    assert.equal(await text(row.locator('.user-display')), BOB.name);
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    await page.getByLabel('Search users').fill('bob');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=bob/);
    assert.equal(await page.locator('#users-table tbody tr').count(), 1);
    await screenshot(page, 'admin-users');
    await logOut(page);
  });

  /** Opens the 2FA dialog, enters the password and the code; returns the dialog at the
   * recovery-code step with the setup key and the recovery code it shows. */
  async function setUpTo2faRecoveryStep(password) {
    await page.getByRole('button', { name: '2-Factor Authentication' }).click();
    const dialog = page.getByRole('dialog', { name: '2-Factor Authentication' });
    await dialog.getByLabel('Password', { exact: true }).fill(password);
    await dialog.getByRole('button', { name: 'Continue' }).click();
    const key = await text(dialog.locator('#tfa-key'));
    assert.match(key, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/, 'setup key in groups of four');
    await dialog.getByRole('img', { name: /QR code/ }).waitFor();
    assert.ok((await dialog.locator('#tfa-qr').getAttribute('src')).startsWith('data:image/png;base64,'));
    const plainKey = key.replace(/\s/g, '');
    const { code, step: used } = await freshCode(plainKey);
    await dialog.getByLabel('Verification code').fill(code);
    await dialog.getByRole('button', { name: 'Continue' }).click();
    const recovery = await text(dialog.locator('#tfa-recovery-code'));
    return { dialog, key: plainKey, step: used, recovery };
  }

  step('bob reloads the page at the recovery-code step: 2FA is still off', async () => {
    await logIn(page, BOB.username, BOB.password);
    await expectAccountPage(page);
    assert.equal(await text(page.getByRole('heading', { level: 2, name: BOB.name })), BOB.name);
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'the display name must not become an <img>');
    await screenshot(page, 'account');
    const first = await setUpTo2faRecoveryStep(BOB.password);
    assert.ok(first.recovery.length >= 16, `recovery code ${first.recovery}`);
    const activate = first.dialog.getByRole('button', { name: 'Activate' });
    assert.equal(await activate.isDisabled(), true, 'Activate waits for "I have saved it"');
    state.firstRecovery = first.recovery;
    state.firstKey = first.key;
    // The browser reloads (or the tab closes) before Activate.
    await page.reload();
    await expectAccountPage(page);
    assert.equal(await text(page.locator('#twofactor-status')), 'Disabled');
    const plain = await api('POST', '/api/v1/session', { body: { username: BOB.username, password: BOB.password } });
    assert.equal(plain.status, 200, `the password alone still logs in: ${plain.text}`);
  });

  step('bob starts again, keeps the new recovery code and activates 2FA', async () => {
    const { dialog, key, step: used, recovery } = await setUpTo2faRecoveryStep(BOB.password);
    assert.notEqual(key, state.firstKey, 'starting again makes a new key');
    assert.notEqual(recovery, state.firstRecovery, 'and a new recovery code');
    state.bobKey = key;
    state.bobStep = used;
    state.recovery = recovery;
    for (const name of ['Download', 'Print', 'Copy recovery code']) {
      await dialog.getByRole('button', { name }).waitFor();
    }
    await screenshot(page, '2fa-recovery-code', { dialog: true });
    const [download] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('button', { name: 'Download' }).click()]);
    assert.match(download.suggestedFilename(), /recovery-code-bob\.txt$/);
    const file = readFileSync(await download.path(), 'utf8');
    assert.ok(file.includes(state.recovery), 'the downloaded file holds the recovery code');
    await dialog.getByRole('button', { name: 'Copy recovery code' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), state.recovery, 'Copy puts the code on the clipboard');
    await page.evaluate(() => { window.print = () => { window.printedText = document.getElementById('print-area').textContent; }; });
    await dialog.getByRole('button', { name: 'Print' }).click();
    assert.ok((await page.evaluate(() => window.printedText)).includes(state.recovery), 'Print prints the code');
    const activate = dialog.getByRole('button', { name: 'Activate' });
    assert.equal(await activate.isDisabled(), true, 'activating waits for "I have saved it"');
    await dialog.getByLabel('I have saved my recovery code in a safe place').check();
    await reloads(page, () => activate.click());
    assert.equal(await text(page.locator('#twofactor-status')), 'Enabled');
    // The recovery code of the abandoned setup does not work.
    const old = await api('POST', '/api/v1/session', {
      body: { username: BOB.username, password: BOB.password, code: state.firstRecovery },
    });
    assert.equal(old.status, 401, old.text);
  });

  step('bob generates a WebDAV app password and uses it with curl', async () => {
    await page.getByRole('button', { name: 'Apps and Devices' }).click();
    const dialog = page.getByRole('dialog', { name: 'Apps and Devices' });
    await dialog.getByRole('button', { name: 'Generate' }).click();
    await dialog.getByLabel('Name').fill('PhotoSync');
    await dialog.getByLabel('Scope').selectOption({ label: 'WebDAV' });
    await dialog.getByLabel('Expires').selectOption({ label: 'After 31 days' });
    await dialog.getByLabel('Password', { exact: true }).fill(BOB.password);
    await screenshot(page, 'apps-generate', { dialog: true });
    await dialog.getByRole('button', { name: 'Generate' }).click();
    state.appPassword = await text(dialog.locator('#apps-created-password'));
    assert.match(state.appPassword, /^[A-Za-z0-9]{6}-[A-Za-z0-9]{6}-[A-Za-z0-9]{6}-[A-Za-z0-9]{6}$/);
    await dialog.getByRole('button', { name: 'Copy app password' }).waitFor();
    await screenshot(page, 'apps-created', { dialog: true });
    await reloads(page, () => dialog.getByRole('button', { name: 'Done' }).click());
    await page.getByRole('button', { name: 'Apps and Devices' }).click();
    const listed = page.locator('#apps-table tr', { hasText: 'PhotoSync' });
    assert.match(await text(listed), /WebDAV/);
    await screenshot(page, 'apps-list', { dialog: true });
    await page.keyboard.press('Escape');

    await page.getByRole('button', { name: 'Connect via WebDAV' }).click();
    const dav = page.getByRole('dialog', { name: 'Connect via WebDAV' });
    assert.equal(await text(dav.locator('#dav-originals')), `${BASE}/originals/`);
    assert.equal(await text(dav.locator('#dav-import')), `${BASE}/import/`);
    await screenshot(page, 'webdav', { dialog: true });
    await page.keyboard.press('Escape');

    const auth = `${BOB.username}:${state.appPassword}`;
    // A new account reaches its home, /originals/bob/ (folder grants).
    const put = curl(['-u', auth, '-X', 'PUT', '--data-binary', 'hello', `${BASE}/originals/bob/hello-from-curl.txt`]);
    assert.ok([200, 201, 204].includes(put.status), `PUT ${put.status} ${put.body}`);
    const list = curl(['-u', auth, '-X', 'PROPFIND', '-H', 'Depth: 1', `${BASE}/originals/bob/`]);
    assert.equal(list.status, 207, list.body);
    assert.match(list.body, /hello-from-curl\.txt/);
    const refused = curl(['-u', `${BOB.username}:${BOB.password}`, '-X', 'PROPFIND', '-H', 'Depth: 1', `${BASE}/originals/`]);
    assert.equal(refused.status, 401, 'with 2FA on, the account password does not work for WebDAV');
    const scoped = curl(['-u', auth, `${BASE}/api/v1/session`]);
    assert.equal(scoped.status, 403, 'a WebDAV app password cannot use the API');
    // Revoked in the dialog, the app password stops working at once.
    await page.getByRole('button', { name: 'Apps and Devices' }).click();
    await page.getByRole('button', { name: 'Revoke app password PhotoSync' }).click();
    await page.locator('#apps-table tr', { hasText: 'PhotoSync' }).waitFor({ state: 'detached' });
    const revoked = curl(['-u', auth, `${BASE}/api/v1/session`]);
    assert.equal(revoked.status, 401, revoked.body);
    await reloads(page, () => page.getByRole('dialog', { name: 'Apps and Devices' }).getByRole('button', { name: 'Close' }).last().click());
    await logOut(page);
  });

  step('bob logs in with password and verification code', async () => {
    await logIn(page, BOB.username, BOB.password);
    const codeField = page.getByLabel('Verification code');
    await codeField.waitFor();
    assert.equal(await page.getByLabel('Password', { exact: true }).isVisible(), false, 'the password is not asked again');
    await codeField.fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    assert.match(await text(page.getByRole('alert')), /Invalid verification code/);
    await screenshot(page, 'login-code');
    const { code, step: used } = await freshCode(state.bobKey, state.bobStep);
    state.bobStep = used;
    await codeField.fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await expectAccountPage(page);
    await logOut(page);
  });

  step('bob logs in with the recovery code and sees that 2FA is now off', async () => {
    await logIn(page, BOB.username, BOB.password);
    await page.getByLabel('Verification code').fill(state.recovery.toLowerCase());
    await page.getByRole('button', { name: 'Verify' }).click();
    await expectAccountPage(page);
    assert.match(await text(page.locator('#flash')), /2FA|two-factor/i);
    assert.equal(await text(page.locator('#twofactor-status')), 'Disabled');
    await screenshot(page, 'account-after-recovery');
    await logOut(page);
  });

  step('admin disables carol’s 2FA in the User Details dialog', async () => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await expectAccountPage(page);
    await page.goto(`${BASE}/admin/users`);
    await page.getByRole('button', { name: 'Details of carol' }).click();
    const dialog = page.getByRole('dialog', { name: /User Details/ });
    assert.equal(await text(dialog.locator('#user-2fa-status .badge')), 'Enabled');
    assert.ok((await dialog.locator('#user-sessions tbody tr').count()) >= 1, 'carol’s sessions are listed');
    await screenshot(page, 'admin-user-details', { dialog: true });
    await dialog.getByRole('button', { name: 'Disable 2FA' }).click();
    await dialog.getByRole('button', { name: 'Yes, disable 2FA' }).click();
    assert.match(await text(dialog.locator('#user-notice')), /2FA has been disabled for carol/);
    assert.equal(await text(dialog.locator('#user-2fa-status .badge')), 'Disabled');
    // Disabling 2FA ends every session of carol's (the credential-lifecycle table).
    assert.equal(await text(dialog.locator('#user-sessions tbody tr')), 'No active sessions.');
    await api('POST', '/api/v1/session', { body: { username: CAROL.username, password: CAROL.password } });
    await page.goto(`${BASE}/admin/users`);
    await page.getByRole('button', { name: 'Details of carol' }).click();
    const sessions = dialog.locator('#user-sessions tbody tr');
    await sessions.first().getByRole('button', { name: /Revoke/ }).waitFor();
    const before = await sessions.count();
    await sessions.first().getByRole('button', { name: /Revoke/ }).click();
    assert.match(await text(dialog.locator('#user-notice')), /revoked/);
    assert.equal(await sessions.count(), before - 1);
    await dialog.getByRole('button', { name: 'Close' }).last().click();
    // A super admin resets bob's password, as for a compromised account: by default
    // that ends all his sessions and revokes his app passwords.
    const bobWeb = await api('POST', '/api/v1/session', { body: { username: BOB.username, password: BOB.password } });
    assert.equal(bobWeb.status, 200, bobWeb.text);
    const made = await api('POST', '/api/v1/oauth/token', {
      token: bobWeb.body.access_token,
      body: { grant_type: 'password', client_name: 'rclone', scope: 'webdav', expires_in: 0, username: BOB.username, password: BOB.password },
    });
    assert.equal(made.status, 200, made.text);
    const davAuth = `${BOB.username}:${made.body.access_token}`;
    assert.equal(curl(['-u', davAuth, '-X', 'PROPFIND', '-H', 'Depth: 0', `${BASE}/originals/`]).status, 207);
    await page.getByRole('button', { name: 'Details of bob' }).click();
    assert.equal(await dialog.getByLabel('Keep app passwords').isChecked(), false, 'revoking is the default');
    await dialog.getByLabel('New password').fill('bob-password-2');
    await dialog.getByRole('button', { name: 'Reset password' }).click();
    const notice = await text(dialog.locator('#user-notice'));
    assert.match(notice, /password of bob has been reset/);
    assert.match(notice, /1 app password revoked/);
    assert.equal(curl(['-u', davAuth, '-X', 'PROPFIND', '-H', 'Depth: 0', `${BASE}/originals/`]).status, 401, 'the app password is revoked');
    assert.equal((await api('GET', '/api/v1/session', { token: bobWeb.body.access_token })).status, 401, 'his sessions are ended');
    await screenshot(page, 'admin-reset-password', { dialog: true });
    // A guardrail: the admin cannot take away their own login.
    await dialog.getByRole('button', { name: 'Close' }).last().click();
    await page.getByRole('button', { name: 'Details of admin' }).click();
    await dialog.getByLabel('Login allowed').uncheck();
    await dialog.getByRole('button', { name: 'Save' }).click();
    assert.match(await text(dialog.locator('#user-error')), /lock yourself out|last admin/i);
    await screenshot(page, 'admin-guardrail', { dialog: true });
    await page.keyboard.press('Escape');
    await logOut(page);
  });

  step('admin shares a folder with carol, changes her home and unshares it in the User Details dialog', async () => {
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await expectAccountPage(page);
    await page.goto(`${BASE}/admin/users`);
    await page.getByRole('button', { name: 'Details of carol' }).click();
    const dialog = page.getByRole('dialog', { name: /User Details/ });
    const rows = dialog.locator('#user-folders tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 2, 'her home in each library');
    assert.equal(await dialog.getByLabel('Home folder').inputValue(), CAROL.username);
    await dialog.getByLabel('Share a folder').fill('/originals/family');
    await dialog.locator('#user-share-access').selectOption({ label: 'Read' });
    await dialog.getByRole('button', { name: 'Share', exact: true }).click();
    assert.match(await text(dialog.locator('#user-notice')), /\/originals\/family\/ is shared with carol \(Read\)/);
    const unshareName = { name: 'Unshare /originals/family/', exact: true };
    const unshare = dialog.getByRole('button', unshareName);
    const shared = rows.filter({ has: page.getByRole('button', unshareName) });
    assert.match(await text(shared), /Read.*Shared/);
    await dialog.getByLabel('Home folder').fill('family/carol');
    await dialog.getByRole('button', { name: 'Change home' }).click();
    assert.match(await text(dialog.locator('#user-notice')), /home of carol has been changed/);
    await dialog.locator('#user-folders tbody tr', { hasText: '/originals/family/carol/' }).waitFor();
    await screenshot(page, 'admin-user-folders', { dialog: true });
    await unshare.click();
    await shared.waitFor({ state: 'detached' });
    const admin = await api('POST', '/api/v1/session', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    const listed = await api('GET', `/api/v1/users/${state.carolUid}/folders`, { token: admin.body.access_token });
    assert.deepEqual(listed.body.map((g) => g.path).sort(), ['/import/family/carol/', '/originals/family/carol/']);
    await page.keyboard.press('Escape');
    await logOut(page);
  });

  step('carol logs in with her password alone', async () => {
    await logIn(page, CAROL.username, CAROL.password);
    await expectAccountPage(page);
    assert.equal(await text(page.locator('#twofactor-status')), 'Disabled');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'account-mobile');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  step('carol changes her password, enables 2FA again and deactivates it with her password', async () => {
    await page.getByRole('button', { name: 'Change Password' }).click();
    const pw = page.getByRole('dialog', { name: 'Change Password' });
    await pw.getByLabel('Current password').fill(CAROL.password);
    await pw.getByLabel('New password', { exact: true }).fill('carol-password-2');
    await pw.getByLabel('Repeat new password').fill('carol-password-3');
    await pw.getByRole('button', { name: 'Change Password' }).click();
    assert.match(await text(pw.getByRole('alert')), /do not match/);
    await pw.getByLabel('Repeat new password').fill('carol-password-2');
    await pw.getByLabel('Also revoke all app passwords').check();
    await reloads(page, () => pw.getByRole('button', { name: 'Change Password' }).click());
    assert.match(await text(page.locator('#flash')), /password has been changed.*app passwords have been revoked/);
    CAROL.password = 'carol-password-2';

    await page.getByRole('button', { name: '2-Factor Authentication' }).click();
    const tfa = page.getByRole('dialog', { name: '2-Factor Authentication' });
    await tfa.getByLabel('Password').fill('wrong-password');
    await tfa.getByRole('button', { name: 'Continue' }).click();
    assert.match(await text(tfa.getByRole('alert')), /password/i);
    await tfa.getByLabel('Password').fill(CAROL.password);
    await tfa.getByRole('button', { name: 'Continue' }).click();
    const key = (await text(tfa.locator('#tfa-key'))).replace(/\s/g, '');
    const { code } = await freshCode(key);
    await tfa.getByLabel('Verification code').fill(code);
    await tfa.getByRole('button', { name: 'Continue' }).click();
    await tfa.getByLabel('I have saved my recovery code in a safe place').check();
    await reloads(page, () => tfa.getByRole('button', { name: 'Activate' }).click());
    assert.equal(await text(page.locator('#twofactor-status')), 'Enabled');

    await page.getByRole('button', { name: '2-Factor Authentication' }).click();
    assert.match(await text(tfa.getByText('2FA is enabled')), /enabled/);
    await screenshot(page, '2fa-active', { dialog: true });
    await tfa.getByLabel('Password').fill(CAROL.password);
    await reloads(page, () => tfa.getByRole('button', { name: 'Deactivate' }).click());
    assert.equal(await text(page.locator('#twofactor-status')), 'Disabled');
    assert.match(await text(page.locator('#flash')), /deactivated/);
    await logOut(page);
    await logIn(page, BOB.username, 'bob-password-2');
    await expectAccountPage(page);
    await logOut(page);
  });

  step('the pages save values at the edges of what the server accepts', async () => {
    // One rule per field (src/domain/fields.rs): the longest username and display name,
    // the shortest password, e-mail addresses with a plus, Unicode and no dot.
    const stem = 'Edge.u_s-e@r';
    const EDGE = {
      username: stem + '9'.repeat(64 - stem.length),
      password: 'edge-pw8',
      name: 'Zoë-'.repeat(50),
      email: 'jürgen+tag@bücher',
    };
    assert.equal(EDGE.username.length, 64);
    assert.equal(EDGE.name.length, 200);
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await expectAccountPage(page);
    await page.goto(`${BASE}/admin/users`);
    await page.getByRole('button', { name: 'Add user' }).click();
    const add = page.getByRole('dialog', { name: 'Add user' });
    await add.getByLabel('Username').fill(EDGE.username);
    await add.getByLabel('Display name').fill(EDGE.name);
    await add.getByLabel('Email').fill(EDGE.email);
    await add.getByLabel('Password', { exact: true }).fill(EDGE.password);
    await reloads(page, () => add.getByRole('button', { name: 'Create user' }).click());
    const admin = await api('POST', '/api/v1/session', { body: { username: 'admin', password: ADMIN_PASSWORD } });
    const listed = await api('GET', `/api/v1/users?q=${encodeURIComponent('Edge.u_s')}`, { token: admin.body.access_token });
    assert.equal(listed.body.length, 1, listed.text);
    const saved = listed.body[0];
    assert.deepEqual([saved.username, saved.name, saved.email], [EDGE.username, EDGE.name, EDGE.email]);

    // The admin's User Details form saves an address that HTML's type=email would refuse.
    await page.getByRole('button', { name: `Details of ${EDGE.username}` }).click();
    const details = page.getByRole('dialog', { name: /User Details/ });
    assert.equal(await details.getByLabel('Email').inputValue(), EDGE.email);
    await details.getByLabel('Email').fill('δοκιμή@παράδειγμα');
    await details.getByRole('button', { name: 'Save' }).click();
    assert.match(await text(details.locator('#user-notice')), /changes have been saved/);
    await screenshot(page, 'admin-edge-values', { dialog: true });
    await reloads(page, () => details.getByRole('button', { name: 'Close' }).last().click());
    await logOut(page);

    // The account's own form: saving with the stored address as it is (the bug: an
    // address the API accepted made this form impossible to save), then the shortest.
    await logIn(page, EDGE.username, EDGE.password);
    await expectAccountPage(page);
    assert.equal(await page.getByLabel('Email').inputValue(), 'δοκιμή@παράδειγμα');
    await page.getByLabel('Display name').fill('Ω'.repeat(200));
    await reloads(page, () => page.getByRole('button', { name: 'Save' }).click());
    assert.match(await text(page.locator('#flash')), /profile has been saved/);
    assert.equal(await page.getByLabel('Display name').inputValue(), 'Ω'.repeat(200));
    await page.getByLabel('Email').fill('a@b');
    await reloads(page, () => page.getByRole('button', { name: 'Save' }).click());
    assert.equal(await page.getByLabel('Email').inputValue(), 'a@b');

    // The longest app-password name.
    const appName = 'PhotoSync ' + 'x'.repeat(90);
    await page.getByRole('button', { name: 'Apps and Devices' }).click();
    const apps = page.getByRole('dialog', { name: 'Apps and Devices' });
    await apps.getByRole('button', { name: 'Generate' }).click();
    await apps.getByLabel('Name').fill(appName);
    await apps.getByLabel('Scope').selectOption({ label: 'Full Access' });
    await apps.getByLabel('Password', { exact: true }).fill(EDGE.password);
    await apps.getByRole('button', { name: 'Generate' }).click();
    assert.equal(await text(apps.locator('#apps-created-name')), appName);
    await reloads(page, () => apps.getByRole('button', { name: 'Done' }).click());

    // A new password of exactly the shortest length, through Change Password.
    await page.getByRole('button', { name: 'Change Password' }).click();
    const pw = page.getByRole('dialog', { name: 'Change Password' });
    await pw.getByLabel('Current password').fill(EDGE.password);
    await pw.getByLabel('New password', { exact: true }).fill('8-chars!');
    await pw.getByLabel('Repeat new password').fill('8-chars!');
    await reloads(page, () => pw.getByRole('button', { name: 'Change Password' }).click());
    assert.match(await text(page.locator('#flash')), /password has been changed.*app passwords keep working/);
    await logOut(page);
  });

  step('too many wrong passwords: the login says when to try again', async () => {
    let message = '';
    for (let i = 0; i < 15 && !/try again in \d+ second/.test(message); i += 1) {
      await logIn(page, 'mallory', `wrong-password-${i}`);
      message = await text(page.locator('#login-error'));
    }
    assert.match(message, /try again in \d+ second/);
    assert.equal(await page.getByRole('button', { name: 'Log in' }).isDisabled(), true);
    await screenshot(page, 'login-throttled');
  });
});

