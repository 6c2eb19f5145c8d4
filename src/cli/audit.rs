//! `gatehouse audit logins [USERNAME]`: the security event log.

use clap::Subcommand;

use super::output::{Format, Records};
use super::{CliError, users::find};
use crate::service::Gatehouse;
use crate::store::EventStore as _;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Security events (logins, failures, 2FA and credential changes), newest first
    Logins {
        /// Only this user's events
        username: Option<String>,
        /// How many events at most
        #[arg(long, short = 'n', default_value_t = 100)]
        count: i64,
    },
}

pub async fn run(app: &Gatehouse, cmd: AuditCommand, format: Format) -> Result<(), CliError> {
    let AuditCommand::Logins { username, count } = cmd;
    let uid = match username {
        Some(name) => Some(find(app, &name).await?.uid),
        None => None,
    };
    let events = app.store.list_events(uid.as_deref(), count).await?;
    let rows = events
        .iter()
        .map(|e| {
            vec![e.time.clone(), e.event.clone(), e.username.clone(), e.ip.clone(), e.actor.clone(), e.detail.clone()]
        })
        .collect();
    format.print(&Records { headers: &["Time", "Event", "User", "IP", "By", "Detail"], rows }, &events);
    Ok(())
}
