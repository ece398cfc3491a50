//! The single integration test binary: one module per area.

mod apply;
mod apply_cli;
mod convergence;
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
mod schema;
mod support;
mod tidy;
mod watch;
mod workflows;
