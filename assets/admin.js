/* Admin > Users: Add user and the User Details dialog (fields, folders: home, share
   and unshare, Disable 2FA, password reset for super admins, sessions with revoke,
   delete). Guardrail refusals from the
   API are shown as they are worded there. */
'use strict';

(function () {
  const GH = window.GH;
  const me = document.body.dataset.uid;
  const isSuper = document.body.dataset.superAdmin === 'true';
  const $ = function (id) { return document.getElementById(id); };
  const userUrl = function (uid) { return '/api/v1/users/' + encodeURIComponent(uid); };

  // Add user.
  const addDialog = $('dlg-add-user');
  const addForm = $('add-user-form');
  addDialog.addEventListener('gh:open', function () { addForm.reset(); GH.formError(addForm, null); });
  GH.onSubmit(addForm, async function () {
    const body = {
      username: $('new-username').value.trim(),
      password: $('new-password').value,
      name: $('new-name').value.trim(),
      email: $('new-email').value.trim(),
      role: $('new-role').value,
      can_login: $('new-can-login').checked,
      webdav: $('new-webdav').checked
    };
    if (isSuper) body.super_admin = $('new-super-admin').checked;
    const home = $('new-home').value.trim();
    if (home) body.home = home;
    const user = await GH.api('POST', '/api/v1/users', body);
    GH.flash('User ' + user.username + ' has been created.');
    addDialog.dataset.reload = '1';
    addDialog.close();
  });

  // User Details.
  const dialog = $('dlg-user');
  const form = $('user-form');
  const errorBox = $('user-error');
  const notice = $('user-notice');
  let user = null;

  function say(message, isError) {
    errorBox.hidden = true;
    notice.hidden = true;
    const box = isError ? errorBox : notice;
    box.textContent = message;
    box.hidden = !message;
    if (message) box.scrollIntoView({ block: 'nearest' });
  }

  async function attempt(work) {
    say('', false);
    try {
      await work();
    } catch (e) {
      say(e.message, true);
    }
  }

  function fill(u) {
    user = u;
    $('dlg-user-title').textContent = 'User Details: ' + (u.name || u.username);
    $('user-username').value = u.username;
    $('user-name').value = u.name;
    $('user-email').value = u.email;
    $('user-role').value = u.role;
    $('user-can-login').checked = u.can_login;
    $('user-webdav').checked = u.webdav;
    $('user-super-admin').checked = u.super_admin;
    dialog.querySelectorAll('.js-username').forEach(function (n) { n.textContent = u.username; });
    const on = u.auth_method === '2fa';
    $('user-2fa-status').replaceChildren(
      GH.el('span', { className: on ? 'badge badge-ok' : 'badge badge-off', text: on ? 'Enabled' : 'Disabled' }),
      on ? ' This user logs in with a password and a verification code.' : ' This user logs in with a password only.'
    );
    $('user-disable-2fa').hidden = !on;
    $('user-folders-admin').hidden = u.role !== 'admin';
    $('user-2fa-confirm').hidden = true;
    $('user-delete-confirm').hidden = true;
    const reset = $('user-reset-form');
    if (reset) { reset.hidden = u.uid === me; reset.reset(); }
  }

  function sessionRows(list) {
    const tbody = $('user-sessions').tBodies[0];
    const kinds = { web: 'Web', app_password: 'App password', access_token: 'Access token', client: 'Client' };
    const rows = list.map(function (s) {
      const revoke = GH.el('button', {
        type: 'button', className: 'btn btn-small btn-danger-quiet', text: 'Revoke',
        'aria-label': 'Revoke ' + (kinds[s.kind] || s.kind) + ' ' + (s.name || s.login_ip)
      });
      revoke.addEventListener('click', function () {
        attempt(async function () {
          await GH.api('DELETE', userUrl(user.uid) + '/sessions/' + encodeURIComponent(s.id));
          revoke.closest('tr').remove();
          say('The session has been revoked.', false);
        });
      });
      return GH.el('tr', {}, [
        GH.el('td', { 'data-label': 'Kind', text: kinds[s.kind] || s.kind }),
        GH.el('td', { 'data-label': 'Device or name', text: s.name || GH.agentLabel(s.user_agent), title: s.user_agent || '' }),
        GH.el('td', { 'data-label': 'IP address', text: s.login_ip || '—' }),
        GH.el('td', { 'data-label': 'Last active' }, [GH.timeNode(s.last_active)]),
        GH.el('td', { className: 'cell-action' }, [s.current ? GH.el('span', { className: 'badge badge-ok', text: 'This browser' }) : revoke])
      ]);
    });
    if (!rows.length) rows.push(GH.el('tr', {}, [GH.el('td', { colSpan: 5, className: 'muted', text: 'No active sessions.' })]));
    tbody.replaceChildren.apply(tbody, rows);
  }

  // Folders: the home rows and the shares, with unshare for shares.
  const accessLabels = { read: 'Read', append: 'Add only', write: 'Read and write' };
  function homeOf(list) {
    const homes = list.filter(function (g) { return g.kind === 'home'; });
    if (homes.some(function (g) { return g.path === '/'; })) return '/';
    const first = homes[0];
    if (!first) return '';
    return first.path.replace(/^\/(originals|import)\//, '').replace(/\/$/, '');
  }

  function folderRows(list) {
    const tbody = $('user-folders').tBodies[0];
    const rows = list.map(function (g) {
      let action = GH.el('span', { className: 'muted small', text: 'change the home below' });
      if (g.kind === 'shared') {
        action = GH.el('button', {
          type: 'button', className: 'btn btn-small btn-danger-quiet', text: 'Unshare',
          'aria-label': 'Unshare ' + g.path
        });
        action.addEventListener('click', function () {
          attempt(async function () {
            await GH.api('DELETE', userUrl(user.uid) + '/folders?path=' + encodeURIComponent(g.path));
            await loadFolders();
            say(g.path + ' is no longer shared with ' + user.username + '.', false);
          });
        });
      }
      return GH.el('tr', {}, [
        GH.el('td', { 'data-label': 'Folder' }, [GH.el('code', { text: g.path })]),
        GH.el('td', { 'data-label': 'Access', text: accessLabels[g.access] || g.access }),
        GH.el('td', { 'data-label': 'Kind', text: g.kind === 'home' ? 'Home' : 'Shared' }),
        GH.el('td', { className: 'cell-action' }, [action])
      ]);
    });
    if (!rows.length) rows.push(GH.el('tr', {}, [GH.el('td', { colSpan: 4, className: 'muted', text: 'No folders.' })]));
    tbody.replaceChildren.apply(tbody, rows);
    $('user-home').value = homeOf(list);
  }

  async function loadFolders() {
    folderRows(await GH.api('GET', userUrl(user.uid) + '/folders'));
  }

  $('user-home-form').addEventListener('submit', function (event) {
    event.preventDefault();
    if (!$('user-home-form').reportValidity()) return;
    attempt(async function () {
      fill(await GH.api('PUT', userUrl(user.uid), { home: $('user-home').value.trim() }));
      await loadFolders();
      say('The home of ' + user.username + ' has been changed.', false);
    });
  });

  $('user-share-form').addEventListener('submit', function (event) {
    event.preventDefault();
    const shareForm = $('user-share-form');
    if (!shareForm.reportValidity()) return;
    attempt(async function () {
      const grant = await GH.api('PUT', userUrl(user.uid) + '/folders', {
        path: $('user-share-path').value.trim(),
        access: $('user-share-access').value
      });
      shareForm.reset();
      await loadFolders();
      say(grant.path + ' is shared with ' + user.username + ' (' + (accessLabels[grant.access] || grant.access) + ').', false);
    });
  });

  async function open(uid, button) {
    if (button) button.disabled = true;
    try {
      const results = await Promise.all([
        GH.api('GET', userUrl(uid)), GH.api('GET', userUrl(uid) + '/sessions'), GH.api('GET', userUrl(uid) + '/folders')
      ]);
      fill(results[0]);
      sessionRows(results[1]);
      folderRows(results[2]);
      $('user-share-form').reset();
      say('', false);
      GH.openDialog('dlg-user');
    } catch (e) {
      GH.showFlash(e.message);
    } finally {
      if (button) button.disabled = false;
    }
  }

  document.addEventListener('click', function (event) {
    const b = event.target.closest('[data-user]');
    if (b) { open(b.dataset.user, b); return; }
    const cancel = event.target.closest('[data-cancel-confirm]');
    if (cancel) cancel.closest('.confirm').hidden = true;
  });

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (!form.reportValidity()) return;
    attempt(async function () {
      const wanted = {
        name: $('user-name').value.trim(),
        email: $('user-email').value.trim(),
        role: $('user-role').value,
        can_login: $('user-can-login').checked,
        webdav: $('user-webdav').checked,
        super_admin: $('user-super-admin').checked
      };
      const patch = {};
      Object.keys(wanted).forEach(function (k) { if (wanted[k] !== user[k]) patch[k] = wanted[k]; });
      if (!Object.keys(patch).length) { say('Nothing has changed.', false); return; }
      fill(await GH.api('PUT', userUrl(user.uid), patch));
      dialog.dataset.reload = '1';
      say('The changes have been saved.', false);
    });
  });

  $('user-disable-2fa').addEventListener('click', function () {
    $('user-2fa-confirm').hidden = false;
    $('user-disable-2fa-yes').focus();
  });
  $('user-disable-2fa-yes').addEventListener('click', function () {
    attempt(async function () {
      fill(await GH.api('PUT', userUrl(user.uid), { auth_method: 'default' }));
      // Disabling 2FA ends the user's sessions: show what is left.
      sessionRows(await GH.api('GET', userUrl(user.uid) + '/sessions'));
      dialog.dataset.reload = '1';
      say('2FA has been disabled for ' + user.username + '.', false);
    });
  });

  const reset = $('user-reset-form');
  if (reset) {
    reset.addEventListener('submit', function (event) {
      event.preventDefault();
      if (!reset.reportValidity()) return;
      attempt(async function () {
        const keep = $('user-keep-apps').checked;
        const done = await GH.api('PUT', userUrl(user.uid) + '/password', {
          new_password: $('user-new-password').value,
          keep_app_passwords: keep
        });
        reset.reset();
        sessionRows(await GH.api('GET', userUrl(user.uid) + '/sessions'));
        const ended = done && typeof done.sessions_ended === 'number' ? done.sessions_ended : 0;
        const revoked = done && typeof done.app_passwords_revoked === 'number' ? done.app_passwords_revoked : 0;
        say('The password of ' + user.username + ' has been reset. ' +
          ended + (ended === 1 ? ' session' : ' sessions') + ' ended; ' +
          (keep ? 'app passwords kept.' : revoked + (revoked === 1 ? ' app password' : ' app passwords') + ' revoked.'), false);
      });
    });
  }

  $('user-delete').addEventListener('click', function () {
    $('user-delete-confirm').hidden = false;
    $('user-delete-yes').focus();
  });
  $('user-delete-yes').addEventListener('click', function () {
    attempt(async function () {
      await GH.api('DELETE', userUrl(user.uid));
      GH.flash('User ' + user.username + ' has been deleted.');
      dialog.dataset.reload = '1';
      dialog.close();
    });
  });
})();
