//! Code-base invariants checked as tests: module docs, no disabled tests, and the architecture
//! boundaries written in ARCHITECTURE.md.

use std::path::{Path, PathBuf};

use crate::support::root;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs_err::read_dir(dir)
        .expect("readable dir")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root())
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            (rel, fs_err::read_to_string(&p).expect("readable source"))
        })
        .collect()
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(p, _)| p)
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` comment: {missing:?}"
    );
}

#[test]
fn no_disabled_or_panicking_tests() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    // Spelled in pieces so that this file does not match its own search.
    let banned = [
        concat!("#[", "ignore"),
        concat!("#[", "should_panic"),
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
    ];
    for file in files.into_iter() {
        let text = fs_err::read_to_string(&file).expect("readable");
        for b in banned {
            assert!(!text.contains(b), "{} contains `{b}`", file.display());
        }
    }
}

/// Modules of the pure core: no IO, no async, no knowledge of the edges.
const CORE: &[&str] = &[
    "src/manifest/",
    "src/model/",
    "src/graph.rs",
    "src/diag.rs",
    "src/source.rs",
    "src/pipeline.rs",
    "src/live.rs",
    "src/refs.rs",
    "src/diff/",
    "src/plan/",
    "src/render/",
    "src/import.rs",
    "src/propose.rs",
    "src/vocab.rs",
    "src/wire.rs",
    "src/wire/",
    "src/kinds/",
];

#[test]
fn the_core_does_no_io() {
    let forbidden = [
        "std::fs",
        "fs_err",
        "tokio",
        "reqwest",
        "axum",
        "git2",
        "notify::",
        "std::process",
        "std::net",
        "println!",
        "eprintln!",
        "async fn",
        ".await",
        "crate::api",
        "crate::cli",
        "crate::emulator",
        "crate::reconcile",
        "std::env::var",
    ];
    for (path, text) in sources() {
        if !CORE.iter().any(|c| path.starts_with(c)) {
            continue;
        }
        let code = code_only(&text);
        for f in forbidden {
            assert!(
                !code.contains(f),
                "{path} uses `{f}`, but the core does no IO (see ARCHITECTURE.md)"
            );
        }
    }
}

#[test]
fn edges_stay_in_their_modules() {
    // (crate or API, the only place allowed to use it)
    let owners: &[(&str, &[&str])] = &[
        ("clap::", &["src/cli/"]),
        ("axum", &["src/emulator/", "src/controller/serve.rs"]),
        ("reqwest", &["src/api/"]),
        ("git2", &["src/git.rs", "src/git/"]),
        ("notify::", &["src/file_events.rs"]),
        ("std::process::exit", &[]),
    ];
    for (path, text) in sources() {
        let text = code_only(&text);
        for (needle, allowed) in owners {
            if text.contains(needle) && !allowed.iter().any(|a| path.starts_with(a)) {
                panic!(
                    "{path} uses `{needle}`, which only {allowed:?} may use (see ARCHITECTURE.md)"
                );
            }
        }
    }
}

#[test]
fn readme_lists_every_env_var_in_one_unbroken_table() {
    let readme = fs_err::read_to_string(root().join("README.md")).expect("README.md");
    let start = readme
        .find("| Variable | Used for |")
        .expect("README has the environment-variable table");
    // A Markdown table ends at the first line that is not a row: a blank line would cut it.
    let table: Vec<&str> = readme[start..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .collect();
    let rows = table[2..].join("\n");
    for (name, _) in bt_gitops::env::ALL {
        assert!(
            rows.contains(&format!("`{name}`")),
            "README.md's table does not document `{name}`:\n{rows}"
        );
    }
    for row in &table[2..] {
        let first = row.split('|').nth(1).unwrap_or("");
        for name in first.split('`').skip(1).step_by(2) {
            assert!(
                bt_gitops::env::ALL.iter().any(|(n, _)| *n == name),
                "README lists `{name}`, which src/env.rs does not"
            );
        }
    }
}

#[test]
fn readme_says_to_git_ignore_written_keys() {
    let readme = fs_err::read_to_string(root().join("README.md")).expect("README.md");
    let line = readme
        .lines()
        .find(|l| l.contains(".gitignore") && l.contains("write_key_to"))
        .unwrap_or_else(|| panic!("README never says to git-ignore `write_key_to` files"));
    assert!(line.contains(".bt-gitops/"), "{line}");
}

/// The text without comment lines, so docs may name what the code must not use.
fn code_only(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}
