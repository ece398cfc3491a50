//! Data-driven diagnostics tests: every case under `tests/data/diagnostics/` is a bad manifest
//! (a `.yaml` file, or a directory for cases spanning files). Each must make `validate` exit 1
//! without panicking, print `file:line:col` and a code, and match its snapshot. A case's first
//! line may say `# expect: E0101 E0202` to pin the codes it must produce.

use std::path::Path;

use crate::support::{root, run_in};

#[test]
fn every_bad_manifest_is_reported() {
    let dir = root().join("tests/data/diagnostics");
    let mut cases: Vec<_> = fs_err::read_dir(&dir)
        .expect("tests/data/diagnostics exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir() && p.file_name().is_some_and(|n| n != "snapshots")
                || p.extension().is_some_and(|e| e == "yaml")
        })
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 40,
        "expected at least 40 diagnostic cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = check_case(&dir, case) {
            failures.push(format!("{}: {why}", case.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
}

fn check_case(dir: &Path, case: &Path) -> Result<(), String> {
    let name = case
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or("case")
        .to_owned();
    let rel = case.strip_prefix(dir).map_err(|e| e.to_string())?;
    let run = run_in(dir, &["validate", &rel.to_string_lossy()]);
    if run.code != Some(1) {
        return Err(format!(
            "exit code {:?}, expected 1\nstderr:\n{}",
            run.code, run.stderr
        ));
    }
    let has_location = run
        .stderr
        .lines()
        .any(|l| l.contains(".yaml:") && l.contains(",-["));
    if !has_location {
        return Err(format!("no file:line:col in output:\n{}", run.stderr));
    }
    if !run.stderr.contains("error[E") {
        return Err(format!("no error code in output:\n{}", run.stderr));
    }
    for code in expected_codes(case) {
        if !run.stderr.contains(&format!("[{code}]")) {
            return Err(format!("expected {code} in output:\n{}", run.stderr));
        }
    }
    insta::with_settings!({
        snapshot_path => dir.join("snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, run.stderr);
    });
    Ok(())
}

/// Codes listed on a `# expect:` line at the top of the case (of its first file for a directory).
fn expected_codes(case: &Path) -> Vec<String> {
    let file = if case.is_dir() {
        let mut files: Vec<_> = fs_err::read_dir(case)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        match files.into_iter().next() {
            Some(f) => f,
            None => return Vec::new(),
        }
    } else {
        case.to_path_buf()
    };
    let text = fs_err::read_to_string(file).unwrap_or_default();
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("# expect:"))
        .map(|codes| codes.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}
