//! The Braintrust API: wire types (shared with the emulator), errors and retries.
//!
//! This is the only module that knows HTTP.

pub mod client;
pub mod error;
pub mod live;
pub mod retry;
pub mod wire;
