//! The Braintrust API: the HTTP client with its errors and retries, the reader that turns list
//! responses into live state, the look-ups that find an object just made (`lookup`), the poster of drift notifications to webhooks, and the few GitHub REST calls of drift proposals. The wire types
//! are the contract in [`crate::wire`], re-exported here as `api::wire`.
//!
//! This is the only module that knows HTTP.

pub mod client;
pub mod error;
pub mod github;
pub mod lookup;
pub mod read;
pub mod refs;
pub mod retry;
pub mod webhook;
pub use crate::wire;
