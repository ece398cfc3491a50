//! Data-driven diagnostics tests: every case under `tests/data/diagnostics/` is a bad manifest
//! (a `.yaml` file, or a directory for cases spanning files). Each must make `validate` exit 1
//! without panicking, print `file:line:col` and a code, and match its snapshot. A case's first
//! line may say `# expect: E0101 E0202` to pin the codes it must produce. Every diagnostic must
//! carry a location, and every run must end within [`HANG_BOUND`].
//!
//! Hostile files git cannot hold (a FIFO, an oversized file, a tree past the size limit) are
//! made at run time in a temporary directory by [`hostile_files_made_at_run_time`].

use std::path::Path;
use std::time::Duration;

use crate::support::{root, run_bounded};

/// A run still going after this long is taken as hung (a bound on hanging, not on speed).
const HANG_BOUND: Duration = Duration::from_secs(60);

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
    let run = check_run(dir, &rel.to_string_lossy())?;
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

/// Runs `validate PATH` from `dir`: it must end in time with exit code 1, and every diagnostic
/// it prints must have a code and a `file:line:col` location.
fn check_run(dir: &Path, path: &str) -> Result<crate::support::Run, String> {
    let run = run_bounded(dir, &["validate", path], HANG_BOUND);
    if run.code != Some(1) {
        return Err(format!(
            "exit code {:?}, expected 1\nstderr:\n{}",
            run.code, run.stderr
        ));
    }
    if !run.stderr.contains("error[E") {
        return Err(format!("no error code in output:\n{}", run.stderr));
    }
    let lines: Vec<&str> = run.stderr.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let header = line.starts_with("error[") || line.starts_with("warning[");
        let located = lines.get(i + 1).is_some_and(|next| has_location(next));
        if header && !located {
            return Err(format!(
                "no file:line:col for `{line}` in output:\n{}",
                run.stderr
            ));
        }
    }
    Ok(run)
}

/// Whether a line is a snippet heading with a location: `,-[path:line:col]`.
fn has_location(line: &str) -> bool {
    let Some((_, at)) = line.split_once(",-[") else {
        return false;
    };
    let mut parts = at.trim_end().trim_end_matches(']').rsplitn(3, ':');
    let numeric =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_some_and(|p| !p.is_empty())
}

/// A FIFO, a file over the per-file limit and a tree over the file-count limit, made in a
/// temporary directory, and a pseudo-file of the operating system: each is refused with its
/// code at `file:1:1`, and nothing blocks.
#[test]
fn hostile_files_made_at_run_time() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path().join("m");
    fs_err::create_dir(&root).expect("manifest directory");
    fs_err::write(root.join("a-org.yaml"), "org: acme\n").expect("org file");
    let big = vec![b'#'; 9 * 1024 * 1024];
    fs_err::write(root.join("big.yaml"), big).expect("big file");
    let fifo = std::process::Command::new("mkfifo")
        .arg(root.join("fifo.yaml"))
        .status()
        .expect("mkfifo runs");
    assert!(fifo.success(), "mkfifo failed");
    let run = check_run(dir.path(), "m").unwrap_or_else(|why| panic!("{why}"));
    for (code, file) in [("E0005", "m/big.yaml:1:1"), ("E0006", "m/fifo.yaml:1:1")] {
        assert!(
            run.stderr.contains(&format!("error[{code}]")) && run.stderr.contains(file),
            "expected {code} at {file}:\n{}",
            run.stderr
        );
    }
    // More files than one run reads: one diagnostic for the limit, not one per file left.
    let many = dir.path().join("many");
    fs_err::create_dir(&many).expect("directory");
    for i in 0..=10_000 {
        fs_err::write(many.join(format!("{i:05}.yaml")), "# nothing\n").expect("small file");
    }
    let run = check_run(dir.path(), "many").unwrap_or_else(|why| panic!("{why}"));
    assert_eq!(
        run.stderr.matches("error[E0005]").count(),
        1,
        "{}",
        run.stderr.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    assert!(
        run.stderr.contains("many/10000.yaml:1:1"),
        "{}",
        run.stderr.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    // The FIFO named directly, and a pseudo-file of the operating system.
    for (path, code) in [("m/fifo.yaml", "E0006"), ("/proc/self/environ", "E0006")] {
        let run = check_run(dir.path(), path).unwrap_or_else(|why| panic!("{why}"));
        assert!(
            run.stderr.contains(&format!("error[{code}]")),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("PATH="), "{}", run.stderr);
    }
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

/// Parsing on several threads changes nothing: every diagnostics case in one tree, with a
/// generated file that takes it past the size where `analyze_with` uses threads, gives the same
/// diagnostics, objects and order on 1 and on 4 threads.
#[test]
fn parsing_on_threads_gives_the_same_analysis() {
    use bt_gitops::pipeline;
    use bt_gitops::source::SourceMap;
    use std::fmt::Write as _;

    let mut sources = SourceMap::new();
    let mut files: Vec<_> = walk(&root().join("tests/data/diagnostics"));
    files.sort();
    for file in files {
        if let Ok(text) = std::fs::read_to_string(&file) {
            sources.add(file.display().to_string(), text);
        }
    }
    let mut big = String::from("org: threads\n");
    for p in 0..3_000 {
        let _ = write!(
            big,
            "---\nproject: p{p}\norg: threads\ntags:\n  - {{ name: a, color: \"#00aa00\" }}\n  - {{ name: b }}\nscores:\n  - {{ name: s, type: slider }}\n"
        );
    }
    sources.add("big.yaml", big);
    let one = pipeline::analyze_with(&sources, 1);
    let four = pipeline::analyze_with(&sources, 4);
    assert!(!one.diagnostics.is_empty(), "the cases produce diagnostics");
    assert_eq!(
        format!("{:?}", one.diagnostics),
        format!("{:?}", four.diagnostics)
    );
    let keys = |a: &pipeline::Analysis| a.state.resources.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&one), keys(&four));
    assert!(keys(&one).len() > 6_000, "the generated file is analysed");
    assert_eq!(one.graph.topo_order(), four.graph.topo_order());
}

/// Every regular file under `dir` (symbolic links not followed: some cases link to devices).
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            out.extend(walk(&entry.path()));
        } else if kind.is_file() && entry.path().extension().is_some_and(|e| e == "yaml") {
            out.push(entry.path());
        }
    }
    out
}
