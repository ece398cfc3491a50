//! Reading manifest files from disk into a [`SourceMap`].

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic};
use crate::source::{SourceMap, Span};

/// Directories never searched for manifests.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];

/// Where the operating system shows its state as files: never manifests, and their reported
/// size (0) is not their length.
const PSEUDO_FILESYSTEMS: &[&str] = &["/proc", "/sys", "/dev"];

/// Loads the manifests a command names: from git at `--git-ref`, or from the work tree.
/// Threads to parse manifests on: the CPUs this process may use.
#[must_use]
pub fn parse_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

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
            Ok(sources) => {
                let diags = sources
                    .iter()
                    .filter_map(|(id, f)| Some((id, f.refusal?, &f.path)))
                    .map(|(id, why, path)| {
                        let code = if why.contains("UTF-8") {
                            Code::YamlSyntax
                        } else if why.contains("link") {
                            Code::OutsideRoot
                        } else {
                            Code::ResourceLimit
                        };
                        Diagnostic::error(code, format!("`{path}` is {why}: it was not read"))
                            .with_label(Span::new(id, 0, 0), "not read")
                            .with_hint("manifests are regular UTF-8 files of at most 8 MiB")
                    })
                    .collect();
                (sources, diags)
            }
            Err(err) => (
                SourceMap::new(),
                vec![Diagnostic::error(Code::NoManifests, err.to_string())],
            ),
        },
        None => load(&arg.path),
    }
}

/// The largest manifest file read; anything bigger is refused unread past this many bytes.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// The most manifest text one run reads, over every file of the tree.
pub const MAX_TREE_BYTES: u64 = 64 * 1024 * 1024;
/// The most manifest files one run reads.
pub const MAX_FILES: usize = 10_000;

/// Loads every manifest under `root` (or `root` itself when it is a file), in path order so
/// output is stable. Unreadable files become diagnostics.
///
/// Only regular files are read: FIFOs, devices and sockets are refused before they are opened
/// for reading, a symbolic link is followed only when its target stays inside the (canonical)
/// root, and each file and the whole tree have a size limit enforced while reading (files such
/// as those under `/proc` report a size of 0). A refused file is kept in the source map with no
/// text, so its diagnostic still points at `file:1:1`.
pub fn load(root: &Path) -> (SourceMap, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let mut files = Vec::new();
    let Ok(meta) = fs_err::metadata(root) else {
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
    };
    if meta.is_dir() {
        let canonical = fs_err::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let mut walk = Walk {
            root: canonical.clone(),
            visited: vec![canonical],
            files: &mut files,
            refused: Vec::new(),
        };
        walk.collect(root);
        let refused = walk.refused;
        files.sort();
        for (file, why) in refused {
            let shown = display_path(root, &file);
            diags.push(why.diagnostic(&mut sources, shown));
        }
    } else {
        files.push(root.to_path_buf());
    }
    let mut budget = Budget::default();
    for file in files {
        let shown = display_path(root, &file);
        match read_manifest(&file, &mut budget) {
            Ok(text) => {
                sources.add(shown, text);
            }
            Err(why) => {
                let exhausted = matches!(why, Refused::TreeTooBig);
                diags.push(why.diagnostic(&mut sources, shown));
                if exhausted {
                    // One diagnostic for the limit, not one per file left unread.
                    break;
                }
            }
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

/// Why a manifest file was not read.
#[derive(Debug)]
enum Refused {
    /// A FIFO, device, socket or other non-regular file, with what it is.
    Special(&'static str),
    /// A symbolic link whose target leaves the manifest root.
    OutsideRoot(PathBuf),
    /// Bigger than [`MAX_FILE_BYTES`].
    TooBig,
    /// The tree went past [`MAX_TREE_BYTES`] or [`MAX_FILES`] with this file.
    TreeTooBig,
    /// Not UTF-8: the line and column of the first bad byte.
    NotUtf8(usize, usize),
    /// The operating system refused.
    Io(String),
}

impl Refused {
    /// The diagnostic, located at `file:1:1` of an empty entry added for the refused file.
    fn diagnostic(self, sources: &mut SourceMap, shown: String) -> Diagnostic {
        let reason = match &self {
            Refused::Special(_) => "not a regular file",
            Refused::OutsideRoot(_) => "a link out of the manifest directory",
            Refused::TooBig => "larger than 8 MiB",
            Refused::TreeTooBig => "past the size limit of the tree",
            Refused::NotUtf8(..) => "not UTF-8 text",
            Refused::Io(_) => "unreadable",
        };
        let (code, message, label, hint) = match self {
            Refused::Special(what) => (
                Code::NotRegularFile,
                format!("`{shown}` is {what}, not a regular file: it was not read"),
                "not a regular file".to_owned(),
                "manifests are regular files; remove this entry or rename it so it does not end in `.yaml`".to_owned(),
            ),
            Refused::OutsideRoot(target) => (
                Code::OutsideRoot,
                format!("`{shown}` is a symbolic link that leaves the manifest directory: it was not read"),
                format!("links to `{}`", target.display()),
                "a link is followed only when its target stays inside the manifest directory; copy the file in instead".to_owned(),
            ),
            Refused::TooBig => (
                Code::ResourceLimit,
                format!("`{shown}` is larger than {} MiB: it was not read", MAX_FILE_BYTES >> 20),
                "file too large".to_owned(),
                "split the manifests into several files, or check that this is really a manifest".to_owned(),
            ),
            Refused::TreeTooBig => (
                Code::ResourceLimit,
                format!(
                    "the manifests reach {} MiB or {MAX_FILES} files at `{shown}`: it and later files were not read",
                    MAX_TREE_BYTES >> 20
                ),
                "limit reached here".to_owned(),
                "point bt-gitops at the manifest directory itself, not at a directory holding other YAML files".to_owned(),
            ),
            Refused::NotUtf8(line, col) => (
                Code::YamlSyntax,
                format!("`{shown}` is not UTF-8 text (first bad byte at line {line}, column {col})"),
                "not UTF-8".to_owned(),
                "save the file as UTF-8".to_owned(),
            ),
            Refused::Io(err) => (
                Code::NoManifests,
                format!("cannot read `{shown}`: {err}"),
                "unreadable".to_owned(),
                "check the file's permissions".to_owned(),
            ),
        };
        let file = sources.add_refused(shown, reason);
        Diagnostic::error(code, message)
            .with_label(Span::new(file, 0, 0), label)
            .with_hint(hint)
    }
}

/// What a run has read so far, against the tree limits.
#[derive(Default)]
struct Budget {
    bytes: u64,
    files: usize,
    exhausted: bool,
}

/// Reads one manifest: refuses anything but a regular file (checked before opening, and again on
/// the open handle), never opens in a way that can block, and reads at most the size limits.
fn read_manifest(path: &Path, budget: &mut Budget) -> Result<String, Refused> {
    if budget.exhausted || budget.files >= MAX_FILES {
        budget.exhausted = true;
        return Err(Refused::TreeTooBig);
    }
    let meta = fs_err::metadata(path).map_err(|e| Refused::Io(io_reason(e.kind())))?;
    let canonical = fs_err::canonicalize(path).map_err(|e| Refused::Io(io_reason(e.kind())))?;
    if PSEUDO_FILESYSTEMS.iter().any(|p| canonical.starts_with(p)) {
        return Err(Refused::Special("a file of the operating system"));
    }
    if !meta.is_file() {
        return Err(Refused::Special(special_kind(&meta.file_type())));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO swapped in after the check must not block the open.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| Refused::Io(io_reason(e.kind())))?;
    let meta = file
        .metadata()
        .map_err(|e| Refused::Io(io_reason(e.kind())))?;
    if !meta.is_file() {
        return Err(Refused::Special(special_kind(&meta.file_type())));
    }
    let room = MAX_FILE_BYTES.min(MAX_TREE_BYTES - budget.bytes);
    let mut bytes = Vec::new();
    file.take(room + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Refused::Io(io_reason(e.kind())))?;
    let read = bytes.len() as u64;
    if read > room {
        if room < MAX_FILE_BYTES {
            budget.exhausted = true;
            return Err(Refused::TreeTooBig);
        }
        return Err(Refused::TooBig);
    }
    budget.bytes += read;
    budget.files += 1;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        Refused::NotUtf8(line, col)
    })
}

/// The error's text without the path (the diagnostic names the file already).
fn io_reason(kind: std::io::ErrorKind) -> String {
    std::io::Error::from(kind).to_string()
}

/// What a non-regular file is, for the message.
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        return "a directory";
    }
    "a special file"
}

