//! Two-factor authentication: setting up a TOTP authenticator (start, confirm,
//! activate), turning it off, and checking a code or the recovery code at login
//! (docs/design.md, "Enable 2FA", "Recovery code", "Disable 2FA").
//!
//! The setup follows the seed's order: start (a new key), confirm (a code from the
//! app; the answer carries the recovery code, once), activate (2FA on). Until
//! activation the setup is only pending: the account is exactly as before, starting
//! again replaces the setup with a new key and a new recovery code, and a pending
//! setup expires [`SETUP_TTL`] seconds after it was started.

use serde::Serialize;

use super::{Gatehouse, RequestMeta, ServiceError};
use crate::clock::rfc3339;
use crate::domain::event::EventKind;
use crate::domain::qr;
use crate::domain::recovery::{RecoveryCode, looks_like_totp_code, normalize_recovery_code};
use crate::domain::totp::{self, TotpParams, TotpSecret};
use crate::domain::user::{AuthMethod, User, username_key};
use crate::security::hasher::Priority;
use crate::store::{FactorStore as _, Passcode, PasscodeStore as _};

/// How long a setup may stay pending (started but not activated): 30 minutes.
pub const SETUP_TTL: i64 = 30 * 60;

/// The passcode JSON of the API. Setup fields appear only in the answer that starts a
/// setup; `recovery_code` only in the answer to confirm.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasscodeView {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_grouped: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_svg: Option<String>,
    pub created_at: String,
    pub verified_at: Option<String>,
    pub activated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
}

impl PasscodeView {
    pub fn status(p: &Passcode) -> Self {
        Self {
            kind: p.kind.clone(),
            secret: None,
            secret_grouped: None,
            uri: None,
            qr_code: None,
            qr_svg: None,
            created_at: rfc3339(p.created_at),
            verified_at: p.verified_at.map(rfc3339),
            activated_at: p.activated_at.map(rfc3339),
            recovery_code: None,
        }
    }
}

/// What a login's code turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeCheck {
    Passed(SecondFactor),
    /// Wrong or malformed: a guess, counted by the throttle.
    Wrong,
    /// The right recovery code, redeemed a moment ago by a parallel login (the
    /// owner's own double submit), or a factor that login removed meanwhile: refused,
    /// but not a guess.
    AlreadyUsed,
}

/// Which second factor a login used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    Totp,
    /// The recovery code: 2FA is now off.
    Recovery,
}

impl SecondFactor {
    pub fn method(self) -> &'static str {
        match self {
            SecondFactor::Totp => "password and verification code",
            SecondFactor::Recovery => "password and recovery code",
        }
    }

    pub fn notice(self) -> Option<String> {
        (self == SecondFactor::Recovery).then(|| {
            "Your recovery code has been used and two-factor authentication is now disabled: your \
             authenticator app and passkeys were removed. Set them up again in Settings > Account."
                .to_owned()
        })
    }
}

fn now_u64(now: i64) -> u64 {
    u64::try_from(now).unwrap_or(0)
}

impl Gatehouse {
    /// The TOTP parameters gatehouse issues: SHA-1, 6 digits, 30 s, ±1 step.
    pub fn totp_params(&self) -> TotpParams {
        TotpParams::default()
    }

    fn open_secret(&self, p: &Passcode) -> Result<TotpSecret, ServiceError> {
        let bytes = self.key.open(&p.secret_sealed, &p.user_uid)?;
        Ok(TotpSecret::from_bytes(bytes.to_vec()))
    }

