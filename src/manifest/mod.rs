//! Syntax: YAML text to raw manifest documents, with spans. No cross-document knowledge.
//!
//! Every file may hold several YAML documents. Each document is parsed on its own: it is told
//! apart by its top-level key (`org:`, `project:` or `project_template:`) and deserialized into
//! the matching [`raw`] type. A document with an error yields one diagnostic and is skipped;
//! other documents and files are still parsed, so one run reports problems across the tree.

pub mod raw;
pub mod schema;
pub mod spanned;
pub mod values;

use serde::Deserialize;

use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::source::{FileId, SourceFile, SourceMap, Span};
use raw::{RawDocument, RawOrg, RawProject};
use spanned::{DocPos, Sp};

/// One parsed document and where its text starts, so lowering can turn positions into spans.
#[derive(Debug, Clone)]
pub struct ParsedDocument {
    pub doc: RawDocument,
    pub at: DocOrigin,
}

/// The place of a document in its file: positions inside the document are relative to it.
#[derive(Debug, Clone, Copy)]
pub struct DocOrigin {
    pub file: FileId,
    /// Byte offset of the document's first byte in the file.
    pub base: usize,
    /// Number of lines before the document's first line.
    pub line_offset: usize,
}

impl DocOrigin {
    /// The file span of a value of this document.
    #[must_use]
    pub fn span(&self, pos: DocPos, sources: &SourceMap) -> Span {
        let start = match pos.offset {
            Some(offset) => self.base + offset,
            None if pos.line > 0 => sources
                .get(self.file)
                .offset_of(self.line_offset + pos.line, pos.col),
            None => self.base,
        };
        Span::new(self.file, start, pos.len.max(1))
    }

    /// The file span of a spanned value of this document.
    #[must_use]
    pub fn of<T>(&self, value: &Sp<T>, sources: &SourceMap) -> Span {
        self.span(value.pos, sources)
    }
}

/// Parses every document of every file.
#[must_use]
pub fn parse(sources: &SourceMap) -> (Vec<ParsedDocument>, Vec<Diagnostic>) {
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    for (file, source) in sources.iter() {
        for chunk in split_documents(source) {
            let at = DocOrigin {
                file,
                base: chunk.base,
                line_offset: chunk.line_offset,
            };
            match parse_document(&chunk.text, at, sources) {
                Ok(Some(doc)) => docs.push(ParsedDocument { doc, at }),
                Ok(None) => {}
                Err(diag) => diags.push(diag),
            }
        }
    }
    (docs, diags)
}

/// The text of one YAML document, cut out of its file.
struct Chunk {
    text: String,
    base: usize,
    line_offset: usize,
}

/// Splits a file at document markers. A line starting with `---` or `...` followed by a space or
/// the end of the line is always a marker in YAML (even inside a block scalar), so this is exact.
/// Markers and directives are blanked with spaces rather than removed, so byte offsets and
/// columns inside a chunk match the file.
fn split_documents(file: &SourceFile) -> Vec<Chunk> {
    let text = file.text.as_str();
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut base = 0;
    let mut line_offset = 0;
    let mut offset = 0;
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        let is_marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']))
        };
        if is_marker("---") || is_marker("...") {
            if line_no > 0 || !current.is_empty() {
                chunks.push(Chunk {
                    text: std::mem::take(&mut current),
                    base,
                    line_offset,
                });
            }
            base = offset;
            line_offset = line_no;
            current.push_str("   ");
            current.push_str(&line[3..]);
            if line.starts_with("...") {
                // Nothing may follow an end marker on its line but a comment.
                current = " ".repeat(line.trim_end_matches(['\n', '\r']).len());
                current.push('\n');
            }
        } else if line.starts_with('%') {
            current.push_str(&" ".repeat(line.trim_end_matches(['\n', '\r']).len()));
            current.push('\n');
        } else {
            current.push_str(line);
        }
        offset += line.len();
    }
    chunks.push(Chunk {
        text: current,
        base,
        line_offset,
    });
    chunks.retain(|c| has_content(&c.text));
    chunks
}

/// Whether a chunk holds anything but blank lines and comments.
fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        !l.is_empty() && !l.starts_with('#')
    })
}

/// Which kind of document this is, read without rejecting unknown keys.
#[derive(Deserialize)]
struct Probe {
    org: Option<serde::de::IgnoredAny>,
    project: Option<serde::de::IgnoredAny>,
    project_template: Option<serde::de::IgnoredAny>,
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::Options::default()
}

