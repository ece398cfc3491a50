//! Every example manifest tree validates cleanly.

use crate::support::{root, run_in};

#[test]
fn examples_validate() {
    let examples = root().join("examples");
    let mut dirs: Vec<_> = fs_err::read_dir(&examples)
        .expect("examples/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && fs_err::read_dir(p).is_ok_and(|mut d| {
                    d.any(|e| {
                        e.is_ok_and(|e| {
                            e.path().extension().is_some_and(|x| x == "yaml") || e.path().is_dir()
                        })
                    })
                })
        })
        .filter(|p| p.file_name().is_some_and(|n| n != "github"))
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 2,
        "expected examples/minimal and examples/acme"
    );
    for dir in dirs {
        let run = run_in(&root(), &["validate", &dir.to_string_lossy()]);
        assert_eq!(
            run.code,
            Some(0),
            "{} does not validate:\n{}",
            dir.display(),
            run.stderr
        );
        assert!(
            run.stderr.is_empty(),
            "{} has warnings:\n{}",
            dir.display(),
            run.stderr
        );
        assert!(run.stdout.starts_with("ok: "), "{}", run.stdout);
    }
}

#[test]
fn acme_covers_every_kind() {
    let run = run_in(&root(), &["validate", "examples/acme"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    insta::assert_snapshot!(run.stdout, @"ok: 6 files, 2 orgs, 4 projects, 71 objects");
}
