//! The credential lifecycle: for every event that can end a credential, what it ends.
//! This table is the one place that decides it; the store applies a row of it inside
//! the transaction that made the change (`store::lifecycle`), and README's "Which
//! action ends what" is [`markdown_table`] of it.

/// Something that happened to an account or a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The holder changed their own password (proving the old one). `revoke_app_passwords`
    /// is the "also revoke all app passwords" choice.
    OwnPasswordChange { revoke_app_passwords: bool },
    /// A super admin's or the operator's reset, meant for an account that may be
    /// compromised. `keep_2fa` keeps the second factors (and with them any passkey an
    /// intruder registered); `keep_app_passwords` keeps the app passwords.
    AdminReset { keep_2fa: bool, keep_app_passwords: bool },
    /// The holder switched 2FA on (a first factor activated).
    TwoFactorEnabled,
    /// The holder removed the authenticator app ("Disable 2FA" in the account settings).
    OwnDisableTwoFactor,
    /// An admin (API or CLI) switched 2FA off for the account.
    AdminDisableTwoFactor,
    /// A login used the recovery code: 2FA goes off.
    RecoveryCodeUsed,
    /// An admin disabled the account (`can_login` off).
    AccountDisabled,
    /// The account was deleted.
    AccountDeleted,
    /// The holder removed one passkey.
    PasskeyRemoved,
    /// One app password was revoked.
    AppPasswordRevoked,
    /// An OAuth client got a new secret.
    ClientSecretRegenerated,
    /// An OAuth client's scope lost some of what it granted.
    ClientScopeNarrowed,
    /// An OAuth client was disabled or deleted.
    ClientDisabled,
}

/// What happens to the web sessions of the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sessions {
    Kept,
    /// All but the one that made the change.
    Others,
    All,
}

/// What happens to a kind of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Kept,
    /// Only the one named by the event.
    That,
    Removed,
}

/// What happens to the recovery code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    Kept,
    /// Removed when no active factor is left (2FA goes off with the last one).
    WithLastFactor,
    Removed,
}

/// What happens to a client's OAuth tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokens {
    Kept,
    /// Each token keeps only what the client's new scope still grants (none left: revoked).
    Narrowed,
    Revoked,
}

/// A row of the table: what an event ends. App passwords are `Factor`-like: `That` is
/// the one revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ends {
    pub web_sessions: Sessions,
    /// Sessions opened with an app password (`POST /session` with one). They also end
    /// with their app password.
    pub app_password_sessions: Sessions,
    pub app_passwords: Factor,
    pub passkeys: Factor,
    pub totp: Factor,
    pub recovery_code: Recovery,
    /// Pending TOTP setups, passkeys waiting for activation, WebAuthn ceremonies.
    pub pending: bool,
    pub oauth_tokens: Tokens,
}

impl Ends {
    const NOTHING: Ends = Ends {
        web_sessions: Sessions::Kept,
        app_password_sessions: Sessions::Kept,
        app_passwords: Factor::Kept,
        passkeys: Factor::Kept,
        totp: Factor::Kept,
        recovery_code: Recovery::Kept,
        pending: false,
        oauth_tokens: Tokens::Kept,
    };

    /// Whether every second factor goes (2FA ends up off).
    pub fn removes_all_factors(&self) -> bool {
        self.passkeys == Factor::Removed && self.totp == Factor::Removed
    }
}

/// The table.
pub fn ends(event: Event) -> Ends {
    use Event as E;
    let nothing = Ends::NOTHING;
    let all_factors = Ends {
        passkeys: Factor::Removed,
        totp: Factor::Removed,
        recovery_code: Recovery::Removed,
        pending: true,
        ..nothing
    };
    let revoke = |yes: bool| if yes { Factor::Removed } else { Factor::Kept };
    match event {
        E::OwnPasswordChange { revoke_app_passwords } => Ends {
            web_sessions: Sessions::Others,
            app_password_sessions: Sessions::All,
            app_passwords: revoke(revoke_app_passwords),
            pending: true,
            ..nothing
        },
        E::AdminReset { keep_2fa, keep_app_passwords } => Ends {
            web_sessions: Sessions::All,
            app_password_sessions: Sessions::All,
            app_passwords: revoke(!keep_app_passwords),
            ..(if keep_2fa { Ends { pending: true, ..nothing } } else { all_factors })
        },
        E::TwoFactorEnabled => Ends { web_sessions: Sessions::Others, app_password_sessions: Sessions::All, ..nothing },
        E::OwnDisableTwoFactor => Ends {
            web_sessions: Sessions::Others,
            app_password_sessions: Sessions::All,
            totp: Factor::Removed,
            recovery_code: Recovery::WithLastFactor,
            pending: true,
            ..nothing
        },
        E::AdminDisableTwoFactor | E::RecoveryCodeUsed => {
            Ends { web_sessions: Sessions::All, app_password_sessions: Sessions::All, ..all_factors }
        }
        E::AccountDisabled => Ends {
            web_sessions: Sessions::All,
            app_password_sessions: Sessions::All,
            app_passwords: Factor::Removed,
            pending: true,
            ..nothing
        },
        E::AccountDeleted => Ends {
            web_sessions: Sessions::All,
            app_password_sessions: Sessions::All,
            app_passwords: Factor::Removed,
            ..all_factors
        },
        E::PasskeyRemoved => Ends {
            web_sessions: Sessions::Others,
            app_password_sessions: Sessions::All,
            passkeys: Factor::That,
            recovery_code: Recovery::WithLastFactor,
            pending: true,
            ..nothing
        },
        E::AppPasswordRevoked => Ends { app_passwords: Factor::That, ..nothing },
        E::ClientSecretRegenerated | E::ClientDisabled => Ends { oauth_tokens: Tokens::Revoked, ..nothing },
        E::ClientScopeNarrowed => Ends { oauth_tokens: Tokens::Narrowed, ..nothing },
    }
}

