//! Shared helpers: the repository root and running the real `bt-gitops` binary.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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
    "BT_GITOPS_GITHUB_TOKEN",
    "BT_GITOPS_GITHUB_API_URL",
    "BT_GITOPS_EMULATOR_PROFILE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Runs `bt-gitops ARGS` from `cwd` with colour off and a clean environment for the variables
/// bt-gitops reads.
pub fn run_in(cwd: &Path, args: &[&str]) -> Run {
    run_with_env(cwd, args, &[])
}

/// Like [`run_in`], then sets `env` (which may set the variables `run_in` clears).
pub fn run_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output: Output = command(cwd, args, env)
        .output()
        .expect("the bt-gitops binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Like [`run_in`], but a run still going after `limit` is killed and reported with
/// `code: None` (and what it printed until then): for hostile inputs, where a hang is the bug,
/// and for long-running commands such as `watch`. The limit is a generous bound on hanging, not
/// a measure of speed.
pub fn run_bounded(cwd: &Path, args: &[&str], limit: Duration) -> Run {
    run_bounded_with_env(cwd, args, &[], limit)
}

/// [`run_bounded`] with `env` set as [`run_with_env`] does.
pub fn run_bounded_with_env(
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> Run {
    let mut child = command(cwd, args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the bt-gitops binary runs");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait for bt-gitops") {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// The `bt-gitops ARGS` command with colour off and the environment cleared of bt-gitops's own
/// variables, then `env` set.
fn command(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bt-gitops"));
    command.args(args).current_dir(cwd).env("NO_COLOR", "1");
    for name in CLEARED {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
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
    analysis
        .state
        .resources
        .iter()
        .filter(|(_, r)| r.spec.secret().is_some())
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

/// The writes in the emulator's request log, oldest first, as text: method, path and the JSON
/// body as sent, for snapshots that pin what apply sends. An export's `external_id` is fresh on
/// every apply, so its value shows as its shape only.
pub fn logged_writes(emu: &bt_gitops::emulator::EmuHandle) -> String {
    fn mask(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    match v {
                        serde_json::Value::String(s) if key == "external_id" => {
                            *s = format!("bt-gitops-[{} hex digits]", s.len() - "bt-gitops-".len());
                        }
                        // The key bt-gitops runs with, sent to register an export (A6).
                        serde_json::Value::String(s) if key == "service_token" => {
                            *s = "[the key bt-gitops runs with]".to_owned();
                        }
                        _ => mask(v),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(mask),
            _ => {}
        }
    }
    let mut out = String::new();
    for r in emu.requests().iter().filter(|r| r.is_write()) {
        out.push_str(&format!("{} {} -> {}\n", r.method, r.path, r.status));
        if let Some(body) = &r.body {
            let mut body = body.clone();
            mask(&mut body);
            out.push_str(&serde_json::to_string_pretty(&body).expect("json"));
            out.push('\n');
        }
    }
    out
}

/// An emulator seeded from `tests/data/<folder>/seed.json` in `profile`, on its own runtime.
pub fn start_seeded(
    folder: &str,
    profile: bt_gitops::emulator::Profile,
) -> (tokio::runtime::Runtime, bt_gitops::emulator::EmuHandle) {
    use bt_gitops::emulator::{EmulatorConfig, SeedDoc, spawn};
    let runtime = runtime();
    let path = root().join("tests/data").join(folder).join("seed.json");
    let text = fs_err::read_to_string(&path).expect("seed file");
    let seed: SeedDoc = serde_json::from_str(&text).expect("a seed document");
    let emu = runtime
        .block_on(spawn(
            EmulatorConfig::default()
                .with_seed(seed)
                .with_deterministic(true)
                .with_profile(profile),
        ))
        .expect("the emulator starts");
    (runtime, emu)
}

/// Runs the binary with `key` against `emu` on one manifest of `tests/data/<folder>/`, copied
/// into a fresh directory (apply writes its journal next to the manifests); `env` adds
/// variables.
pub fn run_data_manifest(
    emu: &bt_gitops::emulator::EmuHandle,
    key: &str,
    env: &[(&str, &str)],
    args: &[&str],
    folder: &str,
    manifest: &str,
) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    fs_err::copy(
        root().join("tests/data").join(folder).join(manifest),
        dir.path().join(manifest),
    )
    .expect("copy the manifest");
    let mut all: Vec<&str> = args.to_vec();
    all.push(manifest);
    let mut vars = vec![
        ("BRAINTRUST_API_URL", emu.url()),
        ("BRAINTRUST_API_KEY", key),
    ];
    vars.extend_from_slice(env);
    run_with_env(dir.path(), &all, &vars)
}