    /// Checks the account password for a sensitive change, under the brute-force limits.
    pub(crate) async fn confirm_password(
        &self,
        user: &User,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<(), ServiceError> {
        let guard = self.throttle_begin(&username_key(&user.username), meta).await?;
        if self.hasher.verify(password, Some(&user.password_hash), Priority::Owner).await? {
            guard.neutral(self).await;
            Ok(())
        } else {
            guard.failed(self).await;
            Err(ServiceError::WrongPassword)
        }
    }

    /// The user's authenticator or pending setup, if any (an expired setup is gone).
    pub async fn passcode_status(&self, user: &User) -> Result<Option<Passcode>, ServiceError> {
        match self.store.passcode(&user.uid).await? {
            Some(p) if p.activated_at.is_none() => Ok(self.unexpired(p).await?),
            other => Ok(other),
        }
    }

    /// `p`, a pending setup, unless it has expired — then it is removed.
    async fn unexpired(&self, p: Passcode) -> Result<Option<Passcode>, ServiceError> {
        let started_by = self.now() - SETUP_TTL;
        if p.created_at > started_by {
            return Ok(Some(p));
        }
        self.store.discard_pending_passcode(&p.user_uid, started_by).await?;
        Ok(None)
    }

    /// The pending setup of `user`: refused while 2FA is active, absent or expired.
    async fn pending_setup(&self, user: &User) -> Result<Passcode, ServiceError> {
        match self.store.passcode(&user.uid).await? {
            Some(p) if p.activated_at.is_some() => {
                Err(ServiceError::Conflict("two-factor authentication is already active".into()))
            }
            Some(p) => self.unexpired(p).await?.ok_or_else(|| {
                ServiceError::Conflict("the two-factor setup has expired after 30 minutes; start again".into())
            }),
            None => Err(ServiceError::NotFound("two-factor setup")),
        }
    }

    /// Step 1: after the password, a new secret with its setup key, URI and QR code.
    /// Replaces a pending setup (its key and recovery code no longer matter); refused
    /// while a TOTP authenticator is active (passkeys do not stand in the way: TOTP is
    /// then a later second factor).
    pub async fn start_totp_setup(
        &self,
        user: &User,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<PasscodeView, ServiceError> {
        self.confirm_password(user, password, meta).await?;
        let active =
            || ServiceError::Conflict("two-factor authentication is already active; deactivate it first".into());
        let secret = TotpSecret::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let now = self.now();
        let passcode = Passcode {
            user_uid: user.uid.clone(),
            kind: "totp".to_owned(),
            secret_sealed: self.key.seal(secret.as_bytes(), &user.uid)?,
            created_at: now,
            verified_at: None,
            activated_at: None,
            last_step: -1,
            recovery_hash: None,
        };
        if !self.store.start_passcode(&passcode).await? {
            return Err(active());
        }
        let uri = totp::otpauth_uri(&self.settings.site_title, &user.username, &secret, &self.totp_params());
        let qr_code = qr::png_data_url(&uri).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let qr_svg = qr::svg(&uri).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(PasscodeView {
            secret: Some(secret.to_base32()),
            secret_grouped: Some(secret.grouped_base32()),
            uri: Some(uri),
            qr_code: Some(qr_code),
            qr_svg: Some(qr_svg),
            ..PasscodeView::status(&passcode)
        })
    }

    /// Checks a TOTP code against `p` and consumes its time step atomically. Returns
    /// `Ok(false)` for a wrong code and records replays.
    async fn accept_totp(
        &self,
        user: &User,
        p: &Passcode,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<bool, ServiceError> {
        let secret = self.open_secret(p)?;
        let params = self.totp_params();
        let now = now_u64(self.now());
        let last = u64::try_from(p.last_step).ok();
        let Some(step) = totp::verify(&secret, &params, code, now, last) else {
            if totp::verify(&secret, &params, code, now, None).is_some() {
                self.record(EventKind::ReplayRejected, user.into(), meta, "", "a code that was already used").await;
            }
            return Ok(false);
        };
        let step = i64::try_from(step).map_err(|e| ServiceError::Internal(e.to_string()))?;
        if self.store.consume_step(&user.uid, step).await? {
            Ok(true)
        } else {
            // Another request used the same code a moment ago.
            self.record(EventKind::ReplayRejected, user.into(), meta, "", "a code used by a concurrent request").await;
            Ok(false)
        }
    }

    /// Step 2: a code from the app proves the setup; the code is consumed. When this is
    /// the account's first second factor, the answer carries the recovery code, shown
    /// this once and stored only as a hash; a later factor keeps the account's code.
    /// Nothing is switched on yet.
    pub async fn confirm_totp(
        &self,
        user: &User,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<PasscodeView, ServiceError> {
        let guard = self.throttle_begin(&username_key(&user.username), meta).await?;
        let pending = self.pending_setup(user).await?;
        if !self.accept_totp(user, &pending, code, meta).await? {
            guard.failed(self).await;
            return Err(ServiceError::InvalidPasscode);
        }
        guard.neutral(self).await;
        let recovery = match self.store.recovery_hash(&user.uid).await? {
            Some(_) => None,
            None => Some(self.new_recovery_code().await?),
        };
        let hash = recovery.as_ref().map(|(_, hash)| hash.as_str());
        if !self.store.mark_verified(&user.uid, &pending.secret_sealed, hash, self.now()).await? {
            return Err(ServiceError::Conflict("the setup changed meanwhile; start again".into()));
        }
        let p = self.store.passcode(&user.uid).await?.ok_or(ServiceError::NotFound("two-factor setup"))?;
        Ok(PasscodeView {
            recovery_code: recovery.map(|(code, _)| code.as_str().to_owned()),
            ..PasscodeView::status(&p)
        })
    }

    /// A new recovery code and its slow hash, for an account's first second factor.
    pub(crate) async fn new_recovery_code(&self) -> Result<(RecoveryCode, String), ServiceError> {
        let recovery = RecoveryCode::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let hash = self.hasher.hash(recovery.as_str()).await?;
        Ok((recovery, hash))
    }

    /// Step 3, once the user has saved the recovery code: turns 2FA on. Ends the
    /// user's other web sessions; app passwords keep working.
    pub async fn activate_totp(
        &self,
        user: &User,
        current_session: &str,
        meta: &RequestMeta,
    ) -> Result<PasscodeView, ServiceError> {
        let p = self.pending_setup(user).await?;
        if p.verified_at.is_none() {
            return Err(ServiceError::Conflict("confirm a verification code first".into()));
        }
        let now = self.now();
        if !self.store.activate_passcode(&user.uid, now, now - SETUP_TTL, current_session).await? {
            return Err(ServiceError::Conflict("the setup changed meanwhile; start again".into()));
        }
        self.record(EventKind::TwoFactorEnabled, user.into(), meta, "", "TOTP authenticator").await;
        let activated = self.store.passcode(&user.uid).await?.unwrap_or(p);
        Ok(PasscodeView::status(&activated))
    }

    /// Removes the TOTP authenticator after the password (the user's own choice). 2FA
    /// goes off with it unless a passkey remains; the user's other sessions end
    /// (`current_session` is kept). Returns whether 2FA is still on.
    pub async fn deactivate_totp(
        &self,
        user: &User,
        password: &str,
        current_session: &str,
        meta: &RequestMeta,
    ) -> Result<bool, ServiceError> {
        self.confirm_password(user, password, meta).await?;
        let (removed, still_on) = self.store.remove_passcode(&user.uid, self.now(), current_session).await?;
        if !removed && (still_on || user.auth_method != AuthMethod::TwoFactor) {
            return Err(ServiceError::NotFound("two-factor authenticator"));
        }
        if still_on {
            self.record(EventKind::TotpRemoved, user.into(), meta, "", "2FA stays on with passkeys").await;
        } else {
            self.record(EventKind::TwoFactorDisabled, user.into(), meta, "", "2FA disabled by the user").await;
        }
        Ok(still_on)
    }

    /// Checks the `code` of a login for a user with 2FA: a TOTP code, or the recovery
    /// code (which removes every second factor and is thereby used up).
    pub(crate) async fn check_second_factor(
        &self,
        user: &User,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<CodeCheck, ServiceError> {
        // `user` was read with 2FA on. If its recovery code is gone since, 2FA went off
        // (the invariant: a recovery code exists while 2FA is on): a login redeemed it in
        // parallel and this one lost that race, refused but not a guess. A missing
        // authenticator alone (2FA by passkey) is no such race.
        if looks_like_totp_code(code) {
            let active = self.store.passcode(&user.uid).await?.filter(|p| p.activated_at.is_some());
            if let Some(p) = active
                && self.accept_totp(user, &p, code, meta).await?
            {
                return Ok(CodeCheck::Passed(SecondFactor::Totp));
            }
            if self.store.recovery_hash(&user.uid).await?.is_none() {
                return Ok(CodeCheck::AlreadyUsed);
            }
            self.record(EventKind::PasscodeInvalid, user.into(), meta, "", "wrong verification code").await;
            return Ok(CodeCheck::Wrong);
        }
        let Some(normalized) = normalize_recovery_code(code) else {
            self.record(EventKind::PasscodeInvalid, user.into(), meta, "", "malformed code").await;
            return Ok(CodeCheck::Wrong);
        };
        let Some(hash) = self.store.recovery_hash(&user.uid).await? else {
            return Ok(CodeCheck::AlreadyUsed);
        };
        if !self.hasher.verify(&normalized, Some(&hash), Priority::Owner).await? {
            self.record(EventKind::PasscodeInvalid, user.into(), meta, "", "wrong recovery code").await;
            return Ok(CodeCheck::Wrong);
        }
        if !self.store.redeem_recovery(&user.uid, &hash, self.now()).await? {
            // The right code, redeemed by a concurrent login a moment ago: no guess.
            return Ok(CodeCheck::AlreadyUsed);
        }
        self.record(EventKind::RecoveryCodeUsed, user.into(), meta, "", "").await;
        self.record(EventKind::TwoFactorDisabled, user.into(), meta, "recovery", "2FA disabled by the recovery code")
            .await;
        Ok(CodeCheck::Passed(SecondFactor::Recovery))
    }

    /// The second factors a login may use now: `totp`, `passkey` (when passkeys are
    /// available on this server), `recovery`.
    pub(crate) async fn second_factor_methods(&self, user: &User) -> Result<Vec<&'static str>, ServiceError> {
        let factors = self.store.factors(&user.uid).await?;
        let mut methods = Vec::new();
        if factors.passkeys > 0 && self.passkeys_off().is_none() {
            methods.push("passkey");
        }
        if factors.totp {
            methods.push("totp");
        }
        methods.push("recovery");
        Ok(methods)
    }
}
