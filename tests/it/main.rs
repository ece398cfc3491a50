//! The single integration test binary: one module per area.

mod diagnostics;
mod examples;
mod fuzz;
mod schema;
mod support;
mod tidy;
