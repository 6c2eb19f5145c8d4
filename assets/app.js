/* gatehouse web UI — shared helpers: API calls with the CSRF header, dialogs, copy
   buttons, inline errors, flash messages, local times and logout. Plain JavaScript,
   no build step; pages add their own script after this one. */
'use strict';

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : '';

  /** A failed API call: HTTP status, the JSON body and Retry-After (seconds). */
  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      const b = body && typeof body === 'object' ? body : {};
      super(sentence(b.message || b.error || 'The request failed (HTTP ' + status + ').'));
      this.status = status;
      this.body = b;
      this.code = b.error || '';
      this.retryAfter = retryAfter;
    }
  }

  function sentence(text) {
    const s = String(text).trim();
    return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
  }

  /** Calls the JSON API. Unsafe methods carry the page's CSRF token. */
  async function api(method, url, body) {
    const headers = { Accept: 'application/json' };
    if (csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf;
    const init = { method: method, headers: headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(url, init);
    } catch (_) {
      throw new ApiError(0, { message: 'The server cannot be reached. Check your connection and try again.' }, null);
    }
    const text = await resp.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (!resp.ok) {
      const ra = parseInt(resp.headers.get('Retry-After') || '', 10);
      if (resp.status === 401 && csrf && data && data.error === 'unauthorized') {
        data = { error: 'unauthorized', message: 'Your session has ended. Please reload the page and log in again.' };
      }
      throw new ApiError(resp.status, data, Number.isFinite(ra) ? ra : null);
    }
    return data;
  }

  /** Creates an element; text children become text nodes, never HTML. */
  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.entries(props || {}).forEach(function ([k, v]) {
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') node.textContent = v;
      else if (k === 'className') node.className = v;
      else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'type' || k === 'title' || k === 'datetime') node.setAttribute(k, v);
      else node[k] = v;
    });
    (children || []).forEach(function (c) {
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    });
    return node;
  }

  function announce(text) {
    const region = document.getElementById('announce');
    if (!region) return;
    region.textContent = '';
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  /** Shows (or with null hides) the inline error of a form or section. */
  function formError(scope, message) {
    const box = scope.matches && scope.matches('.form-error') ? scope : scope.querySelector('.form-error');
    if (!box) return;
    box.textContent = message || '';
    box.hidden = !message;
  }

  /** Runs `handler` on submit with the submit buttons disabled; errors show inline. */
  function onSubmit(form, handler) {
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      if (!form.reportValidity()) return;
      const buttons = form.querySelectorAll('button[type="submit"]');
      buttons.forEach(function (b) { b.disabled = true; b.setAttribute('aria-busy', 'true'); });
      formError(form, null);
      try {
        await handler(event);
      } catch (e) {
        formError(form, e instanceof ApiError ? e.message : 'Something went wrong: ' + e.message);
      } finally {
        buttons.forEach(function (b) { b.removeAttribute('aria-busy'); if (!b.dataset.keepDisabled) b.disabled = false; });
      }
    });
  }

  /** Shows one `[data-step]` of a dialog and focuses its first field. */
  function showStep(dialog, name) {
    dialog.querySelectorAll('[data-step]').forEach(function (s) { s.hidden = s.dataset.step !== name; });
    const step = dialog.querySelector('[data-step="' + name + '"]');
    if (step) {
      formError(step, null);
      const first = step.querySelector('input:not([type="hidden"]):not([readonly]), select, textarea, button.btn-primary');
      if (first) first.focus();
    }
  }

  function openDialog(id) {
    const dialog = document.getElementById(id);
    if (!dialog) return;
    const current = document.querySelector('dialog[open]');
    if (current && current !== dialog) current.close();
    dialog.dispatchEvent(new CustomEvent('gh:open'));
    if (!dialog.open) dialog.showModal();
    // Start at the first field of the visible step rather than at the close button.
    const field = Array.from(dialog.querySelectorAll('input:not([readonly]), select, textarea'))
      .find(function (f) { return f.offsetParent !== null; });
    if (field) field.focus();
  }

  /** A message shown on the next page (after a reload or redirect). */
  function flash(message) {
    try { sessionStorage.setItem('gh.flash', message); } catch (_) { /* private mode */ }
  }

  function showFlash(message) {
    const box = document.getElementById('flash');
    if (!box || !message) return;
    box.textContent = message;
    box.hidden = false;
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch (_) { /* fall back */ }
    }
    const area = el('textarea', { value: text, readOnly: true, className: 'offscreen' });
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
    area.remove();
    return ok;
  }

  function selectText(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  async function copyFrom(button) {
    const target = document.getElementById(button.dataset.copy);
    if (!target) return;
    const ok = await copyText(target.textContent.trim());
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    if (ok) {
      button.textContent = 'Copied';
      announce('Copied to the clipboard');
    } else {
      selectText(target);
      button.textContent = 'Press Ctrl+C';
      announce('Copying is not available here: the text is selected, press Ctrl+C or Cmd+C to copy it');
    }
    window.setTimeout(function () { button.textContent = label; }, 2500);
  }

  /** Shows `<time datetime>` in the reader's time zone. */
  function localTimes(root) {
    (root || document).querySelectorAll('time[datetime]').forEach(function (t) {
      const d = new Date(t.getAttribute('datetime'));
      if (Number.isNaN(d.getTime())) return;
      t.title = t.getAttribute('datetime');
      t.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    });
  }

  function timeNode(iso) {
    const t = el('time', { datetime: iso, text: iso });
    localTimes(el('span', {}, [t]));
    return t;
  }

  /** "Firefox on Linux" from a user agent (the same names as the server's pages). */
  function agentLabel(ua) {
    if (!ua) return 'Unknown device';
    const browsers = [['Edg/', 'Edge'], ['OPR/', 'Opera'], ['Firefox/', 'Firefox'], ['HeadlessChrome/', 'Headless Chrome'],
      ['Chromium/', 'Chromium'], ['Chrome/', 'Chrome'], ['Safari/', 'Safari'], ['curl/', 'curl'], ['rclone/', 'rclone']];
    const systems = [['Android', 'Android'], ['iPhone', 'iOS'], ['iPad', 'iPadOS'], ['Windows', 'Windows'],
      ['Mac OS X', 'macOS'], ['CrOS', 'ChromeOS'], ['Linux', 'Linux']];
    const find = function (list) { const hit = list.find(function (p) { return ua.includes(p[0]); }); return hit ? hit[1] : ''; };
    const b = find(browsers);
    const s = find(systems);
    return b && s ? b + ' on ' + s : (b || s || ua.slice(0, 40));
  }

  document.addEventListener('click', function (event) {
    const opener = event.target.closest('[data-open]');
    if (opener) { openDialog(opener.dataset.open); return; }
    const closer = event.target.closest('[data-close]');
    if (closer) { const d = closer.closest('dialog'); if (d) d.close(); return; }
    const copier = event.target.closest('[data-copy]');
    if (copier) { copyFrom(copier); }
  });

  document.querySelectorAll('dialog').forEach(function (dialog) {
    dialog.addEventListener('close', function () {
      if (dialog.dataset.reload === '1') window.location.reload();
    });
  });

  const logout = document.getElementById('logout');
  if (logout) {
    logout.addEventListener('click', async function () {
      logout.disabled = true;
      try { await api('DELETE', '/api/v1/session'); } catch (_) { /* the session is gone either way */ }
      window.location.assign('/login');
    });
  }

  localTimes(document);
  try {
    const pending = sessionStorage.getItem('gh.flash');
    if (pending) { sessionStorage.removeItem('gh.flash'); showFlash(pending); }
  } catch (_) { /* private mode */ }

  /* Passkeys: the server's WebAuthn options carry binary members as base64url; the
     browser wants ArrayBuffers, and its answer goes back as base64url again. */
  function fromB64url(s) {
    const b64 = String(s).replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - b64.length % 4) % 4));
    return Uint8Array.from(bin, function (c) { return c.charCodeAt(0); }).buffer;
  }

  function toB64url(buf) {
    if (!buf) return null;
    let bin = '';
    new Uint8Array(buf).forEach(function (b) { bin += String.fromCharCode(b); });
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function passkeysSupported() {
    return !!(window.PublicKeyCredential && navigator.credentials);
  }

  function passkeyError(e) {
    if (e && e.name === 'NotAllowedError') return new Error('The passkey request was cancelled or timed out.');
    if (e && e.name === 'InvalidStateError') return new Error('This passkey is already registered.');
    return e instanceof ApiError ? e : new Error('The passkey could not be used: ' + (e && e.message ? e.message : 'unknown error') + '.');
  }

  /** Creates a passkey from the server's options; returns the credential as JSON. */
  async function createPasskey(options) {
    const pk = Object.assign({}, options.publicKey);
    pk.challenge = fromB64url(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64url(pk.user.id) });
    pk.excludeCredentials = (pk.excludeCredentials || []).map(function (c) { return Object.assign({}, c, { id: fromB64url(c.id) }); });
    let cred;
    try { cred = await navigator.credentials.create({ publicKey: pk }); } catch (e) { throw passkeyError(e); }
    const r = cred.response;
    return {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        attestationObject: toB64url(r.attestationObject), clientDataJSON: toB64url(r.clientDataJSON),
        transports: r.getTransports ? r.getTransports() : undefined
      }
    };
  }

  /** Signs the server's login options with a passkey; returns the assertion as JSON. */
  async function getPasskey(options) {
    const pk = Object.assign({}, options.publicKey);
    pk.challenge = fromB64url(pk.challenge);
    pk.allowCredentials = (pk.allowCredentials || []).map(function (c) { return Object.assign({}, c, { id: fromB64url(c.id) }); });
    let cred;
    try { cred = await navigator.credentials.get({ publicKey: pk }); } catch (e) { throw passkeyError(e); }
    const r = cred.response;
    return {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        authenticatorData: toB64url(r.authenticatorData), clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature), userHandle: toB64url(r.userHandle)
      }
    };
  }

  window.GH = {
    api: api, ApiError: ApiError, el: el, announce: announce, formError: formError, onSubmit: onSubmit,
    showStep: showStep, openDialog: openDialog, flash: flash, showFlash: showFlash, localTimes: localTimes,
    timeNode: timeNode, sentence: sentence, agentLabel: agentLabel,
    passkeysSupported: passkeysSupported, createPasskey: createPasskey, getPasskey: getPasskey
  };
})();