fn parse_document(
    text: &str,
    at: DocOrigin,
    sources: &SourceMap,
) -> Result<Option<RawDocument>, Diagnostic> {
    let probe: Probe = match serde_saphyr::from_str_with_options(text, options()) {
        Ok(probe) => probe,
        Err(err) => {
            let diag = convert_error(&err, at, sources);
            // A document that is valid YAML but not a mapping is not a manifest document.
            return Err(if diag.code == Code::WrongType {
                Diagnostic::error(Code::UnknownDocument, "a manifest document must be a mapping")
                    .with_label(diag.labels[0].span, "this document")
                    .with_hint("start the document with `org: NAME`, `project: NAME` or `project_template: NAME`")
            } else {
                diag
            });
        }
    };
    if probe.project.is_some() || probe.project_template.is_some() {
        let doc: RawProject = serde_saphyr::from_str_with_options(text, options())
            .map_err(|err| convert_error(&err, at, sources))?;
        return Ok(Some(RawDocument::Project(Box::new(doc))));
    }
    if probe.org.is_some() {
        let doc: RawOrg = serde_saphyr::from_str_with_options(text, options())
            .map_err(|err| convert_error(&err, at, sources))?;
        return Ok(Some(RawDocument::Org(Box::new(doc))));
    }
    let first_content = text
        .char_indices()
        .find(|&(i, c)| !c.is_whitespace() && !text[i..].starts_with('#'))
        .map_or(0, |(i, _)| i);
    let line_end = text[first_content..]
        .find('\n')
        .map_or(text.len(), |e| first_content + e);
    Err(Diagnostic::error(
        Code::UnknownDocument,
        "document is neither an org, a project nor a project template",
    )
    .with_label(
        Span::new(
            at.file,
            at.base + first_content,
            (line_end - first_content).max(1),
        ),
        "no `org:`, `project:` or `project_template:` key in this document",
    )
    .with_hint("start the document with `org: NAME`, `project: NAME` or `project_template: NAME`"))
}

/// Turns a YAML or serde error into a coded diagnostic pointing at the offending text.
fn convert_error(err: &serde_saphyr::Error, at: DocOrigin, sources: &SourceMap) -> Diagnostic {
    use serde_saphyr::Error as E;
    let err = err.without_snippet();
    let span = err
        .location()
        .map_or(Span::new(at.file, at.base, 1), |loc| {
            let s = loc.span();
            at.span(
                DocPos {
                    offset: s.byte_offset().and_then(|o| usize::try_from(o).ok()),
                    len: s
                        .byte_len()
                        .and_then(|l| usize::try_from(l).ok())
                        .unwrap_or(1),
                    line: usize::try_from(loc.line()).unwrap_or(0),
                    col: usize::try_from(loc.column()).unwrap_or(0),
                },
                sources,
            )
        });
    let diag = match err {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let hint = match did_you_mean(field, expected.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("expected one of {}", list(expected)),
            };
            Diagnostic::error(Code::UnknownField, format!("unknown field `{field}`"))
                .with_label(span, "not a field here")
                .with_hint(hint)
        }
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let hint = match did_you_mean(variant, expected.iter().copied()) {
                Some(best) => format!("did you mean `{best}`? expected one of {}", list(expected)),
                None => format!("expected one of {}", list(expected)),
            };
            Diagnostic::error(Code::InvalidEnum, format!("invalid value `{variant}`"))
                .with_label(span, "not one of the allowed values")
                .with_hint(hint)
        }
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => Diagnostic::error(
            Code::WrongType,
            format!("wrong type: expected {expected}, found {unexpected}"),
        )
        .with_label(span, format!("expected {expected}")),
        E::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => Diagnostic::error(
            Code::WrongType,
            format!("invalid value: expected {expected}, found {unexpected}"),
        )
        .with_label(span, format!("expected {expected}")),
        E::SerdeInvalidLength { expected, .. } => Diagnostic::error(
            Code::WrongType,
            format!("wrong number of items: expected {expected}"),
        )
        .with_label(span, "here"),
        E::SerdeMissingField { field, .. } => Diagnostic::error(
            Code::MissingField,
            format!("missing required field `{field}`"),
        )
        .with_label(span, format!("`{field}` is required in this mapping")),
        E::DuplicateMappingKey { key, .. } => {
            let key = key
                .as_deref()
                .map_or(String::from("a key"), |k| format!("`{k}`"));
            Diagnostic::error(Code::DuplicateKey, format!("duplicate key {key}"))
                .with_label(span, "defined again here")
                .with_hint("each key may appear once per mapping; merge the two entries")
        }
        E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => Diagnostic::error(
            Code::ResourceLimit,
            "YAML aliases expand past the safety budget",
        )
        .with_label(span, "expansion stopped here")
        .with_hint("write the repeated content out, or use a `project_template`"),
        E::Message { msg, .. } => classify_message(msg, span),
        other => {
            let text = other.to_string();
            let text = strip_location(&text);
            if text.contains("budget") {
                Diagnostic::error(
                    Code::ResourceLimit,
                    format!("YAML exceeds the parser's safety budget: {text}"),
                )
                .with_label(span, "here")
            } else {
                Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {text}"))
                    .with_label(span, "here")
            }
        }
    };
    diag
}

/// Custom messages come from our own visitors (secrets) and from the YAML scanner.
fn classify_message(msg: &str, span: Span) -> Diagnostic {
    let msg = strip_location(msg);
    if msg.contains("exactly one of `env` or `file`") {
        return Diagnostic::error(Code::WrongType, msg.to_owned())
            .with_label(span, "secret reference")
            .with_hint("write `{ env: NAME }` or `{ file: PATH }`");
    }
    if msg.contains("budget") {
        return Diagnostic::error(
            Code::ResourceLimit,
            format!("YAML exceeds the parser's safety budget: {msg}"),
        )
        .with_label(span, "here");
    }
    Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {msg}")).with_label(span, "here")
}

/// Drops a trailing ` at line N column M` that the YAML library appends, since diagnostics carry
/// their own location.
fn strip_location(text: &str) -> &str {
    text.find(" at line ").map_or(text, |i| &text[..i]).trim()
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
