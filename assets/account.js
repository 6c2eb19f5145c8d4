/* Settings > Account: profile, Change Password, Apps and Devices (app passwords, with
   an optional folder limit),
   Connect via WebDAV and the sessions list. 2FA lives in twofactor.js. */
'use strict';

(function () {
  const GH = window.GH;
  const uid = document.body.dataset.uid;
  const username = document.body.dataset.username;
  const userUrl = '/api/v1/users/' + encodeURIComponent(uid);

  function reloadWith(message) {
    if (message) GH.flash(message);
    window.location.reload();
  }

  // Profile: own display name and email.
  const profile = document.getElementById('profile-form');
  GH.onSubmit(profile, async function () {
    await GH.api('PUT', userUrl, {
      name: document.getElementById('profile-name').value,
      email: document.getElementById('profile-email').value
    });
    reloadWith('Your profile has been saved.');
  });

  // Change Password.
  const pwDialog = document.getElementById('dlg-password');
  const pwForm = document.getElementById('password-form');
  pwDialog.addEventListener('gh:open', function () { pwForm.reset(); GH.formError(pwForm, null); });
  GH.onSubmit(pwForm, async function () {
    const next = document.getElementById('pw-new').value;
    if (next !== document.getElementById('pw-repeat').value) {
      throw new Error('the new passwords do not match. Please type the same password twice.');
    }
    const revokeApps = document.getElementById('pw-revoke-apps').checked;
    await GH.api('PUT', userUrl + '/password', {
      old_password: document.getElementById('pw-old').value,
      new_password: next,
      revoke_app_passwords: revokeApps
    });
    pwDialog.dataset.reload = '';
    pwDialog.close();
    reloadWith('Your password has been changed. Your other sessions have been logged out' +
      (revokeApps ? ' and all app passwords have been revoked.' : '; your app passwords keep working.'));
  });

  // Revoke a session or an app password (both are sessions of this user).
  async function revoke(button) {
    const row = button.closest('tr');
    const table = button.closest('table');
    const scope = button.closest('[data-step]') || button.closest('section');
    const dialog = button.closest('dialog');
    button.disabled = true;
    try {
      await GH.api('DELETE', userUrl + '/sessions/' + encodeURIComponent(button.dataset.revoke));
      const name = row.querySelector('td') ? row.querySelector('td').textContent.trim() : '';
      row.remove();
      if (table && !table.tBodies[0].rows.length) {
        const cols = table.tHead.rows[0].cells.length;
        table.tBodies[0].append(GH.el('tr', {}, [GH.el('td', { colSpan: cols, className: 'muted', text: 'Nothing left here.' })]));
      }
      GH.announce('Revoked ' + name);
      if (dialog) dialog.dataset.reload = '1';
    } catch (e) {
      button.disabled = false;
      const box = scope.querySelector('.form-error') || document.getElementById('sessions-error');
      GH.formError(box, e.message);
    }
  }
  document.addEventListener('click', function (event) {
    const b = event.target.closest('[data-revoke]');
    if (b) revoke(b);
  });

  // Apps and Devices: list, generate, show once.
  const apps = document.getElementById('dlg-apps');
  const genForm = document.getElementById('apps-generate-form');
  apps.addEventListener('gh:open', function () {
    genForm.reset();
    GH.showStep(apps, 'list');
  });
  document.getElementById('apps-new').addEventListener('click', function () { GH.showStep(apps, 'generate'); });
  document.getElementById('apps-back').addEventListener('click', function () { GH.showStep(apps, 'list'); });
  GH.onSubmit(genForm, async function () {
    const name = document.getElementById('app-name').value.trim();
    const body = {
      grant_type: 'password',
      client_name: name,
      scope: document.getElementById('app-scope').value,
      expires_in: parseInt(document.getElementById('app-expires').value, 10) || 0,
      username: username,
      password: document.getElementById('app-password').value
    };
    // A folder limit: both or neither (the server says so when only one is given).
    const folder = document.getElementById('app-folder').value.trim();
    const access = document.getElementById('app-access').value;
    if (folder) body.path = folder;
    if (access) body.access = access;
    const reply = await GH.api('POST', '/api/v1/oauth/token', body);
    document.getElementById('apps-created-name').textContent = reply.client_name || name;
    document.getElementById('apps-created-password').textContent = reply.access_token;
    genForm.reset();
    apps.dataset.reload = '1';
    GH.showStep(apps, 'created');
  });

  // Connect via WebDAV: full addresses for this server.
  document.querySelectorAll('[data-webdav-path]').forEach(function (node) {
    node.textContent = window.location.origin + node.dataset.webdavPath;
  });
})();
