//! The release pipeline without publishing: `.github/workflows/release.yml`, the installer,
//! the action and the `cargo binstall` metadata name the same targets and archives; and a
//! release-style archive packed from the test binary by `scripts/package.sh` installs with the
//! README's command and through the action's install step (a local directory stands in for the
//! GitHub release, the same code path otherwise).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::root;

fn yaml(path: &str) -> Value {
    let text = fs_err::read_to_string(root().join(path)).expect("readable");
    serde_saphyr::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The release target of this machine, as the installer detects it.
fn host_target() -> Option<String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        _ => return None,
    };
    match std::env::consts::OS {
        "linux" => Some(format!("{arch}-unknown-linux-musl")),
        "macos" => Some(format!("{arch}-apple-darwin")),
        _ => None,
    }
}

/// Runs a shell script with a clean environment plus `env`; returns (code, stdout, stderr).
fn sh(shell: &str, script: &str, cwd: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(shell);
    command
        .args(["-c", script])
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("the shell runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A scratch directory whose `release/` holds the test binary packed by the release script as
/// the archive of this machine's target, and an empty `home/`; `None` where no release fits.
fn packed_release() -> Option<(tempfile::TempDir, String)> {
    let target = host_target()?;
    let tmp = tempfile::tempdir().expect("tempdir");
    // Stripped like the `dist` profile's binaries (the debug build is ten times larger).
    let binary = tmp.path().join("bt-gitops");
    fs_err::copy(env!("CARGO_BIN_EXE_bt-gitops"), &binary).expect("copy the binary");
    let _ = Command::new("strip").arg(&binary).status();
    let script = format!(
        "sh scripts/package.sh {target} '{}' '{}'",
        binary.display(),
        tmp.path().join("release").display()
    );
    let (code, _, err) = sh("sh", &script, &root(), &[("SOURCE_DATE_EPOCH", "0")]);
    assert_eq!(code, 0, "package.sh failed:\n{err}");
    fs_err::create_dir_all(tmp.path().join("home")).expect("home");
    Some((tmp, target))
}

#[test]
fn the_workflow_the_installer_the_action_and_binstall_agree() {
    let wf = yaml(".github/workflows/release.yml");
    let tags = &wf["on"]["push"]["tags"];
    assert!(
        tags.as_array().is_some_and(|t| t.iter().any(|t| t == "v*")),
        "releases are cut from v* tags: {tags}"
    );
    let build = &wf["jobs"]["build"];
    let targets: BTreeSet<String> = build["strategy"]["matrix"]["include"]
        .as_array()
        .expect("a target matrix")
        .iter()
        .map(|t| t["target"].as_str().expect("target").to_owned())
        .collect();
    let expected: BTreeSet<String> = [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ]
    .map(String::from)
    .into();
    assert_eq!(targets, expected);

    let steps = build["steps"].as_array().expect("steps");
    let runs: String = steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for needle in [
        "--locked",
        "SOURCE_DATE_EPOCH",
        "--remap-path-prefix",
        "scripts/package.sh",
    ] {
        assert!(runs.contains(needle), "the build lacks `{needle}`");
    }
    assert!(
        steps.iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/attest-build-provenance@"))),
        "every archive gets a provenance attestation"
    );
    assert_eq!(build["permissions"]["id-token"], "write");
    assert_eq!(build["permissions"]["attestations"], "write");
    let publish = serde_json::to_string(&wf["jobs"]["publish"]).expect("json");
    assert!(publish.contains("SHA256SUMS") && publish.contains("gh release create"));

    let installer = fs_err::read_to_string(root().join("scripts/install.sh")).expect("installer");
    let line = installer
        .lines()
        .find_map(|l| l.strip_prefix("TARGETS=\""))
        .expect("the installer lists its targets");
    let listed: BTreeSet<String> = line
        .trim_end_matches('"')
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(
        listed, expected,
        "installer and workflow ship the same targets"
    );
    assert!(installer.contains("bt-gitops-$target.tar.gz"));
    assert!(installer.contains("releases/download/$version"));

    let cargo = fs_err::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    assert_eq!(
        toml_value(&cargo, "pkg-url"),
        "{ repo }/releases/download/v{ version }/bt-gitops-{ target }.tar.gz"
    );
    assert_eq!(
        toml_value(&cargo, "bin-dir"),
        "bt-gitops-{ target }/{ bin }{ binary-ext }"
    );
    assert!(installer.contains(&format!(
        "REPO_URL=\"{}\"",
        toml_value(&cargo, "repository")
    )));

    let action = yaml("action.yml");
    let action_steps = action["runs"]["steps"].as_array().expect("steps");
    let install = action_steps[0]["run"].as_str().expect("an install step");
    assert!(install.contains("scripts/install.sh") && install.contains("3) echo \"compile=true\""));
    let compile = action_steps
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("cargo install --locked"))
        })
        .expect("a fallback build");
    assert_eq!(compile["if"], "steps.install.outputs.compile == 'true'");
}

