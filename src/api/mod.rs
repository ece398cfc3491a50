//! The Braintrust API: wire types (shared with the emulator), the client with its errors and
//! retries, and the reader that turns list responses into live state.
//!
//! This is the only module that knows HTTP.

pub mod client;
pub mod error;
pub mod read;
pub mod retry;
pub mod wire;
