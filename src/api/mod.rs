//! The Braintrust API: the HTTP client with its errors and retries, and the reader that turns
//! list responses into live state. The wire types are the contract in [`crate::wire`], re-exported
//! here as `api::wire`.
//!
//! This is the only module that knows HTTP.

pub mod client;
pub mod error;
pub mod read;
pub mod retry;
pub use crate::wire;
