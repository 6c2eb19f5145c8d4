//! The `gatehouse` command line: clap definitions, validated into typed settings, and
//! one module per command group. Commands work on the same database as a running
//! server.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod audit;
mod auth;
mod clients;
mod folders;
mod output;
mod prompt;
mod start;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Settings, parse_proxy};
use crate::service::{BootError, Gatehouse};

pub use output::Format;

#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about = "A photo and file library behind strong login security")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Data folder (database, secret key, library)
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://… (default: index.db in the data folder) or postgres://…
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Secret key (at least 32 characters); default: secret.key in the data folder
    #[arg(long, env = "GATEHOUSE_SECRET_KEY", global = true, hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Print JSON
    #[arg(long, global = true, conflicts_with_all = ["csv", "md"])]
    pub json: bool,
    /// Print CSV
    #[arg(long, global = true, conflicts_with = "md")]
    pub csv: bool,
    /// Print a Markdown table
    #[arg(long, global = true)]
    pub md: bool,
}

impl GlobalArgs {
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else if self.csv {
            Format::Csv
        } else if self.md {
            Format::Markdown
        } else {
            Format::Table
        }
    }

    /// Settings for this data folder and database.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::for_data_dir(self.data_dir.clone());
        if let Some(url) = self.database_url.as_ref().filter(|u| !u.trim().is_empty()) {
            s.database_url = url.trim().to_owned();
        }
        s.secret_key = self.secret_key.clone().filter(|k| !k.is_empty());
        s
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the web server
    Start(start::StartArgs),
    /// Manage user accounts
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Set a user's password
    Passwd(users::PasswdArgs),
    /// Manage app passwords, access tokens and sessions
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Manage OAuth2 clients
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Share library folders with users, and list who reaches which folders
    #[command(subcommand)]
    Folders(folders::FoldersCommand),
    /// Read the security event log
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

/// A command's failure: the message for stderr.
#[derive(Debug)]
pub struct CliError(pub String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.command {
        Command::Start(_) => "info",
        _ => "warn",
    };
    let env_filter = tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt().with_env_filter(env_filter).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let format = cli.global.format();
    match cli.command {
        Command::Start(args) => start::run(&cli.global, args).await,
        Command::Users(cmd) => users::run(&open(&cli.global).await?, cmd, format).await,
        Command::Passwd(args) => users::passwd(&open(&cli.global).await?, args, format).await,
        Command::Audit(cmd) => audit::run(&open(&cli.global).await?, cmd, format).await,
        Command::Auth(cmd) => auth::run(&open(&cli.global).await?, cmd, format).await,
        Command::Clients(cmd) => clients::run(&open(&cli.global).await?, cmd, format).await,
        Command::Folders(cmd) => folders::run(&open(&cli.global).await?, cmd, format).await,
    }
}

async fn open(global: &GlobalArgs) -> Result<Gatehouse, CliError> {
    Gatehouse::open(global.settings()).await.map_err(|e: BootError| CliError(e.to_string()))
}

fn parse_proxies(list: &[String]) -> Result<Vec<ipnet::IpNet>, CliError> {
    list.iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_proxy(s).map_err(CliError))
        .collect()
}
