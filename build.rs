//! Build script: stamps the commit and build date into `--version`.
//!
//! Reproducible and offline: the date is `SOURCE_DATE_EPOCH` when set (release builds set it to
//! the commit time), else the commit's time, else unknown (the CLI formats it); the commit comes from
//! `BT_GITOPS_COMMIT` when set, else from `git` when the source is a checkout, else `unknown`
//! (a source tarball without git). Nothing here touches the network.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// `git` output, but only when this package is the top of its own checkout (not a tarball
/// unpacked inside some other repository).
fn own_git(args: &[&str]) -> Option<String> {
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let here = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let same = std::fs::canonicalize(top).ok()? == std::fs::canonicalize(here).ok()?;
    if same { git(args) } else { None }
}

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=BT_GITOPS_COMMIT");
    for path in ["HEAD", "logs/HEAD"] {
        if let Some(file) = own_git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    let commit = std::env::var("BT_GITOPS_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| own_git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .or_else(|| own_git(&["log", "-1", "--format=%ct"]).and_then(|s| s.parse().ok()));
    let epoch = epoch.map_or_else(String::new, |e| e.to_string());
    println!("cargo:rustc-env=BT_GITOPS_COMMIT={commit}");
    println!("cargo:rustc-env=BT_GITOPS_BUILD_EPOCH={epoch}");
}
