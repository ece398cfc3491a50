//! The conventions of a command-line tool: `--version` with commit and date, `explain CODE`,
//! shell completions and the man page (both from the clap definitions), and the `--emulator`
//! state: orgs created on demand, `emulator --reset`, an unknown org reported as unknown, and
//! what the standalone emulator prints.

use crate::support::{acme_emulator, root, run_in, run_with_env, runtime};

#[test]
fn version_names_the_commit_and_the_build_date() {
    let run = run_in(&root(), &["--version"]);
    assert_eq!(run.code, Some(0));
    let line = run.stdout.trim();
    let rest = line
        .strip_prefix(&format!("bt-gitops {} (commit ", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, date) = rest
        .trim_end_matches(')')
        .split_once(", built ")
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{line}"
    );
    assert!(
        date == "unknown" || (date.len() == 10 && date.chars().filter(|c| *c == '-').count() == 2),
        "{line}"
    );
}

#[test]
fn explain_prints_the_documentation_of_a_code_and_refuses_unknown_ones() {
    let run = run_in(&root(), &["explain", "E0101"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "E0101 (unknown-field)\n\nA key that the manifest language does not know.\n"
    );
    let by_slug = run_in(&root(), &["explain", "unknown-field"]);
    assert_eq!(by_slug.stdout, run.stdout);

    let all = run_in(&root(), &["explain"]);
    assert_eq!(all.code, Some(0));
    assert_eq!(all.stdout.lines().count(), bt_gitops::diag::Code::ALL.len());

    let unknown = run_in(&root(), &["explain", "unknwn-field"]);
    assert_eq!(unknown.code, Some(1));
    assert!(unknown.stdout.is_empty());
    assert!(
        unknown.stderr.contains("not a bt-gitops diagnostic code")
            && unknown.stderr.contains("Did you mean `E0101`")
            && unknown.stderr.contains("help:"),
        "{}",
        unknown.stderr
    );
}

/// The three document kinds by the keys that start them (it once said `template:`, a key the
/// manifest language does not have).
#[test]
fn explain_unknown_document_names_the_document_keys() {
    let run = run_in(&root(), &["explain", "E0003"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for key in ["`org:`", "`project:`", "`project_template:`"] {
        assert!(run.stdout.contains(key), "{key} missing: {}", run.stdout);
    }
    assert!(!run.stdout.contains("`template:`"), "{}", run.stdout);
}

#[test]
fn every_code_has_documentation() {
    for code in bt_gitops::diag::Code::ALL {
        assert!(
            code.doc().trim().len() > 10,
            "{} has no documentation",
            code.as_str()
        );
    }
}

#[test]
fn completions_and_man_page_cover_every_subcommand() {
    let subcommands: Vec<String> = {
        use clap::CommandFactory;
        bt_gitops::cli::Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect()
    };
    for shell in ["bash", "zsh", "fish"] {
        let run = run_in(&root(), &["completions", shell]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        for sub in &subcommands {
            assert!(run.stdout.contains(sub.as_str()), "{shell} lacks `{sub}`");
        }
    }
    let bad = run_in(&root(), &["completions", "cmd.exe"]);
    assert_eq!(
        bad.code,
        Some(1),
        "an unknown shell is a usage error (exit 1)"
    );

    let man = run_in(&root(), &["man"]);
    assert_eq!(man.code, Some(0), "{}", man.stderr);
    assert!(man.stdout.starts_with(".ie") || man.stdout.contains(".TH bt-gitops 1"));
    for sub in &subcommands {
        assert!(man.stdout.contains(sub.as_str()), "man lacks `{sub}`");
    }
    for (name, _) in bt_gitops::env::ALL {
        assert!(man.stdout.contains(name), "man lacks `{name}`");
    }
}

#[test]
fn the_emulator_creates_every_named_org_on_demand_and_resets() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs_err::write(dir.path().join("acme.yaml"), "org: acme\n").expect("manifest");
    let first = run_in(dir.path(), &["plan", "--emulator", "acme.yaml"]);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(dir.path().join(".bt-gitops/emulator.json").exists());

    // Another org, with the state of the first already there: created, not a 401.
    fs_err::write(dir.path().join("other.yaml"), "org: Other Co\n").expect("manifest");
    let other = run_in(dir.path(), &["plan", "--emulator", "other.yaml"]);
    assert_eq!(other.code, Some(0), "{}", other.stderr);
    assert!(
        other.stderr.contains(
            "emulator: org `Other Co` created in .bt-gitops/emulator.json (owner owner@other-co.example.com, service token bt-st-emulator-other-co-key)"
        ),
        "{}",
        other.stderr
    );
    let again = run_in(dir.path(), &["plan", "--emulator", "other.yaml"]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(
        !again.stderr.contains("created"),
        "created once: {}",
        again.stderr
    );

    let reset = run_in(dir.path(), &["emulator", "--reset"]);
    assert_eq!(reset.code, Some(0), "{}", reset.stderr);
    assert!(
        reset
            .stdout
            .contains("removed the emulator state `.bt-gitops/emulator.json`"),
        "{}",
        reset.stdout
    );
    assert!(!dir.path().join(".bt-gitops/emulator.json").exists());
    let none = run_in(dir.path(), &["emulator", "--reset"]);
    assert!(none.stdout.contains("no emulator state"), "{}", none.stdout);
}

#[test]
fn a_wrong_org_name_with_a_valid_key_is_an_unknown_org_not_a_bad_key() {
    let rt = runtime();
    let emu = rt.block_on(acme_emulator(true));
    let dir = tempfile::tempdir().expect("tempdir");
    fs_err::write(dir.path().join("org.yaml"), "org: acme-typo\n").expect("manifest");
    let run = run_with_env(
        dir.path(),
        &["plan", "org.yaml"],
        &[
            ("BRAINTRUST_API_URL", emu.url()),
            ("BRAINTRUST_API_KEY", emu.api_key()),
        ],
    );
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("org `acme-typo` is not visible to this API key (the key sees: `acme`)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("rejected"), "{}", run.stderr);
}

#[test]
fn the_readme_says_what_the_emulator_makes_up_and_how_to_reset_it() {
    let readme = fs_err::read_to_string(root().join("README.md")).expect("README.md");
    for needed in [
        ".bt-gitops/emulator.json",
        "`owner@<org>.example.com`",
        "`sk-emulator-<org>-key`",
        "`bt-gitops emulator --reset`",
    ] {
        assert!(readme.contains(needed), "README lacks {needed}");
    }
}

/// `plan` starts its API reads while the manifests are parsed; a manifest with an error is still
/// reported as such (coded, at `file:line:col`, with a hint; exit 1) and nothing of the API is,
/// whether the API is unreachable or answers slowly: the reads are dropped, and nothing is
/// written.
#[test]
fn plan_reports_manifest_errors_before_anything_the_api_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs_err::write(
        dir.path().join("org.yaml"),
        "org: acme\n---\nproject: research\ntags:\n  - { name: regression, colour: red }\n",
    )
    .expect("manifest");
    let key = ("BRAINTRUST_API_KEY", "sk-emulator-acme-0000000000000001");
    let unreachable = run_with_env(
        dir.path(),
        &["plan", "org.yaml"],
        &[("BRAINTRUST_API_URL", "http://127.0.0.1:9"), key],
    );
    let rt = runtime();
    let emu = rt.block_on(acme_emulator(true));
    emu.set_latency(std::time::Duration::from_millis(500));
    let slow = run_with_env(
        dir.path(),
        &["plan", "org.yaml"],
        &[("BRAINTRUST_API_URL", emu.url()), key],
    );
    for run in [&unreachable, &slow] {
        assert_eq!(run.code, Some(1), "{}", run.stderr);
        assert!(
            run.stderr.contains("error[E0101]")
                && run.stderr.contains("[org.yaml:5:")
                && run.stderr.contains("help:")
                && run.stderr.contains("1 error in the manifests;"),
            "{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("127.0.0.1") && !run.stderr.contains("connect"),
            "a read error came out: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    assert!(
        emu.requests().iter().all(|r| !r.is_write()),
        "{:?}",
        emu.requests()
    );
}

/// `bt-gitops emulator` names the orgs it serves before `ready`, so that a first manifest can
/// say `org: NAME` (the standalone emulator's org is `emulated-org`, not the `--emulator` seed's
/// `acme`).
#[test]
fn the_standalone_emulator_names_its_orgs() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bt-gitops"))
        .args(["emulator", "--state", "state.json"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the bt-gitops binary runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("utf-8 line");
        let done = line == "ready";
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines.iter().any(|l| l == "orgs: `emulated-org`"),
        "{lines:?}"
    );
    assert_eq!(lines.last().map(String::as_str), Some("ready"), "{lines:?}");
}

/// With the standalone emulator's user key (`sk-...`), bt-gitops knows whose key it is: the plan
/// shows the `service-token-key` guard for a new service token (as the README says), and a view
/// it creates is its own on the next plan, not another user's that holds the name. (The owner's
/// email was `owner@emulated-org.example`, which reads as a service account's: `.example` is
/// not routable.)
#[test]
fn the_standalone_emulators_user_key_is_known_as_its_owners() {
    let rt = runtime();
    let emu = rt
        .block_on(bt_gitops::emulator::spawn(
            bt_gitops::emulator::EmulatorConfig::default(),
        ))
        .expect("emulator starts");
    let env = [
        ("BRAINTRUST_API_URL", emu.url()),
        ("BRAINTRUST_API_KEY", emu.api_key()),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let project = "project: p\nviews:\n  - { name: v, type: logs, data: { search: {} } }\n";
    fs_err::write(
        dir.path().join("org.yaml"),
        format!(
            "org: emulated-org\nservice_accounts:\n  - name: ci\n    tokens: [{{ name: gh, write_key_to: ci.token }}]\n---\n{project}"
        ),
    )
    .expect("manifest");
    let plan = run_with_env(dir.path(), &["plan", "."], &env);
    assert_eq!(plan.code, Some(1), "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("(`service-token-key` guard)")
            && plan.stdout.contains("owner@emulated-org.example.com"),
        "{}",
        plan.stdout
    );

    fs_err::write(
        dir.path().join("org.yaml"),
        format!("org: emulated-org\n---\n{project}"),
    )
    .expect("manifest");
    let apply = run_with_env(dir.path(), &["apply", "--auto-approve", "."], &env);
    assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    let again = run_with_env(dir.path(), &["plan", "--detailed-exitcode", "."], &env);
    assert_eq!(again.code, Some(0), "{}\n{}", again.stdout, again.stderr);
    assert!(!again.stdout.contains("another user"), "{}", again.stdout);
}
