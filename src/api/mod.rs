//! The Braintrust API: wire types (shared with the emulator) and, later, the HTTP client.

pub mod wire;