#[test]
fn the_readme_install_command_installs_a_packed_release_and_refuses_a_bad_checksum() {
    let Some((tmp, target)) = packed_release() else {
        return;
    };
    let release = tmp.path().join("release");
    let sum = fs_err::read_to_string(release.join(format!("bt-gitops-{target}.tar.gz.sha256")))
        .expect("a checksum file");
    assert!(
        sum.ends_with(&format!("  bt-gitops-{target}.tar.gz\n")),
        "{sum}"
    );

    let readme = fs_err::read_to_string(root().join("README.md")).expect("README");
    let command = readme
        .lines()
        .find(|l| l.starts_with("sh scripts/install.sh"))
        .expect("README installs with scripts/install.sh");
    let home = tmp.path().join("home");
    let home_s = home.to_string_lossy().into_owned();
    let base = release.to_string_lossy().into_owned();
    let env = [
        ("HOME", home_s.as_str()),
        ("BT_GITOPS_BASE_URL", base.as_str()),
    ];
    let (code, _, err) = sh("sh", command, &root(), &env);
    assert_eq!(code, 0, "`{command}` failed:\n{err}");
    let installed = home.join(".local/bin/bt-gitops");
    let version = Command::new(&installed)
        .arg("--version")
        .output()
        .expect("the installed binary runs");
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with(&format!("bt-gitops {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );

    // A tampered archive is refused, and nothing is installed.
    fs_err::remove_file(&installed).expect("remove");
    let archive = release.join(format!("bt-gitops-{target}.tar.gz"));
    let mut bytes = fs_err::read(&archive).expect("archive");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs_err::write(&archive, bytes).expect("tamper");
    let (code, _, err) = sh("sh", command, &root(), &env);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(!installed.exists(), "a tampered binary was installed");

    // No binary for the platform: exit 3, which the action turns into a build from source.
    let (code, _, err) = sh(
        "sh",
        "sh scripts/install.sh --target riscv64gc-unknown-linux-gnu",
        &root(),
        &env,
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no prebuilt binary"), "{err}");
}

/// The `run` script of the action's step with this id.
fn action_step(id: &str) -> String {
    let action = yaml("action.yml");
    action["runs"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("no step `{id}`"))
        .to_owned()
}

#[test]
fn the_action_installs_the_release_without_compiling_and_runs_it() {
    let Some((tmp, _)) = packed_release() else {
        return;
    };
    let release = tmp.path().join("release");
    let home = tmp.path().join("home");
    let output = tmp.path().join("github-output");
    let (home_s, base, out_s, temp, root_s) = (
        home.to_string_lossy().into_owned(),
        release.to_string_lossy().into_owned(),
        output.to_string_lossy().into_owned(),
        tmp.path().to_string_lossy().into_owned(),
        root().to_string_lossy().into_owned(),
    );
    let mut env = vec![
        ("HOME", home_s.as_str()),
        ("BT_GITOPS_BASE_URL", base.as_str()),
        ("GITHUB_OUTPUT", out_s.as_str()),
        ("RUNNER_TEMP", temp.as_str()),
        ("ACTION_PATH", root_s.as_str()),
        ("VERSION", ""),
    ];
    let (code, _, err) = sh("bash", &action_step("install"), &root(), &env);
    assert_eq!(code, 0, "{err}");
    let outputs = fs_err::read_to_string(&output).expect("outputs");
    assert!(outputs.contains("compile=false"), "{outputs}");
    assert!(
        err.contains(&format!("release v{} for ", env!("CARGO_PKG_VERSION")))
            && err.contains(&base),
        "the action pins its own version (here from a local directory): {err}"
    );

    fs_err::write(&output, "").expect("reset outputs");
    env.push(("ARGS", "validate examples/minimal"));
    env.push(("OUT", ""));
    let (code, _, err) = sh("bash", &action_step("run"), &root(), &env);
    assert_eq!(code, 0, "{err}");
    let outputs = fs_err::read_to_string(&output).expect("outputs");
    assert!(outputs.contains("exit-code=0\n"), "{outputs}");
    assert!(
        outputs.contains(&format!("output-file={temp}/bt-gitops.out\n")),
        "stdout goes outside the work tree by default: {outputs}"
    );
}

/// The value of a `key = "value"` line of a TOML file (enough for Cargo.toml's flat metadata).
fn toml_value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(" = ")?;
            (k.trim() == key).then(|| v.trim().trim_matches('"'))
        })
        .unwrap_or_else(|| panic!("no `{key}` in Cargo.toml"))
}
