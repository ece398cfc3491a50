//! bt-gitops: run a Braintrust organization as code.
//!
//! The pipeline, in order:
//!
//! 1. [`source`] holds the manifest files as `(path, text)` pairs; nothing below it reads the disk.
//! 2. [`manifest`] parses YAML with spans into raw serde types ([`manifest::raw`]).
//! 3. [`model`] lowers raw manifests once into typed desired state, resolving references.
//! 4. [`graph`] builds the dependency graph over resource keys and rejects cycles.
//!    [`pipeline`] runs these three stages; `validate` is exactly that.
//! 5. `api` reads live state over HTTP (the only HTTP user); `emulator` serves a
//!    Braintrust-compatible API for tests and offline use (the only axum user).
//! 6. [`cli`] wires the stages together and is the only module that prints or picks exit codes.
//!
//! Every user-input problem is a [`diag::Diagnostic`] value with a stable code and a span.

pub mod api;
pub mod apply;
pub mod cli;
pub mod diag;
pub mod diff;
pub mod emulator;
pub mod env;
pub mod git;
pub mod graph;
pub mod import;
pub mod live;
pub mod manifest;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod reconcile;
pub mod render;
pub mod source;
pub mod vocab;
pub mod watch;
