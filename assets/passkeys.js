/* The Passkeys dialog: list, add (name and password, then the browser's passkey
   prompt), rename and remove (password). The account's first second factor shows the
   recovery code with Download / Print / Copy, and only "I have saved" + Activate turns
   the passkey and 2FA on — the same step as the authenticator app's. */
'use strict';

(function () {
  const GH = window.GH;
  const dialog = document.getElementById('dlg-passkeys');
  if (!dialog) return;
  const base = '/api/v1/users/' + encodeURIComponent(document.body.dataset.uid) + '/passkeys';
  const addForm = document.getElementById('passkey-add-form');
  const recoveryForm = document.getElementById('passkey-recovery-form');
  const renameForm = document.getElementById('passkey-rename-form');
  const removeForm = document.getElementById('passkey-remove-form');
  const saved = document.getElementById('passkey-saved');
  const activateButton = document.getElementById('passkey-activate');
  const closeX = dialog.querySelector('.dialog-head [data-close]');
  let pendingId = '';
  let selectedId = '';
  let locked = false;

  function done(message) {
    GH.flash(message);
    locked = false;
    dialog.dataset.reload = '1';
    dialog.close();
  }

  dialog.addEventListener('cancel', function (event) { if (locked) event.preventDefault(); });
  dialog.addEventListener('close', function () {
    if (!locked) return;
    locked = false;
    closeX.hidden = false;
    document.getElementById('passkey-recovery-code').textContent = '';
  });
  dialog.addEventListener('gh:open', function () {
    [addForm, renameForm, removeForm].forEach(function (f) { f.reset(); });
    GH.showStep(dialog, 'list');
  });
  dialog.querySelectorAll('[data-passkey-back]').forEach(function (b) {
    b.addEventListener('click', function () { GH.showStep(dialog, 'list'); });
  });

  const add = document.getElementById('passkey-new');
  if (add) {
    add.addEventListener('click', function () {
      if (!GH.passkeysSupported()) {
        GH.formError(dialog.querySelector('[data-step="list"]'), 'This browser does not support passkeys.');
        return;
      }
      addForm.reset();
      GH.showStep(dialog, 'add');
    });
  }

  GH.onSubmit(addForm, async function () {
    const started = await GH.api('POST', base + '/register/start', {
      name: document.getElementById('passkey-name').value,
      password: document.getElementById('passkey-password').value
    });
    const credential = await GH.createPasskey(started.options);
    const registered = await GH.api('POST', base + '/register/finish', { challenge_id: started.challenge_id, credential: credential });
    addForm.reset();
    if (!registered.recovery_code) {
      done('Your passkey "' + registered.passkey.name + '" has been added.');
      return;
    }
    pendingId = registered.passkey.id;
    document.getElementById('passkey-recovery-code').textContent = registered.recovery_code;
    saved.checked = false;
    activateButton.disabled = true;
    locked = true;
    closeX.hidden = true;
    GH.showStep(dialog, 'recovery');
  });

  saved.addEventListener('change', function () { activateButton.disabled = !saved.checked; });

  GH.onSubmit(recoveryForm, async function () {
    if (!saved.checked) throw new Error('please confirm that you have saved your recovery code.');
    await GH.api('POST', base + '/' + encodeURIComponent(pendingId) + '/activate');
    closeX.hidden = false;
    done('Your passkey has been added and 2-factor authentication is now enabled. Keep your recovery code in a safe place.');
  });

  dialog.addEventListener('click', function (event) {
    const rename = event.target.closest('[data-passkey-rename]');
    const remove = event.target.closest('[data-passkey-remove]');
    if (rename) {
      selectedId = rename.dataset.passkeyRename;
      renameForm.reset();
      document.getElementById('passkey-new-name').value = rename.dataset.name || '';
      GH.showStep(dialog, 'rename');
    } else if (remove) {
      selectedId = remove.dataset.passkeyRemove;
      removeForm.reset();
      document.getElementById('passkey-remove-name').textContent = remove.dataset.name || '';
      GH.showStep(dialog, 'remove');
    }
  });

  GH.onSubmit(renameForm, async function () {
    await GH.api('PUT', base + '/' + encodeURIComponent(selectedId), { name: document.getElementById('passkey-new-name').value });
    done('The passkey has been renamed.');
  });

  GH.onSubmit(removeForm, async function () {
    const r = await GH.api('DELETE', base + '/' + encodeURIComponent(selectedId), {
      password: document.getElementById('passkey-remove-password').value
    });
    done(r && r.status === '2fa disabled'
      ? 'The passkey has been removed. It was your last second factor: 2-factor authentication is now off.'
      : 'The passkey has been removed.');
  });
})();
