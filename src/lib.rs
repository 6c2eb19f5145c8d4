//! gatehouse: a self-hosted photo and file library behind user accounts with strong
//! login security.
//!
//! The tree names the architecture:
//! - [`domain`]: pure rules (users, passwords, tokens, sessions, policy) — no I/O.
//! - [`security`]: the expensive or secret-holding primitives (password hashing pool).
//! - [`store`]: one trait per storage capability, implemented once over SQLite and
//!   PostgreSQL through sqlx's `Any` driver, with a migration folder per database.
//! - [`service`]: use cases shared by the HTTP API and the CLI (login, user changes).
//! - [`web`]: the HTTP surface — API routes, the single authentication decision point,
//!   and the JSON error type.
//! - [`cli`]: the `gatehouse` command line.

pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod library;
pub mod security;
pub mod service;
pub mod store;
pub mod web;
