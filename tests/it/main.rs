//! The single integration test binary: one module per area.

mod apply;
mod apply_cli;
mod apply_safety;
mod cli;
mod convergence;
mod deploy;
mod diagnostics;
mod emulator;
mod emulator_faults;
mod emulator_schema;
mod examples;
mod fuzz;
mod git;
mod import;
mod kinds;
mod plans;
mod propose;
mod redaction;
mod release;
mod schema;
mod shard;
mod support;
mod tidy;
mod tls;
mod watch;
mod workflows;
