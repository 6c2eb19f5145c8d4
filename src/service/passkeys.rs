//! Passkeys (WebAuthn): adding one (registration), listing, renaming and removing
//! them, and logging in with one — as the second factor after the password, or
//! passwordless with a discoverable credential and user verification (issue 12).
//!
//! Every ceremony's state is stored in the database under the SHA-256 of a random
//! challenge id, bound to the account (or, passwordless, to nothing but that id),
//! expires after [`CHALLENGE_TTL`] and is deleted when it is taken: a login started
//! on one instance finishes on another, and no challenge answers twice. Attestation
//! is `none`; user verification is required; the relying party is the configured
//! public URL's; a signature counter that goes backwards is refused as a possible
//! clone. The first second factor of an account makes its recovery code and turns
//! 2FA on only once the user has saved that code (as TOTP setup does).

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Uuid, Webauthn, WebauthnBuilder,
    WebauthnError,
};
use webauthn_rs_proto::{AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationPolicy};

use super::login::LoggedIn;
use super::throttle::Attempt;
use super::twofactor::SETUP_TTL;
use super::{Gatehouse, RequestMeta, ServiceError};
use crate::clock::rfc3339;
use crate::domain::event::EventKind;
use crate::domain::passkey::{
    CHALLENGE_TTL, MAX_CREDENTIAL_ID, PasskeysOff, RelyingParty, counter_moves_forward, passkey_name, relying_party,
};
use crate::domain::throttle::address_key;
use crate::domain::token::{SessionToken, token_hash};
use crate::domain::user::{User, username_key};
use crate::store::{
    CeremonyRoom, CeremonySaved, FactorStore as _, PasskeyStore as _, StoredChallenge, StoredPasskey, UserStore as _,
};

/// The relying party of this server, or why passkeys are off.
#[derive(Debug, Clone)]
pub struct PasskeyConfig(Result<(RelyingParty, Arc<Webauthn>), PasskeysOff>);

impl PasskeyConfig {
    /// From the public URL alone (never from a request).
    pub fn new(public_url: Option<&url::Url>) -> Self {
        Self(relying_party(public_url).and_then(|rp| {
            let webauthn = WebauthnBuilder::new(&rp.id, &rp.origin)
                .and_then(WebauthnBuilder::build)
                .map_err(|_| PasskeysOff::Insecure(rp.origin.to_string()))?;
            Ok((rp, Arc::new(webauthn)))
        }))
    }
}

/// A passkey as the API lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyView {
    #[schema(example = "pk0a1b2c3d4e5f6g7h")]
    pub id: String,
    pub name: String,
    /// The relying-party id (host) it was made for.
    pub rp_id: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// `false` while it waits, as the first second factor, for the recovery code to be saved.
    pub active: bool,
}

impl PasskeyView {
    fn of(p: &StoredPasskey) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            rp_id: p.rp_id.clone(),
            created_at: rfc3339(p.created_at),
            last_used_at: p.last_used_at.map(rfc3339),
            active: p.activated_at.is_some(),
        }
    }
}

/// A ceremony begun: the id to finish it with and the options for
/// `navigator.credentials.create()` / `.get()` (the `publicKey` member).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CeremonyStarted {
    pub challenge_id: String,
    /// WebAuthn options, binary members as base64url (`{"publicKey": {...}}`).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    /// Seconds until the challenge expires.
    pub expires_in: i64,
}

/// A registered passkey. With `recovery_code` (the account's first second factor) it
/// is not active yet: activate it once the code is saved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyRegistered {
    pub passkey: PasskeyView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
}

const REGISTER: &str = "register";
const SECOND_FACTOR: &str = "second_factor";
const PASSWORDLESS: &str = "passwordless";
/// Pending ceremonies one client address may hold (IPv6 by /64); each lives
/// [`CHALLENGE_TTL`], so this is also the rate an address may start them at.
pub const CEREMONIES_PER_ADDRESS: i64 = 10;
/// Pending ceremonies of one purpose the server holds, from everyone.
pub const CEREMONIES_PER_PURPOSE: i64 = 5_000;
/// The throttle's account key for assertions of unknown credentials.
const UNKNOWN_KEY: &str = "passkey:unknown";

