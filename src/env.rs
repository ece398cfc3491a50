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

/// The emulator profile of `--emulator` runs: `real` (default) or `lenient` (see
/// `emulator::profile`).
pub const BT_GITOPS_EMULATOR_PROFILE: &str = "BT_GITOPS_EMULATOR_PROFILE";

/// Token for fetching a followed branch over HTTPS (`watch --remote https://...`), sent as the
/// password.
pub const BT_GITOPS_GIT_TOKEN: &str = "BT_GITOPS_GIT_TOKEN";
/// URL that receives drift notifications as JSON (`watch`).
pub const BT_GITOPS_WEBHOOK_URL: &str = "BT_GITOPS_WEBHOOK_URL";
/// Slack incoming-webhook URL that receives drift notifications (`watch`).
pub const BT_GITOPS_SLACK_WEBHOOK_URL: &str = "BT_GITOPS_SLACK_WEBHOOK_URL";
/// Token of the GitHub REST API for drift pull requests (`controller` propose policy): a
/// fine-grained token with contents and pull-request write access on the manifest repository.
pub const BT_GITOPS_GITHUB_TOKEN: &str = "BT_GITOPS_GITHUB_TOKEN";
/// Base URL of the GitHub REST API for drift pull requests; `https://api.github.com` when unset
/// (GitHub Enterprise: `https://HOST/api/v3`).
pub const BT_GITOPS_GITHUB_API_URL: &str = "BT_GITOPS_GITHUB_API_URL";

/// Who is applying, named in the apply lease and journal (`USERNAME` on Windows).
pub const USER: &str = "USER";
/// The machine applying, named in the apply lease and journal.
pub const HOSTNAME: &str = "HOSTNAME";

/// A PEM bundle of CA certificates trusted for HTTPS instead of the platform store (read by
/// rustls-native-certs through reqwest, and by OpenSSL for libgit2's HTTPS fetch).
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
/// Directories of PEM CA certificates, like [`SSL_CERT_FILE`].
pub const SSL_CERT_DIR: &str = "SSL_CERT_DIR";
/// Proxy for https requests (read by reqwest; lower case too).
pub const HTTPS_PROXY: &str = "HTTPS_PROXY";
/// Proxy for plain http requests (read by reqwest; lower case too).
pub const HTTP_PROXY: &str = "HTTP_PROXY";
/// Proxy for all requests (read by reqwest; lower case too).
pub const ALL_PROXY: &str = "ALL_PROXY";
/// Hosts that bypass the proxy (read by reqwest; lower case too).
pub const NO_PROXY: &str = "NO_PROXY";

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
        BT_GITOPS_EMULATOR_PROFILE,
        "emulator profile of `--emulator` runs: `real` (default) or `lenient`",
    ),
    (
        BT_GITOPS_GIT_TOKEN,
        "token for `watch --remote https://...` (sent as the password)",
    ),
    (
        BT_GITOPS_WEBHOOK_URL,
        "URL that receives `watch` drift notifications as JSON",
    ),
    (
        BT_GITOPS_SLACK_WEBHOOK_URL,
        "Slack incoming-webhook URL for `watch` drift notifications",
    ),
    (
        BT_GITOPS_GITHUB_TOKEN,
        "GitHub token that pushes drift branches and opens their pull requests",
    ),
    (
        BT_GITOPS_GITHUB_API_URL,
        "GitHub REST API base URL for drift pull requests (`https://api.github.com`)",
    ),
    (
        USER,
        "who is applying, named in the apply lease and journal",
    ),
    (
        HOSTNAME,
        "the machine applying, named in the apply lease and journal",
    ),
    (
        SSL_CERT_FILE,
        "PEM CA bundle trusted for HTTPS instead of the platform store",
    ),
    (
        SSL_CERT_DIR,
        "directories of PEM CA certificates, like `SSL_CERT_FILE`",
    ),
    (HTTPS_PROXY, "proxy for https requests"),
    (HTTP_PROXY, "proxy for plain http requests"),
    (ALL_PROXY, "proxy for all requests"),
    (NO_PROXY, "hosts that bypass the proxy"),
];
