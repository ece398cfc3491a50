//! bt-gitops: run a Braintrust organization as code.
//!
//! The pipeline, in order:
//!
//! 1. [`source`] holds the manifest files as `(path, text)` pairs; nothing below it reads the disk.
//! 2. [`manifest`] parses YAML with spans into raw serde types ([`manifest::raw`]).
//! 3. [`model`] lowers raw manifests once into typed desired state, resolving references; its
//!    kind registry ([`model::kind`]) is the one list of the kinds of object bt-gitops manages.
//! 4. [`graph`] builds the dependency graph over resource keys and rejects cycles.
//!    [`pipeline`] runs these three stages; `validate` is exactly that.
//! 5. [`api`] reads live state over HTTP into [`live`] (the only HTTP client); [`diff`] compares
//!    it with the desired state and [`plan`] orders the changes; [`render`] shows a plan;
//!    [`reconcile`] runs read, diff and plan for every org.
//! 6. [`apply`] executes a plan; [`import`] writes manifests from live state; [`propose`] writes
//!    the live values of drifted objects back into their manifests.
//! 7. [`controller`] runs level-triggered rounds of read, plan, report drift and apply for
//!    `watch`, shares orgs among replicas and serves its health and metrics; [`cli`] wires the
//!    stages together and is the only module that prints or picks exit codes; [`git`] (git2) and
//!    [`file_events`] (notify) feed them manifests at refs and file events; [`emulator`] serves a
//!    Braintrust-compatible API for tests and offline use (axum serves both).
//!
//! [`vocab`] holds the API's value lists, shared by manifests, model and wire types; [`wire`] is
//! the API contract (serde data only), which [`api`] sends and the emulator answers with;
//! [`kinds`] holds, one module per kind, what is specific to a kind (built so far for the plain
//! project children). Every user-input problem is a [`diag::Diagnostic`] value with a stable code and a span.

pub mod api;
pub mod apply;
pub mod cli;
pub mod controller;
pub mod diag;
pub mod diff;
pub mod emulator;
pub mod env;
pub mod file_events;
pub mod git;
pub mod graph;
pub mod import;
pub mod kinds;
pub mod live;
pub mod manifest;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod private_file;
pub mod propose;
pub mod reconcile;
pub mod redact;
pub mod refs;
pub mod render;
pub mod source;
pub mod vocab;
pub mod wire;
