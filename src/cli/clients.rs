//! `gatehouse clients …`: OAuth2 clients for the client-credentials grant.

use clap::{Args, Subcommand};
use serde_json::json;

use super::auth::print_status;
use super::output::{Format, Records, yes_no};
use super::{CliError, prompt};
use crate::service::Gatehouse;
use crate::service::clients::ClientSpec;
use crate::store::{Client, ClientStore as _};

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// List clients
    Ls,
    /// Register a client; prints its secret once
    Add(ClientArgs),
    /// Show one client
    Show { client_id: String },
    /// Change a client
    Mod {
        client_id: String,
        #[command(flatten)]
        args: ClientArgs,
        /// Issue a new secret (printed once); the old one stops working
        #[arg(long)]
        regenerate: bool,
        /// Stop the client from getting tokens (and revoke its tokens)
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Allow the client again
        #[arg(long)]
        enable: bool,
    },
    /// Delete a client and revoke its tokens (asks unless --yes)
    Rm {
        client_id: String,
        #[arg(long, short)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Client name
    #[arg(long, short)]
    pub name: Option<String>,
    /// Scopes the client may be granted (space-separated)
    #[arg(long, short)]
    pub scope: Option<String>,
    /// Token lifetime in seconds
    #[arg(long = "expires", short = 'e')]
    pub lifetime: Option<i64>,
    /// Most live tokens; the oldest are revoked beyond it
    #[arg(long = "tokens", short = 't')]
    pub max_tokens: Option<i64>,
}

const HEADERS: &[&str] = &["Client ID", "Name", "Scope", "Token Lifetime", "Max Tokens", "Enabled", "Created"];

fn row(c: &Client) -> Vec<String> {
    vec![
        c.client_id.clone(),
        c.name.clone(),
        c.scope.clone(),
        c.token_lifetime.to_string(),
        c.max_tokens.to_string(),
        yes_no(c.enabled),
        crate::clock::rfc3339(c.created_at),
    ]
}

fn print_with_secret(format: Format, c: &Client, secret: Option<&str>) {
    let mut headers = HEADERS.to_vec();
    let mut r = row(c);
    let mut j = json!(c.view());
    if let Some(s) = secret {
        headers.push("Client Secret");
        r.push(s.to_owned());
        if let Some(obj) = j.as_object_mut() {
            obj.insert("client_secret".into(), json!(s));
        }
    }
    format.print(&Records { headers: &headers, rows: vec![r] }, &j);
}

fn spec(a: ClientArgs, enabled: Option<bool>) -> ClientSpec {
    ClientSpec { name: a.name, scope: a.scope, token_lifetime: a.lifetime, max_tokens: a.max_tokens, enabled }
}

pub async fn run(app: &Gatehouse, cmd: ClientsCommand, format: Format) -> Result<(), CliError> {
    match cmd {
        ClientsCommand::Ls => {
            let list = app.store.list_clients().await?;
            let views: Vec<_> = list.iter().map(Client::view).collect();
            format.print(&Records { headers: HEADERS, rows: list.iter().map(row).collect() }, &views);
        }
        ClientsCommand::Add(a) => {
            if a.scope.is_none() {
                return Err(CliError("a client needs a scope (-s)".into()));
            }
            let (client, secret) = app.add_client(spec(a, None)).await?;
            print_with_secret(format, &client, Some(&secret));
        }
        ClientsCommand::Show { client_id } => {
            let c = app
                .store
                .client(&client_id)
                .await?
                .ok_or_else(|| CliError(format!("client {client_id:?} not found")))?;
            print_with_secret(format, &c, None);
        }
        ClientsCommand::Mod { client_id, args, regenerate, disable, enable } => {
            let enabled = if disable {
                Some(false)
            } else if enable {
                Some(true)
            } else {
                None
            };
            let (client, secret) = app.modify_client(&client_id, spec(args, enabled), regenerate).await?;
            print_with_secret(format, &client, secret.as_deref());
        }
        ClientsCommand::Rm { client_id, yes } => {
            if !yes && !prompt::confirm(&format!("Delete client {client_id:?} and revoke its tokens?"))? {
                return Err(CliError("not deleted (confirm with --yes)".into()));
            }
            if !app.store.delete_client(&client_id).await? {
                return Err(CliError(format!("client {client_id:?} not found")));
            }
            print_status(format, "deleted", &client_id);
        }
    }
    Ok(())
}
