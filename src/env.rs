//! Every environment variable bt-gitops reads, in one place.
//!
//! The README's "Environment variables" table lists the same names; a test keeps them in sync.
//! Per-org manifests may name further variables (`api_key_env`, `{ env: NAME }` secrets); those
//! are read only at plan and apply time, never by `validate`.

/// Default API key (a user key `sk-...` or a service token `bt-st-...`).
pub const BRAINTRUST_API_KEY: &str = "BRAINTRUST_API_KEY";
/// Default API base URL; `https://api.braintrust.dev` when unset.
pub const BRAINTRUST_API_URL: &str = "BRAINTRUST_API_URL";
/// Key of the HMAC that fingerprints secret values (see `diff::secrets`). Optional but
/// recommended: without it, a fixed per-org key is used.
pub const BT_GITOPS_SECRET_KEY: &str = "BT_GITOPS_SECRET_KEY";
/// Any value disables colour in all output.
pub const NO_COLOR: &str = "NO_COLOR";
/// Log filter for diagnostics on stderr (`bt_gitops=debug`), in `tracing` syntax.
pub const BT_GITOPS_LOG: &str = "BT_GITOPS_LOG";

/// Who is applying, named in the apply lease and journal (`USERNAME` on Windows).
pub const USER: &str = "USER";
/// The machine applying, named in the apply lease and journal.
pub const HOSTNAME: &str = "HOSTNAME";

/// `(name, description)` of every variable above, for `--help` and the README check.
pub const ALL: &[(&str, &str)] = &[
    (
        BRAINTRUST_API_KEY,
        "default API key (`sk-...` user key or `bt-st-...` service token)",
    ),
    (
        BRAINTRUST_API_URL,
        "default API base URL (`https://api.braintrust.dev`)",
    ),
    (
        BT_GITOPS_SECRET_KEY,
        "key of the HMAC that detects secret changes without storing them",
    ),
    (NO_COLOR, "disable colour in all output"),
    (
        BT_GITOPS_LOG,
        "log filter for stderr, e.g. `bt_gitops=debug`",
    ),
    (
        USER,
        "who is applying, named in the apply lease and journal",
    ),
    (
        HOSTNAME,
        "the machine applying, named in the apply lease and journal",
    ),
];