/// The rows of the README table, with the wording users see.
const ROWS: &[(&str, Event)] = &[
    ("your own Change Password", Event::OwnPasswordChange { revoke_app_passwords: false }),
    (
        "… with \"also revoke all app passwords\" (`revoke_app_passwords: true`)",
        Event::OwnPasswordChange { revoke_app_passwords: true },
    ),
    (
        "an admin's reset (Admin > Users, `PUT …/password` without `old_password`, `gatehouse passwd`, `users mod --password`)",
        Event::AdminReset { keep_2fa: false, keep_app_passwords: false },
    ),
    (
        "… with `keep_app_passwords: true` / `--keep-app-passwords`",
        Event::AdminReset { keep_2fa: false, keep_app_passwords: true },
    ),
    ("… with `keep_2fa: true` / `--keep-2fa`", Event::AdminReset { keep_2fa: true, keep_app_passwords: false }),
    ("activating 2FA", Event::TwoFactorEnabled),
    ("your own Disable 2FA (removing the authenticator app)", Event::OwnDisableTwoFactor),
    ("removing one of your passkeys", Event::PasskeyRemoved),
    ("an admin's Disable 2FA (`auth_method: \"default\"`, `users mod --disable-2fa`)", Event::AdminDisableTwoFactor),
    ("a login with the recovery code", Event::RecoveryCodeUsed),
    ("disabling an account (`can_login: false`, `--no-login`)", Event::AccountDisabled),
    ("deleting an account", Event::AccountDeleted),
    ("revoking an app password", Event::AppPasswordRevoked),
    ("`clients mod ID --regenerate`", Event::ClientSecretRegenerated),
    ("narrowing a client's scope (`clients mod ID --scope …`)", Event::ClientScopeNarrowed),
    ("disabling or deleting a client", Event::ClientDisabled),
];

fn sessions(s: Sessions) -> &'static str {
    match s {
        Sessions::Kept => "kept",
        Sessions::Others => "all but yours end",
        Sessions::All => "all end",
    }
}

fn factor(f: Factor, that: &'static str) -> &'static str {
    match f {
        Factor::Kept => "kept",
        Factor::That => that,
        Factor::Removed => "removed",
    }
}

/// The table as Markdown, as README shows it.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| event | web sessions | sessions opened with an app password | app passwords | passkeys | TOTP | \
         recovery code | pending setups and ceremonies | OAuth tokens |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for (label, event) in ROWS {
        let e = ends(*event);
        let recovery = match e.recovery_code {
            Recovery::Kept => "kept",
            Recovery::WithLastFactor => "removed with the last factor",
            Recovery::Removed => "removed",
        };
        let tokens = match e.oauth_tokens {
            Tokens::Kept => "kept",
            Tokens::Narrowed => "narrowed to the new scope at once",
            Tokens::Revoked => "revoked",
        };
        let app_sessions = match (e.app_password_sessions, e.app_passwords) {
            (Sessions::Kept, Factor::That) => "that one's end",
            (s, _) => sessions(s),
        };
        let cells = [
            *label,
            sessions(e.web_sessions),
            app_sessions,
            factor(e.app_passwords, "that one"),
            factor(e.passkeys, "that one"),
            factor(e.totp, "that one"),
            recovery,
            if e.pending { "end" } else { "kept" },
            tokens,
        ];
        out.push_str("| ");
        out.push_str(&cells.join(" | "));
        out.push_str(" |\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admin_reset_removes_the_second_factors_unless_asked_to_keep_them() {
        let reset = ends(Event::AdminReset { keep_2fa: false, keep_app_passwords: false });
        assert!(reset.removes_all_factors());
        assert_eq!(reset.web_sessions, Sessions::All);
        let keep = ends(Event::AdminReset { keep_2fa: true, keep_app_passwords: true });
        assert_eq!((keep.passkeys, keep.totp, keep.recovery_code), (Factor::Kept, Factor::Kept, Recovery::Kept));
        assert_eq!(keep.app_passwords, Factor::Kept);
        assert!(keep.pending, "a pending setup never survives a reset");
    }

    #[test]
    fn every_disable_2fa_ends_the_other_sessions() {
        for e in [Event::OwnDisableTwoFactor, Event::AdminDisableTwoFactor, Event::RecoveryCodeUsed] {
            assert_ne!(ends(e).web_sessions, Sessions::Kept, "{e:?}");
            assert_ne!(ends(e).app_password_sessions, Sessions::Kept, "{e:?}");
        }
    }

    #[test]
    fn client_changes_reach_their_tokens() {
        assert_eq!(ends(Event::ClientSecretRegenerated).oauth_tokens, Tokens::Revoked);
        assert_eq!(ends(Event::ClientScopeNarrowed).oauth_tokens, Tokens::Narrowed);
        assert_eq!(ends(Event::ClientDisabled).oauth_tokens, Tokens::Revoked);
    }

    #[test]
    fn the_table_has_a_row_per_event_and_nine_columns() {
        let table = markdown_table();
        assert_eq!(table.lines().count(), ROWS.len() + 2);
        assert!(table.lines().all(|l| l.matches(" | ").count() == 8 || l.starts_with("|---")));
    }
}
