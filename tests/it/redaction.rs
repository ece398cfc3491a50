//! The canary test of the redaction layer: an emulator that echoes each request (its
//! `Authorization` header and body) in 400 and 500 error messages, as some servers and proxies
//! do, and every command that talks to it. No secret value bt-gitops read (the API key, the
//! HMAC key, an `env` secret, a `file` secret) may appear in any output or file: stdout, stderr,
//! debug logs, the apply report, the journal, the watch events, the plan file.

use std::path::Path;
use std::time::Duration;

use bt_gitops::emulator::{FaultAction, FaultRule};

use crate::support::{Run, run_bounded_with_env, runtime};

const API_KEY: &str = "sk-emulator-acme-0000000000000001";
const HMAC_KEY: &str = "canary-hmac-key-5be1d07a";
const ENV_SECRET: &str = "canary-env-secret-9c2f41e7";
const FILE_SECRET: &str = "canary-file-secret-3d8a66b0";

/// A bound on hanging for each run (`watch` is stopped when it is reached).
const BOUND: Duration = Duration::from_secs(60);

#[test]
fn an_echoing_server_leaks_no_secret_into_any_output_or_file() {
    let runtime = runtime();
    let emu = runtime.block_on(crate::support::acme_emulator(false));
    emu.set_faults(vec![
        FaultRule {
            path: Some("/v1/ai_secret*".to_owned()),
            ..FaultRule::new(FaultAction::Echo { status: 400 })
        },
        // PUT only: the apply lease is an env_var POST, and it must go through.
        FaultRule {
            path: Some("/v1/env_var*".to_owned()),
            method: Some("PUT".to_owned()),
            ..FaultRule::new(FaultAction::Echo { status: 500 })
        },
    ]);
    let dir = tempfile::tempdir().expect("temp dir");
    fs_err::write(
        dir.path().join("org.yaml"),
        "org: acme\nai_secrets:\n  - { name: CANARY, type: openai, secret: { env: CANARY_ENV_SECRET } }\n---\nproject: research\nenv_vars:\n  - { name: CANARY_VAR, value: { file: canary.txt } }\n",
    )
    .expect("write manifest");
    fs_err::write(dir.path().join("canary.txt"), format!("{FILE_SECRET}\n")).expect("secret");
    let url = emu.url().to_owned();
    let env = [
        ("BRAINTRUST_API_URL", url.as_str()),
        ("BRAINTRUST_API_KEY", API_KEY),
        ("BT_GITOPS_SECRET_KEY", HMAC_KEY),
        ("CANARY_ENV_SECRET", ENV_SECRET),
        ("BT_GITOPS_LOG", "bt_gitops=debug"),
    ];
    let run = |args: &[&str]| run_bounded_with_env(dir.path(), args, &env, BOUND);
    let runs: Vec<(&str, Run)> = vec![
        (
            "plan",
            run(&["plan", "--out", "plan.json", "--format", "json", "org.yaml"]),
        ),
        ("apply", run(&["apply", "--auto-approve", "org.yaml"])),
        (
            "apply json",
            run(&["apply", "--auto-approve", "--format", "json", "org.yaml"]),
        ),
        (
            "watch",
            run_bounded_with_env(
                dir.path(),
                &[
                    "watch",
                    "--auto-apply",
                    "--interval",
                    "1",
                    "--metrics-addr",
                    "127.0.0.1:0",
                    "org.yaml",
                ],
                &env,
                Duration::from_secs(6),
            ),
        ),
    ];
    // The faults fired: the secrets were sent and echoed back.
    let echoed = emu
        .requests()
        .iter()
        .filter(|r| r.fault.as_deref() == Some("echo"))
        .count();
    let shown: Vec<String> = runs
        .iter()
        .map(|(name, run)| format!("{name}: {:?}\n{}\n{}", run.code, run.stdout, run.stderr))
        .collect();
    assert!(
        echoed >= 2,
        "the echo faults never fired:\n{}",
        shown.join("\n")
    );
    let apply = &runs[1].1;
    assert_eq!(apply.code, Some(1), "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains("[redacted]") || apply.stderr.contains("[redacted]"),
        "the echoed request should reach the report, masked:\n{}\n{}",
        apply.stdout,
        apply.stderr
    );
    let mut outputs: Vec<(String, String)> = Vec::new();
    for (name, run) in &runs {
        outputs.push((format!("{name} stdout"), run.stdout.clone()));
        outputs.push((format!("{name} stderr"), run.stderr.clone()));
    }
    collect_files(dir.path(), dir.path(), &mut outputs);
    let names: Vec<&str> = outputs.iter().map(|(name, _)| name.as_str()).collect();
    assert!(
        names.iter().any(|name| name.contains("journal")),
        "no journal was written: {names:?}\n{}",
        apply.stderr
    );
    assert!(outputs.iter().any(|(name, _)| name == "plan.json"));
    let mut leaks = Vec::new();
    for (name, text) in &outputs {
        for secret in [API_KEY, HMAC_KEY, ENV_SECRET, FILE_SECRET] {
            if text.contains(secret) {
                leaks.push(format!("{secret} in {name}"));
            }
        }
    }
    assert!(leaks.is_empty(), "leaks:\n{}", leaks.join("\n"));
    runtime.block_on(emu.shutdown());
}

/// Every file under `dir` but the secret file itself, as `(relative path, text)`.
fn collect_files(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs_err::read_dir(dir)
        .expect("read dir")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.is_dir() {
            collect_files(base, &path, out);
        } else if path.file_name().is_some_and(|n| n != "canary.txt") {
            let name = path
                .strip_prefix(base)
                .map_or_else(|_| path.display().to_string(), |p| p.display().to_string());
            let text = fs_err::read(&path).expect("read file");
            out.push((name, String::from_utf8_lossy(&text).into_owned()));
        }
    }
}