fn refused(message: &str) -> ServiceError {
    ServiceError::PasskeyRefused(message.to_owned())
}

fn expired() -> ServiceError {
    refused("This passkey request has expired or was already used. Please try again.")
}

fn not_verified() -> ServiceError {
    refused("The passkey could not be verified.")
}

fn internal(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(e.to_string())
}

/// The WebAuthn user handle of an account: a UUID derived from its uid, the same for
/// all its passkeys (it reveals nothing a uid does not).
pub fn user_handle(uid: &str) -> Uuid {
    let digest = Sha256::digest(format!("gatehouse passkey user {uid}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

impl Gatehouse {
    /// Why passkeys are off here, or `None` when they are offered.
    pub fn passkeys_off(&self) -> Option<&PasskeysOff> {
        self.passkeys.0.as_ref().err()
    }

    /// The relying-party id passkeys are made for, when they are on.
    pub fn passkey_rp_id(&self) -> Option<&str> {
        self.passkeys.0.as_ref().ok().map(|(rp, _)| rp.id.as_str())
    }

    fn webauthn(&self) -> Result<(&RelyingParty, &Webauthn), ServiceError> {
        match &self.passkeys.0 {
            Ok((rp, w)) => Ok((rp, w)),
            Err(off) => Err(ServiceError::PasskeysOff(off.to_string())),
        }
    }

    /// Stores a ceremony's state; returns its id. Bounded: one address holds at most
    /// [`CEREMONIES_PER_ADDRESS`] pending ceremonies (429 until the first expires), and
    /// the server at most [`CEREMONIES_PER_PURPOSE`] of one purpose (503). Expired
    /// ones are swept here and in housekeeping.
    async fn save_ceremony(
        &self,
        purpose: &str,
        user_uid: Option<&str>,
        name: &str,
        state: &impl Serialize,
        meta: &RequestMeta,
    ) -> Result<String, ServiceError> {
        let (rp, _) = self.webauthn()?;
        let id = SessionToken::generate()?;
        let challenge = StoredChallenge {
            purpose: purpose.to_owned(),
            user_uid: user_uid.map(str::to_owned),
            rp_id: rp.id.clone(),
            name: name.to_owned(),
            state: serde_json::to_string(state).map_err(internal)?,
            expires_at: self.now() + CHALLENGE_TTL,
        };
        let address = address_key(meta.ip);
        let room = CeremonyRoom {
            address: &address,
            now: self.now(),
            per_address: CEREMONIES_PER_ADDRESS,
            per_purpose: CEREMONIES_PER_PURPOSE,
        };
        match self.store.save_challenge(&id.hash(), &challenge, &room).await? {
            CeremonySaved::Saved => Ok(id.expose().to_owned()),
            CeremonySaved::AddressFull { retry_after } => Err(ServiceError::Throttled { retry_after }),
            CeremonySaved::Full => {
                tracing::warn!(purpose, "too many passkey ceremonies pending: refusing new ones");
                Err(ServiceError::Busy("too many passkey requests are pending, please try again shortly".to_owned()))
            }
        }
    }

    /// Takes the ceremony `challenge_id` names if it is one of `purposes` on this
    /// relying party; any other is refused (and, being taken, is gone).
    async fn take_ceremony(&self, challenge_id: &str, purposes: &[&str]) -> Result<StoredChallenge, ServiceError> {
        let (rp, _) = self.webauthn()?;
        if !crate::domain::token::plausible_token(challenge_id) {
            return Err(expired());
        }
        let c = self.store.take_challenge(&token_hash(challenge_id), self.now()).await?.ok_or_else(expired)?;
        if !purposes.contains(&c.purpose.as_str()) || c.rp_id != rp.id {
            return Err(expired());
        }
        Ok(c)
    }

    /// The user's active passkeys, pending ones that expired removed on the way.
    pub async fn list_passkeys(&self, user: &User) -> Result<Vec<PasskeyView>, ServiceError> {
        self.store.discard_pending_passkeys(&user.uid, self.now() - SETUP_TTL).await?;
        let keys = self.store.passkeys(&user.uid).await?;
        Ok(keys.iter().filter(|p| p.activated_at.is_some()).map(PasskeyView::of).collect())
    }

    /// Registration, step 1: after the password, the options for the browser.
    pub async fn start_passkey_registration(
        &self,
        user: &User,
        password: &str,
        name: &str,
        meta: &RequestMeta,
    ) -> Result<CeremonyStarted, ServiceError> {
        let (rp, webauthn) = self.webauthn()?;
        let name = passkey_name(name).map_err(|e| ServiceError::Invalid(e.to_owned()))?;
        self.confirm_password(user, password, meta).await?;
        self.store.discard_pending_passkeys(&user.uid, self.now() - SETUP_TTL).await?;
        let exclude = self
            .store
            .passkeys(&user.uid)
            .await?
            .into_iter()
            .filter(|p| p.rp_id == rp.id)
            .map(|p| p.credential_id)
            .collect::<Vec<_>>();
        let display = if user.name.is_empty() { &user.username } else { &user.name };
        let (mut options, state): (CreationChallengeResponse, PasskeyRegistration) = webauthn
            .start_passkey_registration(user_handle(&user.uid), &user.username, display, Some(exclude))
            .map_err(internal)?;
        // Ask for a discoverable credential, so the same passkey also signs in without
        // a password; keys that cannot store one still work as a second factor.
        options.public_key.authenticator_selection = Some(AuthenticatorSelectionCriteria {
            authenticator_attachment: None,
            resident_key: Some(ResidentKeyRequirement::Preferred),
            require_resident_key: false,
            user_verification: UserVerificationPolicy::Required,
        });
        let challenge_id = self.save_ceremony(REGISTER, Some(&user.uid), &name, &state, meta).await?;
        Ok(CeremonyStarted {
            challenge_id,
            options: serde_json::to_value(&options).map_err(internal)?,
            expires_in: CHALLENGE_TTL,
        })
    }

    /// Registration, step 2: verifies the browser's answer and stores the passkey. As
    /// the account's first second factor it waits for activation, and the answer
    /// carries the recovery code, once; otherwise it is active at once.
    pub async fn finish_passkey_registration(
        &self,
        user: &User,
        challenge_id: &str,
        credential: &RegisterPublicKeyCredential,
        meta: &RequestMeta,
    ) -> Result<PasskeyRegistered, ServiceError> {
        let (rp, webauthn) = self.webauthn()?;
        let c = self.take_ceremony(challenge_id, &[REGISTER]).await?;
        if c.user_uid.as_deref() != Some(user.uid.as_str()) {
            return Err(expired());
        }
        let too_long = || ServiceError::Invalid(format!("the credential id is longer than {MAX_CREDENTIAL_ID} bytes"));
        if credential.raw_id.len() > MAX_CREDENTIAL_ID {
            return Err(too_long());
        }
        let state: PasskeyRegistration = serde_json::from_str(&c.state).map_err(internal)?;
        let passkey = webauthn.finish_passkey_registration(credential, &state).map_err(|e| {
            tracing::debug!(error = %e, "passkey registration refused");
            ServiceError::Invalid("The passkey could not be verified. Please try again.".to_owned())
        })?;
        let credential_id: Vec<u8> = AsRef::<[u8]>::as_ref(passkey.cred_id()).to_vec();
        if credential_id.is_empty() || credential_id.len() > MAX_CREDENTIAL_ID {
            return Err(too_long());
        }
        let now = self.now();
        let recovery = match self.store.recovery_hash(&user.uid).await? {
            Some(_) => None,
            None => Some(self.new_recovery_code().await?),
        };
        let stored = StoredPasskey {
            id: crate::domain::random::public_id("pk", 16)?,
            user_uid: user.uid.clone(),
            credential_id,
            user_handle: user_handle(&user.uid).to_string(),
            rp_id: rp.id.clone(),
            name: c.name,
            credential: serde_json::to_string(&passkey).map_err(internal)?,
            sign_count: 0,
            created_at: now,
            last_used_at: None,
            activated_at: recovery.is_none().then_some(now),
            pending_recovery_hash: recovery.as_ref().map(|(_, hash)| hash.clone()),
        };
        self.store.add_passkey(&stored).await.map_err(|e| match e {
            crate::store::StoreError::Conflict => ServiceError::Conflict("this passkey is already registered".into()),
            crate::store::StoreError::NotFound => ServiceError::NotFound("user"),
            other => other.into(),
        })?;
        if recovery.is_none() {
            self.record(EventKind::PasskeyAdded, user.into(), meta, "", &stored.name).await;
        }
        Ok(PasskeyRegistered {
            passkey: PasskeyView::of(&stored),
            recovery_code: recovery.map(|(code, _)| code.as_str().to_owned()),
        })
    }

    /// Registration, step 3 for a first factor, once the recovery code is saved: the
    /// passkey goes active and 2FA on; the user's other web sessions end.
    pub async fn activate_passkey(
        &self,
        user: &User,
        id: &str,
        current_session: &str,
        meta: &RequestMeta,
    ) -> Result<PasskeyView, ServiceError> {
        let now = self.now();
        // The store answers with the passkey it activated, in the same transaction: what
        // happens to the account afterwards cannot turn a success into a 404.
        let Some(key) = self.store.activate_passkey(&user.uid, id, now, now - SETUP_TTL, current_session).await? else {
            return Err(ServiceError::Conflict(
                "this passkey is not waiting for activation (expired after 30 minutes, or 2FA changed meanwhile); \
                 add it again"
                    .into(),
            ));
        };
        self.record(EventKind::PasskeyAdded, user.into(), meta, "", &key.name).await;
        self.record(EventKind::TwoFactorEnabled, user.into(), meta, "", "passkey").await;
        Ok(PasskeyView::of(&key))
    }

    pub async fn rename_passkey(
        &self,
        user: &User,
        id: &str,
        name: &str,
        meta: &RequestMeta,
    ) -> Result<(), ServiceError> {
        let name = passkey_name(name).map_err(|e| ServiceError::Invalid(e.to_owned()))?;
        if !self.store.rename_passkey(&user.uid, id, &name).await? {
            return Err(ServiceError::NotFound("passkey"));
        }
        self.record(EventKind::PasskeyRenamed, user.into(), meta, "", &name).await;
        Ok(())
    }

    /// Removes a passkey after the password; the user's other sessions end
    /// (`current_session` is kept). Returns whether 2FA is still on (it goes off with
    /// the last second factor).
    pub async fn remove_passkey(
        &self,
        user: &User,
        id: &str,
        password: &str,
        current_session: &str,
        meta: &RequestMeta,
    ) -> Result<bool, ServiceError> {
        let keys = self.store.passkeys(&user.uid).await?;
        let name = keys.iter().find(|p| p.id == id).map(|p| p.name.clone()).ok_or(ServiceError::NotFound("passkey"))?;
        self.confirm_password(user, password, meta).await?;
        let still_on = self
            .store
            .remove_passkey(&user.uid, id, self.now(), current_session)
            .await?
            .ok_or(ServiceError::NotFound("passkey"))?;
        self.record(EventKind::PasskeyRemoved, user.into(), meta, "", &name).await;
        if !still_on && user.auth_method == crate::domain::user::AuthMethod::TwoFactor {
            self.record(EventKind::TwoFactorDisabled, user.into(), meta, "", "the last second factor was removed")
                .await;
        }
        Ok(still_on)
    }

    /// Login with a passkey as the second factor, step 1: the password again (so the
    /// challenge is bound to an account whose password was just proven), then the
    /// options listing that account's passkeys.
    pub async fn start_passkey_login(
        &self,
        username: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<CeremonyStarted, ServiceError> {
        let (rp, webauthn) = self.webauthn()?;
        let (user, guard) = self.password_step(username, password, meta).await?;
        // The right password without the second factor yet: counted as such.
        guard.partial(self).await;
        let keys: Vec<Passkey> = self
            .store
            .passkeys(&user.uid)
            .await?
            .iter()
            .filter(|p| p.activated_at.is_some() && p.rp_id == rp.id)
            .filter_map(|p| serde_json::from_str(&p.credential).ok())
            .collect();
        if keys.is_empty() {
            return Err(ServiceError::Conflict("this account has no passkey for this site".into()));
        }
        let (options, state): (RequestChallengeResponse, PasskeyAuthentication) =
            webauthn.start_passkey_authentication(&keys).map_err(internal)?;
        let challenge_id = self.save_ceremony(SECOND_FACTOR, Some(&user.uid), "", &state, meta).await?;
        Ok(CeremonyStarted {
            challenge_id,
            options: serde_json::to_value(&options).map_err(internal)?,
            expires_in: CHALLENGE_TTL,
        })
    }

    /// Passwordless login, step 1: options for a discoverable credential.
    pub async fn start_passwordless_login(&self, meta: &RequestMeta) -> Result<CeremonyStarted, ServiceError> {
        let (_, webauthn) = self.webauthn()?;
        let (mut options, state): (RequestChallengeResponse, DiscoverableAuthentication) =
            webauthn.start_discoverable_authentication().map_err(internal)?;
        // A button press, not conditional (autofill) mediation.
        options.mediation = None;
        let challenge_id = self.save_ceremony(PASSWORDLESS, None, "", &state, meta).await?;
        Ok(CeremonyStarted {
            challenge_id,
            options: serde_json::to_value(&options).map_err(internal)?,
            expires_in: CHALLENGE_TTL,
        })
    }

    /// Login, step 2 (both kinds): verifies the assertion against the ceremony it
    /// answers and starts the web session.
    pub async fn finish_passkey_login(
        &self,
        challenge_id: &str,
        credential: &PublicKeyCredential,
        meta: &RequestMeta,
    ) -> Result<LoggedIn, ServiceError> {
        let (rp, webauthn) = self.webauthn()?;
        if credential.raw_id.is_empty() || credential.raw_id.len() > MAX_CREDENTIAL_ID {
            return Err(not_verified());
        }
        // The kind of ceremony decides how the account is found. Taking it uses it up,
        // whatever the outcome: a ceremony answers once.
        let purpose = self.take_ceremony(challenge_id, &[SECOND_FACTOR, PASSWORDLESS]).await?;
        let rp_id = rp.id.clone();
        let stored = self.store.passkey_by_credential_id(&credential.raw_id).await?;
        match purpose.purpose.as_str() {
            SECOND_FACTOR => {
                let uid = purpose.user_uid.as_deref().ok_or_else(expired)?;
                let user = self.store.user_by_uid(uid).await?.filter(|u| u.can_login).ok_or_else(expired)?;
                let guard = self.throttle_begin(&username_key(&user.username), meta).await?;
                let key = match stored {
                    Some(k) if k.user_uid == user.uid && k.activated_at.is_some() && k.rp_id == rp_id => k,
                    _ => {
                        return self
                            .assertion_failed(&user, guard, meta, "a passkey not registered to this account")
                            .await;
                    }
                };
                let state: PasskeyAuthentication = serde_json::from_str(&purpose.state).map_err(internal)?;
                let result = webauthn.finish_passkey_authentication(credential, &state);
                self.conclude(user, key, guard, result, "password and passkey", meta).await
            }
            PASSWORDLESS => {
                let handle = credential.get_user_unique_id().and_then(|b| Uuid::from_slice(b).ok());
                let found = match (stored, handle) {
                    (Some(k), Some(h))
                        if k.activated_at.is_some() && k.rp_id == rp_id && k.user_handle == h.to_string() =>
                    {
                        self.store.user_by_uid(&k.user_uid).await?.filter(|u| u.can_login).map(|u| (u, k))
                    }
                    _ => None,
                };
                let Some((user, key)) = found else {
                    let guard = self.throttle_begin(UNKNOWN_KEY, meta).await?;
                    guard.failed(self).await;
                    return Err(not_verified());
                };
                let guard = self.throttle_begin(&username_key(&user.username), meta).await?;
                let passkey: Passkey = serde_json::from_str(&key.credential).map_err(internal)?;
                let state: DiscoverableAuthentication = serde_json::from_str(&purpose.state).map_err(internal)?;
                let result = webauthn.finish_discoverable_authentication_v2(credential, state, &passkey);
                self.conclude(user, key, guard, result, "passkey", meta).await
            }
            _ => Err(expired()),
        }
    }

    async fn assertion_failed(
        &self,
        user: &User,
        guard: Attempt,
        meta: &RequestMeta,
        why: &str,
    ) -> Result<LoggedIn, ServiceError> {
        guard.failed(self).await;
        self.record(EventKind::LoginFailed, user.into(), meta, "", &format!("passkey refused: {why}")).await;
        Err(not_verified())
    }

    /// The end of a passkey login: the verification result, then the counter rule
    /// (applied atomically in the database), then the session.
    async fn conclude(
        &self,
        user: User,
        key: StoredPasskey,
        guard: Attempt,
        result: Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
        method: &str,
        meta: &RequestMeta,
    ) -> Result<LoggedIn, ServiceError> {
        let result = match result {
            Ok(r) => r,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                return self.counter_refused(&user, &key, guard, meta).await;
            }
            Err(e) => {
                let why = match e {
                    WebauthnError::InvalidRPOrigin => "wrong origin",
                    WebauthnError::InvalidRPIDHash => "wrong relying party",
                    WebauthnError::UserNotVerified => "user not verified",
                    WebauthnError::MismatchedChallenge => "wrong challenge",
                    _ => "invalid assertion",
                };
                return self.assertion_failed(&user, guard, meta, why).await;
            }
        };
        let count = i64::from(result.counter());
        if !counter_moves_forward(key.sign_count, count) {
            return self.counter_refused(&user, &key, guard, meta).await;
        }
        let mut passkey: Passkey = serde_json::from_str(&key.credential).map_err(internal)?;
        passkey.update_credential(&result);
        let updated = serde_json::to_string(&passkey).map_err(internal)?;
        if !self.store.use_passkey(&key.id, count, &updated, self.now()).await? {
            // A concurrent login with a higher counter got there first.
            return self.counter_refused(&user, &key, guard, meta).await;
        }
        self.record(EventKind::PasskeyUsed, (&user).into(), meta, "", &key.name).await;
        self.complete_login(user, guard, method, None, meta).await
    }

    async fn counter_refused(
        &self,
        user: &User,
        key: &StoredPasskey,
        guard: Attempt,
        meta: &RequestMeta,
    ) -> Result<LoggedIn, ServiceError> {
        guard.failed(self).await;
        let detail = format!("{}: the signature counter went backwards (possible cloned key)", key.name);
        self.record(EventKind::PasskeyRefused, user.into(), meta, "", &detail).await;
        tracing::warn!(user = %user.username, passkey = %key.id, "passkey refused: signature counter went backwards (possible cloned key)");
        Err(refused("This passkey was refused: its signature counter went backwards, which may mean it was cloned."))
    }
}
