//! Expensive and secret-holding primitives: the password hashing pool and the key that
//! encrypts secrets at rest.

pub mod files;
pub mod hasher;
pub mod secret_key;
