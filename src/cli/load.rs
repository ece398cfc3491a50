//! Reading manifest files from disk into a [`SourceMap`].

use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic};
use crate::source::SourceMap;

/// Directories never searched for manifests.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];

/// Loads the manifests a command names: from git at `--git-ref`, or from the work tree.
pub fn load_arg(arg: &super::PathArg) -> (SourceMap, Vec<Diagnostic>) {
    match &arg.git_ref {
        Some(reference) => match crate::git::sources_at(&arg.path, reference) {
            Ok(sources) if sources.is_empty() => (
                sources,
                vec![Diagnostic::error(
                    Code::NoManifests,
                    format!(
                        "no `.yaml` or `.yml` files under `{}` at `{reference}`",
                        arg.path.display()
                    ),
                )],
            ),
            Ok(sources) => (sources, Vec::new()),
            Err(err) => (
                SourceMap::new(),
                vec![Diagnostic::error(Code::NoManifests, err.to_string())],
            ),
        },
        None => load(&arg.path),
    }
}

/// Loads every manifest under `root` (or `root` itself when it is a file), in path order so
/// output is stable. Unreadable files become diagnostics.
pub fn load(root: &Path) -> (SourceMap, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let mut files = Vec::new();
    if root.is_file() {
        files.push(root.to_path_buf());
    } else if root.is_dir() {
        collect(root, &mut files, &mut diags);
        files.sort();
    } else {
        diags.push(
            Diagnostic::error(
                Code::NoManifests,
                format!("`{}` does not exist", root.display()),
            )
            .with_hint(
                "pass a manifest directory or file, e.g. `bt-gitops validate examples/acme`",
            ),
        );
        return (sources, diags);
    }
    for file in files {
        let shown = display_path(root, &file);
        match fs_err::read(&file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    sources.add(shown, text);
                }
                Err(_) => diags.push(Diagnostic::error(
                    Code::YamlSyntax,
                    format!("`{shown}` is not UTF-8 text"),
                )),
            },
            Err(err) => diags.push(Diagnostic::error(
                Code::NoManifests,
                format!("cannot read `{shown}`: {err}"),
            )),
        }
    }
    if sources.is_empty() && diags.is_empty() {
        diags.push(
            Diagnostic::error(
                Code::NoManifests,
                format!("no `.yaml` or `.yml` files under `{}`", root.display()),
            )
            .with_hint("manifests are YAML files starting with `org: NAME` or `project: NAME`"),
        );
    }
    (sources, diags)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            diags.push(Diagnostic::error(
                Code::NoManifests,
                format!("cannot read directory: {err}"),
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) {
                collect(&path, files, diags);
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            files.push(path);
        }
    }
}

/// The path as users typed it: relative to the root's parent for directories, with `/`.
fn display_path(root: &Path, file: &Path) -> String {
    let shown = if root.is_file() {
        file.to_path_buf()
    } else {
        file.strip_prefix(root)
            .map_or_else(|_| file.to_path_buf(), |rel| root.join(rel))
    };
    let text = shown.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}
