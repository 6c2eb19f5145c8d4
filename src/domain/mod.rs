//! Pure domain logic: the rules of users, credentials, sessions and who may do what.
//! Nothing in here touches the network, the database or the file system; randomness
//! comes from the OS RNG through [`random`].

pub mod access;
pub mod app_password;
pub mod event;
pub mod fields;
pub mod lifecycle;
pub mod passkey;
pub mod password;
pub mod policy;
pub mod qr;
pub mod random;
pub mod recovery;
pub mod scope;
pub mod session;
pub mod throttle;
pub mod token;
pub mod totp;
pub mod user;
pub mod xml;
