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

/// Runs `bt-gitops ARGS` from `cwd` with colour off and a clean environment for the variables
/// bt-gitops reads.
pub fn run_in(cwd: &Path, args: &[&str]) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_bt-gitops"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("BRAINTRUST_API_KEY")
        .env_remove("BRAINTRUST_API_URL")
        .output()
        .expect("the bt-gitops binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