/// A walk of the manifest tree that stays inside its root.
struct Walk<'a> {
    /// The canonical root.
    root: PathBuf,
    /// Canonical directories entered, so a link cannot make the walk loop.
    visited: Vec<PathBuf>,
    files: &'a mut Vec<PathBuf>,
    refused: Vec<(PathBuf, Refused)>,
}

impl Walk<'_> {
    fn collect(&mut self, dir: &Path) {
        let entries = match fs_err::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) => {
                self.refused
                    .push((dir.to_path_buf(), Refused::Io(io_reason(err.kind()))));
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
            let Ok(mut kind) = entry.file_type() else {
                continue;
            };
            let manifest = name.ends_with(".yaml") || name.ends_with(".yml");
            if kind.is_symlink() {
                let Ok(target) = fs_err::canonicalize(&path) else {
                    if manifest {
                        self.refused
                            .push((path, Refused::Io("dangling symbolic link".to_owned())));
                    }
                    continue;
                };
                if !target.starts_with(&self.root) {
                    if manifest {
                        self.refused.push((path, Refused::OutsideRoot(target)));
                    }
                    continue;
                }
                let Ok(meta) = fs_err::metadata(&target) else {
                    continue;
                };
                if meta.is_dir() && self.visited.contains(&target) {
                    continue;
                }
                kind = meta.file_type();
            }
            if kind.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_ref()) {
                    if let Ok(canonical) = fs_err::canonicalize(&path) {
                        if self.visited.contains(&canonical) {
                            continue;
                        }
                        self.visited.push(canonical);
                    }
                    self.collect(&path);
                }
            } else if manifest {
                self.files.push(path);
            }
            if self.files.len() > MAX_FILES {
                // Reading stops at the limit anyway: no need to walk the rest of a huge tree.
                return;
            }
        }
    }
}

/// The path as users typed it: relative to the root's parent for directories, with `/`.
fn display_path(root: &Path, file: &Path) -> String {
    let shown = if file == root || root.is_file() {
        file.to_path_buf()
    } else {
        file.strip_prefix(root)
            .map_or_else(|_| file.to_path_buf(), |rel| root.join(rel))
    };
    let text = shown.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}
