/* The login form: password first; when the account has 2FA, the verification code (or
   the recovery code) next, keeping the username and password; throttling shows when
   to try again. */
'use strict';

(function () {
  const form = document.getElementById('login-form');
  if (!form) return;
  const username = document.getElementById('username');
  const password = document.getElementById('password');
  const code = document.getElementById('code');
  const passwordStep = document.getElementById('password-step');
  const codeStep = document.getElementById('code-step');
  const codeUser = document.getElementById('code-user');
  const error = document.getElementById('login-error');
  const submit = document.getElementById('login-submit');
  const usePasskey = document.getElementById('use-passkey');
  const passkeyLogin = document.getElementById('passkey-login');
  const codeIntro = document.getElementById('code-intro');
  let waitTimer = null;

  function next() {
    const n = form.dataset.next || '/settings/account';
    return n.startsWith('/') && !n.startsWith('//') ? n : '/settings/account';
  }

  function showError(message) {
    error.textContent = message || '';
    error.hidden = !message;
  }

  function askForCode(methods) {
    const withPasskey = (methods || []).indexOf('passkey') >= 0 && window.GH.passkeysSupported();
    const withTotp = (methods || []).indexOf('totp') >= 0;
    usePasskey.hidden = !withPasskey;
    if (withPasskey) {
      codeIntro.textContent = withTotp
        ? 'Use one of your passkeys, or enter the verification code from your authenticator app. If you cannot, enter your recovery code.'
        : 'Use one of your passkeys. If you cannot, enter your recovery code.';
    }
    passwordStep.hidden = true;
    codeStep.hidden = false;
    // Past the password, signing in without one is no longer the question.
    if (passkeyLogin) passkeyLogin.hidden = true;
    codeUser.textContent = username.value;
    code.required = true;
    submit.textContent = 'Verify';
    (withPasskey ? usePasskey : code).focus();
  }

  function askForPassword() {
    usePasskey.hidden = true;
    codeStep.hidden = true;
    passwordStep.hidden = false;
    if (passkeyLogin) passkeyLogin.hidden = !window.GH.passkeysSupported();
    code.value = '';
    code.required = false;
    password.value = '';
    submit.textContent = 'Log in';
    showError(null);
    username.focus();
    username.select();
  }

  function waitBeforeRetry(seconds) {
    window.clearInterval(waitTimer);
    let left = Math.max(1, seconds);
    const say = function () {
      showError('Too many failed attempts. Please try again in ' + left + (left === 1 ? ' second.' : ' seconds.'));
    };
    submit.disabled = true;
    submit.dataset.keepDisabled = '1';
    say();
    waitTimer = window.setInterval(function () {
      left -= 1;
      if (left > 0) { say(); return; }
      window.clearInterval(waitTimer);
      delete submit.dataset.keepDisabled;
      submit.disabled = false;
      showError('You can try again now.');
    }, 1000);
  }

  document.getElementById('code-back').addEventListener('click', askForPassword);

  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    if (submit.dataset.keepDisabled) return;
    if (!username.value.trim() || !password.value) {
      showError('Enter your username and password.');
      (username.value.trim() ? password : username).focus();
      return;
    }
    const inCodeStep = !codeStep.hidden;
    if (inCodeStep && !code.value.trim()) {
      showError('Enter the verification code from your authenticator app, or your recovery code.');
      code.focus();
      return;
    }
    const body = { username: username.value.trim(), password: password.value };
    if (inCodeStep) body.code = code.value.trim();
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    showError(null);
    try {
      const reply = await window.GH.api('POST', '/api/v1/session', body);
      if (reply && reply.notice) window.GH.flash(window.GH.sentence(reply.notice));
      window.location.assign(next());
      return;
    } catch (e) {
      if (e.status === 429) {
        const m = /(\d+)\s*second/.exec(e.message);
        waitBeforeRetry(e.retryAfter || (m ? parseInt(m[1], 10) : 60));
      } else if (e.code === 'passcode required') {
        askForCode(e.body.methods);
        if (inCodeStep) showError(e.message);
      } else if (e.code === 'invalid passcode') {
        showError(e.message);
        code.select();
      } else if (e.code === 'invalid credentials' && inCodeStep) {
        askForPassword();
        showError(e.message);
      } else {
        showError(e.message);
        (inCodeStep ? code : password).focus();
      }
    } finally {
      submit.removeAttribute('aria-busy');
      if (!submit.dataset.keepDisabled) submit.disabled = false;
    }
  });
  /* Passkeys: as the second factor (the password again binds the challenge to this
     account) or passwordless with a discoverable passkey. */
  async function passkey(startBody, button) {
    if (submit.dataset.keepDisabled) return;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    showError(null);
    try {
      const started = await window.GH.api('POST', '/api/v1/session/passkey/start', startBody);
      const credential = await window.GH.getPasskey(started.options);
      await window.GH.api('POST', '/api/v1/session/passkey/finish', { challenge_id: started.challenge_id, credential: credential });
      window.location.assign(next());
      return;
    } catch (e) {
      if (e.status === 429) {
        const m = /(\d+)\s*second/.exec(e.message);
        waitBeforeRetry(e.retryAfter || (m ? parseInt(m[1], 10) : 60));
      } else {
        showError(e.message);
      }
    } finally {
      button.removeAttribute('aria-busy');
      button.disabled = false;
    }
  }

  usePasskey.addEventListener('click', function () {
    passkey({ username: username.value.trim(), password: password.value }, usePasskey);
  });

  if (passkeyLogin) {
    if (!window.GH.passkeysSupported()) passkeyLogin.hidden = true;
    passkeyLogin.addEventListener('click', function () { passkey({}, passkeyLogin); });
  }
})();
