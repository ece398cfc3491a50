//! The Braintrust API: wire types (shared with the emulator), the client with its errors and
//! retries, the reader that turns list responses into live state, and the poster of drift
//! notifications to webhooks.
//!
//! This is the only module that knows HTTP.

pub mod client;
pub mod error;
pub mod read;
pub mod retry;
pub mod webhook;
pub mod wire;
