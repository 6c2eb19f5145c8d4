/* The 2-Factor Authentication dialog, in the seed's order: confirm the password, scan
   the QR code or type the setup key, enter the code (the answer carries the recovery
   code), keep the recovery code (Download, Print, Copy), say so, and only then Activate
   turns 2FA on. Leaving or reloading before Activate leaves 2FA off; opening the dialog
   again starts over with a new key and a new code. When 2FA is on: status and
   Deactivate. */
'use strict';

(function () {
  const GH = window.GH;
  const dialog = document.getElementById('dlg-2fa');
  if (!dialog) return;
  const body = document.body.dataset;
  const base = '/api/v1/users/' + encodeURIComponent(body.uid) + '/passcode';
  const active = dialog.dataset.active === 'true';
  let locked = false;

  /* The recovery-code step's Download and Print, for every dialog that shows one
     (this one and Passkeys): the buttons name the element holding the code. */
  function codeOf(button, attr) {
    const node = document.getElementById(button.getAttribute(attr));
    return node ? node.textContent.trim() : '';
  }

  function recoveryText(code) {
    return [
      (body.site || 'gatehouse') + ' recovery code for ' + body.username,
      '',
      code,
      '',
      'Use this code to log in if you cannot use your authenticator app or passkey.',
      'It works once and disables 2-factor authentication for your account.',
      'Saved on ' + new Date().toISOString().slice(0, 10) + '.',
      ''
    ].join('\n');
  }

  document.querySelectorAll('[data-recovery-download]').forEach(function (button) {
    button.addEventListener('click', function () {
      const blob = new Blob([recoveryText(codeOf(button, 'data-recovery-download'))], { type: 'text/plain;charset=utf-8' });
      const url = URL.createObjectURL(blob);
      const safe = function (s) { return String(s).replace(/[^A-Za-z0-9._-]+/g, '-'); };
      const link = GH.el('a', { href: url, download: safe(body.site || 'gatehouse') + '-recovery-code-' + safe(body.username) + '.txt' });
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
      GH.announce('The recovery code file has been downloaded');
    });
  });

  document.querySelectorAll('[data-recovery-print]').forEach(function (button) {
    button.addEventListener('click', function () {
      const area = GH.el('div', { id: 'print-area' }, [
        GH.el('h1', { text: (body.site || 'gatehouse') + ' recovery code' }),
        GH.el('p', { text: 'Account: ' + body.username }),
        GH.el('p', { className: 'print-code', text: codeOf(button, 'data-recovery-print') }),
        GH.el('p', { text: 'Use this code to log in if you cannot use your authenticator app or passkey. It works once and disables 2-factor authentication for your account.' })
      ]);
      document.body.append(area);
      document.body.classList.add('printing');
      const cleanup = function () { document.body.classList.remove('printing'); area.remove(); };
      window.addEventListener('afterprint', cleanup, { once: true });
      window.print();
    });
  });

  // The recovery code must not be lost by an accidental Escape.
  dialog.addEventListener('cancel', function (event) { if (locked) event.preventDefault(); });

  function finish(message) {
    GH.flash(message);
    locked = false;
    dialog.dataset.reload = '1';
    dialog.close();
  }

  if (active) {
    const off = document.getElementById('tfa-deactivate-form');
    dialog.addEventListener('gh:open', async function () {
      off.reset();
      GH.formError(off, null);
      try {
        const p = await GH.api('GET', base);
        if (p && p.activated_at) {
          const since = document.getElementById('tfa-since');
          since.replaceChildren(' since ', GH.timeNode(p.activated_at));
        }
      } catch (_) { /* the status above is enough */ }
    });
    GH.onSubmit(off, async function () {
      const r = await GH.api('POST', base + '/deactivate', { password: document.getElementById('tfa-off-password').value });
      finish(r && r.status === 'authenticator removed'
        ? 'The authenticator app has been removed. 2-factor authentication stays on with your passkeys.'
        : '2-factor authentication has been deactivated.');
    });
    return;
  }

  const pwForm = document.getElementById('tfa-password-form');
  const setupForm = document.getElementById('tfa-setup-form');
  const recoveryForm = document.getElementById('tfa-recovery-form');
  const saved = document.getElementById('tfa-saved');
  const done = document.getElementById('tfa-finish');
  const closeX = dialog.querySelector('.dialog-head [data-close]');

  // Cancel at the recovery-code step: nothing was activated, the next opening starts over.
  dialog.addEventListener('close', function () {
    if (!locked) return;
    locked = false;
    closeX.hidden = false;
    document.getElementById('tfa-recovery-code').textContent = '';
  });

  dialog.addEventListener('gh:open', function () {
    pwForm.reset();
    setupForm.reset();
    GH.showStep(dialog, 'password');
  });

  GH.onSubmit(pwForm, async function () {
    const p = await GH.api('POST', base, { type: 'totp', password: document.getElementById('tfa-password').value });
    const qr = document.getElementById('tfa-qr');
    if (typeof p.qr_code === 'string' && p.qr_code.startsWith('data:image/png;base64,')) qr.src = p.qr_code;
    const key = p.secret_grouped || String(p.secret || '').replace(/(.{4})(?=.)/g, '$1 ');
    document.getElementById('tfa-key').textContent = key;
    pwForm.reset();
    GH.showStep(dialog, 'setup');
    document.getElementById('tfa-code').focus();
  });

  GH.onSubmit(setupForm, async function () {
    const code = document.getElementById('tfa-code').value.replace(/\s+/g, '');
    const confirmed = await GH.api('POST', base + '/confirm', { code: code });
    if (confirmed && !confirmed.recovery_code && body.twoFactor === 'true') {
      // A later second factor: the account's recovery code stays; nothing to save.
      await GH.api('POST', base + '/activate');
      finish('Your authenticator app has been added. Your recovery code stays the same.');
      return;
    }
    if (!confirmed || !confirmed.recovery_code) throw new Error('the server sent no recovery code. Please start again.');
    document.getElementById('tfa-recovery-code').textContent = confirmed.recovery_code;
    saved.checked = false;
    done.disabled = true;
    locked = true;
    closeX.hidden = true;
    GH.showStep(dialog, 'recovery');
    document.getElementById('tfa-download').focus();
  });

  saved.addEventListener('change', function () { done.disabled = !saved.checked; });

  GH.onSubmit(recoveryForm, async function () {
    if (!saved.checked) throw new Error('please confirm that you have saved your recovery code.');
    await GH.api('POST', base + '/activate');
    closeX.hidden = false;
    finish('2-factor authentication is now enabled. Keep your recovery code in a safe place.');
  });
})();
