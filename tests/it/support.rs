//! Shared helpers: the repository root and running the real `bt-gitops` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate root (where Cargo.toml lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A finished run of the binary.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Variables bt-gitops reads that a test must not inherit from the developer's shell.
const CLEARED: &[&str] = &[
    "BRAINTRUST_API_KEY",
    "BRAINTRUST_API_URL",
    "BT_GITOPS_SECRET_KEY",
    "BT_GITOPS_LOG",
];

/// Runs `bt-gitops ARGS` from `cwd` with colour off and a clean environment for the variables
/// bt-gitops reads.
pub fn run_in(cwd: &Path, args: &[&str]) -> Run {
    run_with_env(cwd, args, &[])
}

/// Like [`run_in`], then sets `env` (which may set the variables `run_in` clears).
pub fn run_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bt-gitops"));
    command.args(args).current_dir(cwd).env("NO_COLOR", "1");
    for name in CLEARED {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output: Output = command.output().expect("the bt-gitops binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A multi-threaded tokio runtime for tests that drive the emulator in process.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The emulator seeded with `examples/emulator/seed.json` (the live `acme` and `acme-labs`).
pub async fn acme_emulator(deterministic: bool) -> bt_gitops::emulator::EmuHandle {
    let seed: bt_gitops::emulator::SeedDoc =
        serde_json::from_str(include_str!("../../examples/emulator/seed.json")).expect("seed");
    bt_gitops::emulator::spawn(
        bt_gitops::emulator::EmulatorConfig::default()
            .with_seed(seed)
            .with_deterministic(deterministic),
    )
    .await
    .expect("emulator starts")
}

/// A fixed value for every declared secret (`value-of-NAME`), with its digest under the default
/// HMAC key, as `plan` would compute it.
pub fn secret_values(
    analysis: &bt_gitops::pipeline::Analysis,
) -> std::collections::BTreeMap<bt_gitops::model::ResourceKey, bt_gitops::apply::SecretValue> {
    use bt_gitops::diff::secrets;
    use bt_gitops::model::Spec;
    analysis
        .state
        .resources
        .iter()
        .filter(|(_, r)| {
            matches!(&r.spec, Spec::AiSecret(s) if s.secret.is_some())
                || matches!(&r.spec, Spec::EnvVar(e) if e.value.is_some())
        })
        .map(|(k, _)| {
            let value = format!("value-of-{}", k.name);
            let digest = secrets::digest(&secrets::default_key(k.org.as_str()), value.as_bytes());
            (k.clone(), bt_gitops::apply::SecretValue { value, digest })
        })
        .collect()
}

/// The emulator's `acme` org as a plan target, reached with `key`.
pub fn acme_target(
    emu: &bt_gitops::emulator::EmuHandle,
    key: &str,
) -> bt_gitops::reconcile::OrgTarget {
    bt_gitops::reconcile::OrgTarget {
        org: bt_gitops::model::OrgName::new("acme").expect("valid"),
        base_url: emu.url().to_owned(),
        api_key: key.to_owned(),
    }
}
