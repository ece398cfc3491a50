//! Syntax: YAML text to raw manifest documents, with spans. No cross-document knowledge.
//!
//! Every file may hold several YAML documents. Each document is parsed on its own: it is told
//! apart by its top-level key (`org:`, `project:` or `project_template:`) and deserialized into
//! the matching [`raw`] type. A document with an error yields one diagnostic and is skipped;
//! other documents and files are still parsed, so one run reports problems across the tree.

pub mod clearable;
pub mod raw;
pub mod schema;
pub mod spanned;
pub mod text;
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
    /// The file span of a value of this document. A container (`{...}`, `[...]`, a block
    /// mapping) is covered whole.
    #[must_use]
    pub fn span(&self, pos: DocPos, sources: &SourceMap) -> Span {
        let exact = self.exact_span(pos, sources);
        // Containers come without a length (or with the length of their opening bracket).
        let text = &sources.get(self.file).text;
        let bracket = text
            .get(exact.start..)
            .is_some_and(|t| t.starts_with(['{', '[']));
        if pos.len == 0 || pos.len == 1 && bracket {
            return Span::new(
                self.file,
                exact.start,
                text::value_extent(text, exact.start).unwrap_or(1),
            );
        }
        exact
    }

    /// The file span of a position, without widening containers (for parser errors).
    #[must_use]
    pub fn exact_span(&self, pos: DocPos, sources: &SourceMap) -> Span {
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
    let documents = documents(sources);
    let (docs, diags) = parse_documents(&documents, sources);
    finish(docs, diags, sources)
}

/// One YAML document cut out of its file, ready for [`parse_documents`]. Documents parse
/// independently of each other, so a caller may parse slices of them on several threads and
/// concatenate the results in order (see `pipeline::analyze_with`).
pub struct Document {
    text: String,
    at: DocOrigin,
}

impl Document {
    /// The document's length in bytes (to share work by size).
    #[must_use]
    pub fn len(&self) -> usize {
        self.text.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// Every document of every readable file, in file order.
#[must_use]
pub fn documents(sources: &SourceMap) -> Vec<Document> {
    let mut out = Vec::new();
    for (file, source) in sources.iter().filter(|(_, s)| !s.refused) {
        for chunk in split_documents(source) {
            let at = DocOrigin {
                file,
                base: chunk.base,
                line_offset: chunk.line_offset,
            };
            out.push(Document {
                text: chunk.text,
                at,
            });
        }
    }
    out
}

/// An org document's name and connection settings, read by [`org_headers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgHeader {
    pub name: String,
    pub api_url: Option<String>,
    pub api_key_env: Option<String>,
}

/// The orgs the manifests declare, by a cheap first pass: only the documents whose column-0
/// keys name an org and no project are read, for three keys, leniently (a document that does
/// not read is skipped; the full parse reports it). Lets a caller start reading live state
/// while the full parse runs; it must check the targets against the analysed state.
#[must_use]
pub fn org_headers(sources: &SourceMap) -> Vec<OrgHeader> {
    #[derive(Deserialize)]
    struct Header {
        org: Option<LooseName>,
        api_url: Option<LooseName>,
        api_key_env: Option<LooseName>,
    }
    let get = |n: Option<LooseName>| n.and_then(|n| n.0);
    documents(sources)
        .iter()
        .filter(|d| guess_kind(&d.text) == Some(Guess::Org))
        .filter_map(|d| serde_saphyr::from_str_with_options::<Header>(&d.text, options()).ok())
        .filter_map(|h| {
            Some(OrgHeader {
                name: get(h.org)?,
                api_url: get(h.api_url),
                api_key_env: get(h.api_key_env),
            })
        })
        .collect()
}

/// Parses documents, in order.
#[must_use]
pub fn parse_documents(
    documents: &[Document],
    sources: &SourceMap,
) -> (Vec<ParsedDocument>, Vec<Diagnostic>) {
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    for Document { text, at } in documents {
        let (text, at) = (text.as_str(), *at);
        let tags = foreign_tags(text, at);
        if !tags.is_empty() {
            diags.extend(tags);
            diags.extend(literal_secrets_in_failed_document(text, at));
            if let Some(doc) = unparsed_names(text) {
                docs.push(ParsedDocument { doc, at });
            }
            continue;
        }
        match parse_document(text, at, sources) {
            Ok(Some(doc)) => docs.push(ParsedDocument { doc, at }),
            Ok(None) => {}
            Err(diag) => {
                let more = later_errors(text, at, sources, &diag);
                diags.push(diag);
                diags.extend(more);
                diags.extend(literal_secrets_in_failed_document(text, at));
                if let Some(doc) = unparsed_names(text) {
                    docs.push(ParsedDocument { doc, at });
                }
            }
        }
    }
    (docs, diags)
}

/// The result of [`parse`] from the parsed documents of every file: adds the diagnostic for a
/// tree without any document.
#[must_use]
pub fn finish(
    docs: Vec<ParsedDocument>,
    mut diags: Vec<Diagnostic>,
    sources: &SourceMap,
) -> (Vec<ParsedDocument>, Vec<Diagnostic>) {
    if docs.is_empty() && diags.is_empty() {
        let read = || sources.iter().filter(|(_, s)| !s.refused);
        if let Some((file, source)) = read().next() {
            diags.push(no_documents(file, source, read().count()));
        }
    }
    (docs, diags)
}

/// A document that failed to parse is never lowered, so its literal secrets would go unreported:
/// find `secret: VALUE` lines in its text. (`value:` is also masked on display, but it is too
/// common a key to report on text alone.)
fn literal_secrets_in_failed_document(text: &str, at: DocOrigin) -> Vec<Diagnostic> {
    let mut groups: Vec<(usize, usize, usize)> = Vec::new();
    for secret in crate::diag::literal_secret_spans(text) {
        if secret.key != "secret:" {
            continue;
        }
        match groups.last_mut() {
            Some((group, _, end)) if *group == secret.group => *end = secret.start + secret.len,
            _ => groups.push((secret.group, secret.start, secret.start + secret.len)),
        }
    }
    groups
        .into_iter()
        .map(|(_, start, end)| {
            Diagnostic::error(Code::LiteralSecret, "a secret is written literally in the manifest")
                .with_label(Span::new(at.file, at.base + start, end - start), "secret value here (not shown)")
                .with_hint("secrets never live in git: write `{ env: NAME }` or `{ file: PATH }`, and rotate this one since it was committed")
        })
        .collect()
}

/// The most errors one document reports.
const MAX_ERRORS_PER_DOCUMENT: usize = 32;

/// The most bytes parsed again while looking for a document's later errors.
const RECOVERY_BYTES: usize = 4 * 1024 * 1024;

/// The errors of a document after its first one, so that one run shows every independent
/// mistake. Deserializing stops at the first error; this blanks the offending value (its line
/// and the more indented lines under it, replaced by spaces so offsets hold) and tries again,
/// until the document reads. An error whose value contains blanked lines (a mapping that lost a
/// required field, a list left empty) is a consequence of the blanking: it is blanked in turn but
/// not reported. Nothing after a syntax error is reliable, so those stop the search.
fn later_errors(
    text: &str,
    at: DocOrigin,
    sources: &SourceMap,
    first: &Diagnostic,
) -> Vec<Diagnostic> {
    let recoverable = |d: &Diagnostic| {
        !matches!(
            d.code,
            Code::YamlSyntax | Code::ResourceLimit | Code::UnknownDocument | Code::DuplicateKey
        )
    };
    let mut found = Vec::new();
    if !recoverable(first) {
        return found;
    }
    let mut text = text.to_owned();
    let mut blanked: Vec<(usize, usize)> = Vec::new();
    let mut last = first.clone();
    // Each attempt parses the whole document again: bound the bytes re-parsed, too.
    let attempts = (RECOVERY_BYTES / text.len().max(1)).clamp(1, MAX_ERRORS_PER_DOCUMENT * 4);
    for _ in 0..attempts {
        let Some(block) = last
            .primary_span()
            .and_then(|span| span.start.checked_sub(at.base))
            .and_then(|offset| value_block(&text, offset))
        else {
            break;
        };
        blank(&mut text, block);
        blanked.push(block);
        match parse_document(&text, at, sources) {
            Err(next) if recoverable(&next) => {
                let next_block = next
                    .primary_span()
                    .and_then(|span| span.start.checked_sub(at.base))
                    .and_then(|offset| value_block(&text, offset));
                let inside_blanked = next_block
                    .is_none_or(|(s, e)| blanked.iter().any(|&(bs, be)| bs < e && s < be));
                // A wrong-typed list or mapping is reported at its first item: the same error
                // on the next item is the same mistake.
                let same_container = next.code == Code::WrongType
                    && next.code == last.code
                    && next.message == last.message
                    && next_block.is_some_and(|(s, _)| {
                        text.get(block.1..s)
                            .is_some_and(|gap| gap.trim().is_empty())
                    });
                let cascade = inside_blanked || same_container;
                if !cascade {
                    found.push(next.clone());
                    if found.len() + 1 >= MAX_ERRORS_PER_DOCUMENT {
                        break;
                    }
                }
                last = next;
            }
            _ => break,
        }
    }
    found
}

/// The byte range of the value on the line holding `offset`: that line and the following lines
/// indented deeper than it (blank lines included). `None` when the line is blank.
fn value_block(text: &str, offset: usize) -> Option<(usize, usize)> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let indent_of = |line: &str| line.len() - line.trim_start().len();
    let first_line = text[start..].split('\n').next().unwrap_or("");
    if first_line.trim().is_empty() {
        return None;
    }
    let indent = indent_of(first_line);
    let mut end = start + first_line.len();
    let mut next = end + 1;
    while next < text.len() {
        let line = text[next..].split('\n').next().unwrap_or("");
        if !line.trim().is_empty() && indent_of(line) <= indent {
            break;
        }
        end = next + line.len();
        next = end + 1;
    }
    Some((start, end.min(text.len())))
}

/// Replaces the range with spaces, keeping line breaks and the length in bytes.
fn blank(text: &mut String, (start, end): (usize, usize)) {
    let replaced: String = text[start..end]
        .chars()
        .flat_map(|c| {
            let fill = if c == '\n' || c == '\r' { c } else { ' ' };
            std::iter::repeat_n(fill, c.len_utf8())
        })
        .collect();
    text.replace_range(start..end, &replaced);
}

/// The core schema's tags (`!!str`, `!!int`...): the only ones a manifest may carry.
const CORE_TAGS: &[&str] = &["str", "int", "float", "bool", "null", "seq", "map"];

/// Every tag in the document outside the core schema (`!!binary`, `!!timestamp`, `!custom`...).
/// serde-saphyr would decode some of them (base64 for `!!binary`) into a value that no longer
/// reads like its source, so they are refused before deserializing. A document the YAML parser
/// cannot read yields nothing here; deserializing reports that.
fn foreign_tags(text: &str, at: DocOrigin) -> Vec<Diagnostic> {
    use granit_parser::{Event, Parser};
    let mut found = Vec::new();
    // Every tag starts with `!`: most documents need no second parse.
    if !text.contains('!') {
        return found;
    }
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            break;
        };
        let tag = match &event {
            Event::Scalar(_, _, _, tag)
            | Event::SequenceStart(_, _, tag)
            | Event::MappingStart(_, _, tag) => tag.as_deref(),
            _ => None,
        };
        let Some(tag) = tag else {
            continue;
        };
        let core = tag.handle() == "tag:yaml.org,2002:" && CORE_TAGS.contains(&tag.suffix());
        if core {
            continue;
        }
        let marker = span.tag_start.unwrap_or(span.start);
        let start = marker.byte_offset().unwrap_or(0).min(text.len());
        let len = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}'))
            .unwrap_or(text.len() - start)
            .max(1);
        let shown = format!("{}{}", tag.original_handle(), tag.suffix());
        found.push(
            Diagnostic::error(Code::YamlTag, format!("YAML tag `{shown}` is not allowed in manifests"))
                .with_label(Span::new(at.file, at.base + start, len), "tag here")
                .with_hint("manifests are plain data: remove the tag and write the value itself (only the core schema's `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!seq` and `!!map` are accepted)"),
        );
    }
    found
}

/// Files were found but none holds a document: blank, or only comments.
fn no_documents(file: FileId, source: &SourceFile, files: usize) -> Diagnostic {
    let text = source.text.as_str();
    let first = text
        .split_inclusive('\n')
        .scan(0, |offset, line| {
            let at = *offset;
            *offset += line.len();
            Some((at, line.trim_end()))
        })
        .find(|(_, line)| !line.trim().is_empty());
    let message = if files == 1 {
        format!("`{}` holds no manifest document", source.path)
    } else {
        format!("none of the {files} manifest files holds a document")
    };
    let d = Diagnostic::error(Code::NoManifests, message);
    let d = match first {
        Some((at, line)) => d.with_label(
            Span::new(file, at, line.len().max(1)),
            "only comments in this file",
        ),
        None => d.with_label(Span::new(file, 0, 0), "this file is empty"),
    };
    d.with_hint(
        "a manifest document starts with `org: NAME`, `project: NAME` or `project_template: NAME`",
    )
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

/// The names of a document that failed to parse, when it is at least a mapping whose `org`,
/// `project` or `project_template` values are plain strings.
fn unparsed_names(text: &str) -> Option<RawDocument> {
    #[derive(Deserialize)]
    struct Names {
        org: Option<LooseName>,
        project: Option<LooseName>,
        project_template: Option<LooseName>,
    }
    let doc = match serde_saphyr::from_str_with_options::<Names>(text, options()) {
        Ok(names) => {
            let get = |n: Option<LooseName>| n.and_then(|n| n.0);
            raw::UnparsedDocument {
                org: get(names.org),
                project: get(names.project),
                project_template: get(names.project_template),
            }
        }
        // Not even YAML: read `key: name` lines at the top level.
        Err(_) => {
            let mut doc = raw::UnparsedDocument::default();
            for line in text.lines() {
                let Some((key, value)) = line.split_once(": ") else {
                    continue;
                };
                let value = value.split(" #").next().unwrap_or("").trim();
                let value = value.trim_matches(|c| c == '"' || c == '\'');
                if value.is_empty() || value.contains(['{', '[', '"', '\'', '&', '*']) {
                    continue;
                }
                let slot = match key {
                    "org" => &mut doc.org,
                    "project" => &mut doc.project,
                    "project_template" => &mut doc.project_template,
                    _ => continue,
                };
                slot.get_or_insert_with(|| value.to_owned());
            }
            doc
        }
    };
    (doc != raw::UnparsedDocument::default()).then_some(RawDocument::Unparsed(doc))
}

/// A string, or `None` for any other value.
struct LooseName(Option<String>);

impl<'de> Deserialize<'de> for LooseName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = LooseName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<LooseName, E> {
                Ok(LooseName(Some(v.to_owned())))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<LooseName, E> {
                Ok(LooseName(None))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<LooseName, E> {
                Ok(LooseName(None))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<LooseName, E> {
                Ok(LooseName(None))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<LooseName, E> {
                Ok(LooseName(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<LooseName, E> {
                Ok(LooseName(None))
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<LooseName, E> {
                Ok(LooseName(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<LooseName, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(LooseName(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LooseName, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(LooseName(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::Options::default()
}

/// Which typed parse a document most likely needs, from its top-level keys: lines that start at
/// column 0 with `project:`, `project_template:` or `org:`. Only a guess (a key may be quoted or
/// sit in a flow mapping); [`parse_document`] checks what the typed parse returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guess {
    Project,
    Org,
}

fn guess_kind(text: &str) -> Option<Guess> {
    let mut org = false;
    for line in text.lines() {
        let key = line.split_once(':').map_or("", |(k, _)| k);
        match key {
            "project" | "project_template" => return Some(Guess::Project),
            "org" => org = true,
            _ => {}
        }
    }
    org.then_some(Guess::Org)
}

fn parse_document(
    text: &str,
    at: DocOrigin,
    sources: &SourceMap,
) -> Result<Option<RawDocument>, Diagnostic> {
    // Most documents parse on the first try as the kind their top-level keys say, which saves
    // the probe's full pass over the YAML. A typed parse that succeeds decides like the probe
    // would: a project document has `project` or `project_template`, and an org document has
    // `org` and (unknown fields being refused) neither of those. Anything else, errors
    // included, takes the probe's path below, so its diagnostics are unchanged.
    match guess_kind(text) {
        Some(Guess::Project) => {
            if let Ok(doc) = serde_saphyr::from_str_with_options::<RawProject>(text, options())
                && (doc.project.is_some() || doc.project_template.is_some())
            {
                check_required(&doc, at, sources)?;
                return Ok(Some(RawDocument::Project(Box::new(doc))));
            }
        }
        Some(Guess::Org) => {
            if let Ok(doc) = serde_saphyr::from_str_with_options::<RawOrg>(text, options()) {
                return Ok(Some(RawDocument::Org(Box::new(doc))));
            }
        }
        None => {}
    }
    let probe: Probe = match serde_saphyr::from_str_with_options(text, options()) {
        Ok(probe) => probe,
        Err(err) => {
            let diag = convert_error(&err, at, sources);
            // A document that is valid YAML but not a mapping is not a manifest document.
            return Err(if diag.code == Code::WrongType {
                not_a_mapping(text, at, &diag)
            } else {
                diag
            });
        }
    };
    if probe.project.is_some() || probe.project_template.is_some() {
        let doc: RawProject = serde_saphyr::from_str_with_options(text, options())
            .map_err(|err| convert_error(&err, at, sources))?;
        check_required(&doc, at, sources)?;
        return Ok(Some(RawDocument::Project(Box::new(doc))));
    }
    if probe.org.is_some() {
        let doc: RawOrg = serde_saphyr::from_str_with_options(text, options()).map_err(|err| {
            let diag = convert_error(&err, at, sources);
            match &err.without_snippet() {
                serde_saphyr::Error::SerdeUnknownField { field, .. }
                    if is_project_only(field) =>
                {
                    diag.with_hint(format!(
                        "`{field}` belongs in a project document; this one is read as an org document because it has `org:` and no `project:`. Start a project document with `project: NAME`"
                    ))
                }
                _ => diag,
            }
        })?;
        return Ok(Some(RawDocument::Org(Box::new(doc))));
    }
    Err(unknown_document(text, at))
}

/// Fields required unless `state: absent` (see [`raw::TombstoneFields`]) fail the document
/// like any field the parser requires: the first one missing is its error.
fn check_required(doc: &RawProject, at: DocOrigin, sources: &SourceMap) -> Result<(), Diagnostic> {
    match doc.first_missing_field() {
        Some((pos, field)) => Err(missing_field(sources, at.span(pos, sources), field)),
        None => Ok(()),
    }
}

/// The error for a missing required field, on the first key of the mapping that lacks it.
/// `anchor` is the entry, or a value of it written on a `key: value` line of its mapping.
pub(crate) fn missing_field(sources: &SourceMap, anchor: Span, field: &str) -> Diagnostic {
    let text = &sources.get(anchor.file).text;
    let line_start = text
        .get(..anchor.start)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let key = text.get(line_start..).map_or(line_start, |line| {
        line_start + line.find(|c| c != ' ' && c != '-').unwrap_or(0)
    });
    let span = text::block_mapping_start(text, key)
        .map_or(anchor, |(start, len)| Span::new(anchor.file, start, len));
    Diagnostic::error(
        Code::MissingField,
        format!("missing required field `{field}`"),
    )
    .with_label(span, format!("`{field}` is required in this mapping"))
    .with_hint(format!("add `{field}: ...` to this mapping"))
}

/// Whether `field` is a field of project documents that an org document does not have: seeing
/// one in a document read as an org usually means its `project:` key is missing. Read from the
/// manifest schema (only on this error path), so a new project list needs no edit here.
fn is_project_only(field: &str) -> bool {
    let schema = schema::manifest_schema();
    let has = |def: &str| schema["$defs"][def]["properties"].get(field).is_some();
    // `name` is what people write for `project:`.
    field == "name"
        || (!matches!(field, "project" | "project_template") && has("RawProject") && !has("RawOrg"))
}

/// The first line of a document that is not blank or a comment, as a span.
fn first_content_line(text: &str, at: DocOrigin) -> Span {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            let lead = line.len() - line.trim_start().len();
            return Span::new(at.file, at.base + offset + lead, trimmed.len());
        }
        offset += line.len();
    }
    Span::new(at.file, at.base, 1)
}

/// A document that is a list or a scalar instead of a mapping.
fn not_a_mapping(text: &str, at: DocOrigin, diag: &Diagnostic) -> Diagnostic {
    let span = first_content_line(text, at);
    let found = if diag.message.contains("found a list") {
        "a list"
    } else {
        "a single value"
    };
    let hint = if found == "a list" {
        "write one document per object, separated by `---` lines, each starting with `org: NAME`, `project: NAME` or `project_template: NAME`"
    } else {
        "start the document with `org: NAME`, `project: NAME` or `project_template: NAME`"
    };
    Diagnostic::error(
        Code::UnknownDocument,
        format!("a manifest document must be a mapping, not {found}"),
    )
    .with_label(span, format!("this document is {found}"))
    .with_hint(hint)
}

/// A mapping without `org:`, `project:` or `project_template:`.
fn unknown_document(text: &str, at: DocOrigin) -> Diagnostic {
    let d = Diagnostic::error(
        Code::UnknownDocument,
        "document is neither an org, a project nor a project template",
    );
    let kinds = ["org", "project", "project_template"];
    let typo = text::top_level_keys(text)
        .into_iter()
        .find_map(|(offset, key)| did_you_mean(key, kinds).map(|best| (offset, key, best)));
    match typo {
        Some((offset, key, best)) => d
            .with_label(
                Span::new(at.file, at.base + offset, key.len()),
                "no `org:`, `project:` or `project_template:` key in this document",
            )
            .with_hint(format!("did you mean `{best}:`?")),
        None => d
            .with_label(
                first_content_line(text, at),
                "no `org:`, `project:` or `project_template:` key in this document",
            )
            .with_hint(
                "start the document with `org: NAME`, `project: NAME` or `project_template: NAME`",
            ),
    }
}

/// What a `null` on a field whose type takes none (a list, a mapping, a required name) is
/// reported as; [`name_null_key`] adds the key's name.
const NULL_NOT_A_VALUE: &str = "`null` is not a value for the field";

/// Turns a YAML or serde error into a coded diagnostic pointing at the offending text.
fn convert_error(err: &serde_saphyr::Error, at: DocOrigin, sources: &SourceMap) -> Diagnostic {
    use serde_saphyr::Error as E;
    let err = err.without_snippet();
    let span = err
        .location()
        .map_or(Span::new(at.file, at.base, 1), |loc| {
            let s = loc.span();
            at.exact_span(
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
    let diag = match original(err) {
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
        } => wrong_type(&plain_type(expected), &plain_found(unexpected), span),
        E::Unexpected { expected, .. } => {
            let expected = match *expected {
                "sequence start" => "a list".to_owned(),
                "mapping start" => "a mapping".to_owned(),
                "string scalar" => "a string".to_owned(),
                other => plain_type(other),
            };
            wrong_type(&expected, &found_at(sources, span), span)
        }
        E::InvalidScalar { ty, .. } => wrong_type(&plain_type(ty), &found_at(sources, span), span),
        E::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => Diagnostic::error(
            Code::WrongType,
            format!(
                "invalid value: expected {}, found {}",
                plain_type(expected),
                plain_found(unexpected)
            ),
        )
        .with_label(span, format!("expected {}", plain_type(expected))),
        E::SerdeInvalidLength { expected, .. } => Diagnostic::error(
            Code::WrongType,
            format!("wrong number of items: expected {expected}"),
        )
        .with_label(span, "here"),
        E::SerdeMissingField { field, .. } => {
            // The parser points at the mapping's last key; the field belongs to the mapping.
            let file = &sources.get(span.file).text;
            let span = text::block_mapping_start(file, span.start)
                .map_or(span, |(start, len)| Span::new(span.file, start, len));
            Diagnostic::error(
                Code::MissingField,
                format!("missing required field `{field}`"),
            )
            .with_label(span, format!("`{field}` is required in this mapping"))
            .with_hint(format!("add `{field}: ...` to this mapping"))
        }
        E::Budget { breach, .. } => {
            use serde_saphyr::budget::BudgetBreach as B;
            let what = match breach {
                B::Nodes { .. } | B::Events { .. } => {
                    "the document expands to too many values (YAML aliases repeated inside aliases?)"
                }
                B::Aliases { .. } | B::Anchors { .. } => {
                    "the document uses too many YAML aliases or anchors"
                }
                B::Depth { .. } => return nesting_limit(span),
                _ => "the document is too large",
            };
            Diagnostic::error(
                Code::ResourceLimit,
                format!("YAML exceeds the parser's safety budget: {what}"),
            )
            .with_label(span, "parsing stopped here")
            .with_hint("write the repeated content out, or share it with a `project_template`")
        }
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
        E::Message { msg, .. } => {
            let diag = classify_message(msg, span);
            if diag.code == Code::NullNotAllowed {
                name_null_key(diag, &sources.get(at.file).text, span.start)
            } else {
                diag
            }
        }
        other => {
            let text = other.to_string();
            let text = strip_location(&text);
            if text.contains("recursion limit") {
                nesting_limit(span)
            } else if text.contains("budget") {
                Diagnostic::error(
                    Code::ResourceLimit,
                    format!("YAML exceeds the parser's safety budget: {text}"),
                )
                .with_label(span, "parsing stopped here")
            } else {
                Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {text}"))
                    .with_label(span, "the YAML parser stopped here")
            }
        }
    };
    // A `null` written as a key's value where the field takes no `null` (a list, a mapping, a
    // name): say so, rather than "expected a list, found a mapping" or a serde type name.
    let null_refused = diag.code == Code::WrongType
        || diag.code == Code::YamlSyntax && diag.message.contains("null");
    if null_refused && text::is_null_value(&sources.get(span.file).text, span.start) {
        let null = Diagnostic::error(Code::NullNotAllowed, NULL_NOT_A_VALUE)
            .with_label(span, "`null` is not accepted here")
            .with_hint(
                "write the value it should have, or leave the key out if it is optional; `null` clears only where `bt-gitops schema` accepts it",
            );
        return name_null_key(null, &sources.get(span.file).text, span.start);
    }
    if diag.code == Code::YamlSyntax {
        return explain_syntax_error(diag, at, sources);
    }
    if diag.code == Code::WrongType {
        // Point at the whole wrong value, not just its first character.
        let mut diag = diag;
        if let Some(label) = diag.labels.first_mut().filter(|l| l.span.len <= 1)
            && let Some(len) = text::value_extent(&sources.get(at.file).text, label.span.start)
        {
            label.span.len = len;
        }
        return diag;
    }
    diag
}

/// The error an alias replay or a snippet wraps.
fn original(mut err: &serde_saphyr::Error) -> &serde_saphyr::Error {
    use serde_saphyr::Error as E;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = err {
        err = error;
    }
    err
}

/// Adds what the YAML scanner cannot say: an unclosed quote earlier in the document makes it fail
/// lines later with an unrelated-looking message.
fn explain_syntax_error(mut diag: Diagnostic, at: DocOrigin, sources: &SourceMap) -> Diagnostic {
    let Some(primary) = diag.primary_span() else {
        return diag;
    };
    let file = &sources.get(at.file).text;
    let Some(doc) = file.get(at.base..) else {
        return diag;
    };
    // Cover the word the parser stopped at (`description`, `*reviewers`), not one character.
    if primary.len <= 1
        && let Some(rest) = file.get(primary.start..)
    {
        let word = rest
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_alphanumeric()
                    || matches!(c, '_' | '-' | '.')
                    || i == 0 && matches!(c, '*' | '&'))
            })
            .map_or(rest.len(), |(i, _)| i);
        if word > 1 {
            diag.labels[0].span.len = word;
        }
    }
    let error_at = primary.start.saturating_sub(at.base).min(doc.len());
    let error_line = doc
        .get(..error_at)
        .and_then(|d| d.rfind('\n'))
        .map_or(0, |i| i + 1);
    let unclosed = text::unclosed_quote(doc, error_at).filter(|(offset, _)| {
        // A legal multi-line quoted value that ends before the error's line is not the cause.
        text::quote_end(doc, *offset).is_none_or(|end| end >= error_line)
    });
    if let Some((offset, len)) = unclosed {
        let quote = Span::new(at.file, at.base + offset, len);
        if quote.start == primary.start {
            diag.labels[0].message = "this quote is never closed".to_owned();
        } else {
            diag = diag.with_label(quote, "this quote is not closed on its line");
        }
        return diag.with_hint(
            "close the quote on the same line: a quoted value runs until the next matching quote, even across lines",
        );
    }
    if diag.message.contains("anchor") {
        return diag.with_hint(
            "an alias `*name` must refer to an anchor `&name` defined earlier in the same document (anchors do not cross `---`)",
        );
    }
    if diag.message.contains("mapping values are not allowed") {
        return diag.with_hint(
            "this line is indented differently from the keys around it, or a value contains `: ` and needs quotes",
        );
    }
    if diag.message.contains("tab") {
        return diag.with_hint("indent with spaces; YAML does not allow tabs for indentation");
    }
    diag.with_hint("check the indentation and punctuation on this line and the line above")
}

/// What a wrong-typed value is, read from the source: `a list`, `a mapping` or the value.
fn found_at(sources: &SourceMap, span: Span) -> String {
    let file = &sources.get(span.file).text;
    let text = file.get(span.start..).unwrap_or("");
    let line = text.split('\n').next().unwrap_or("").trim_end();
    if line.starts_with('[') || line == "-" || line.starts_with("- ") {
        return "a list".into();
    }
    if line.starts_with('{') {
        return "a mapping".into();
    }
    // A value on its key's line is a scalar (a block mapping cannot start there); in a flow
    // mapping it ends at the next `,`, `}` or `]`, not at the end of the line.
    let before = file.get(..span.start).unwrap_or("");
    let before = before.rsplit('\n').next().unwrap_or("");
    let on_key_line = before.trim_end().ends_with(':');
    if !on_key_line && (line.contains(": ") || line.ends_with(':')) {
        return "a mapping".into();
    }
    let line = if on_key_line && before.contains(['{', '[']) {
        line.split([',', '}', ']'])
            .next()
            .unwrap_or(line)
            .trim_end()
    } else {
        line
    };
    let value = span.len.min(line.len());
    let value = line.get(..value).filter(|v| v.len() > 1).unwrap_or(line);
    // Never echo what could be a secret.
    if value.chars().count() > 40 || line.contains("secret") {
        return "a value".into();
    }
    format!("`{value}`")
}

/// Rust and serde type names as a manifest author would say them.
fn plain_type(expected: &str) -> String {
    let e = expected.trim();
    let numeric = |t: &str| {
        matches!(
            t,
            "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "usize" | "isize"
        )
    };
    if e == "f64" || e == "f32" || e == "floating point" || e.contains("a float") {
        "a number".into()
    } else if e.starts_with('u') && numeric(e) {
        "a whole number (0 or more)".into()
    } else if numeric(e) || e.contains("integer") {
        "a whole number".into()
    } else if e == "boolean" || e == "bool" || e == "a boolean" {
        "`true` or `false`".into()
    } else if e == "a sequence" || e == "sequence" {
        "a list".into()
    } else if e == "a map" || e.starts_with("struct ") || e == "map" {
        "a mapping".into()
    } else {
        e.to_owned()
    }
}

/// serde's description of a found value (`string "x"`, `sequence`...) in manifest terms.
fn plain_found(unexpected: &str) -> String {
    let u = unexpected.trim();
    if let Some(rest) = u.strip_prefix("string ") {
        return if rest.chars().count() > 42 {
            "a string".into()
        } else {
            format!("the string {rest}")
        };
    }
    match u {
        "sequence" => "a list".into(),
        "map" => "a mapping".into(),
        "unit value" | "null" => "nothing (null)".into(),
        other => other
            .replace("floating point", "the number")
            .replace("integer", "the number")
            .replace("boolean", "the boolean"),
    }
}

/// A wrong-type diagnostic with a hint on how to write the expected type.
fn wrong_type(expected: &str, found: &str, span: Span) -> Diagnostic {
    let hint = match expected {
        "a list" => "write a list: `[a, b]`, or one `- item` per line",
        "a mapping" => "write `key: value` pairs, indented under this key, or `{ key: value }`",
        "a string" => "write a single value; quote it if it starts with `[`, `{`, `*` or `&`",
        "a number" | "a whole number" => "write a number without quotes, like `0.5` or `30`",
        "a whole number (0 or more)" => "write a whole number without sign or decimals, like `30`",
        "`true` or `false`" => "write `true` or `false` (without quotes)",
        _ => "see `bt-gitops schema` for the expected shape",
    };
    Diagnostic::error(
        Code::WrongType,
        format!("wrong type: expected {expected}, found {found}"),
    )
    .with_label(span, format!("expected {expected}"))
    .with_hint(hint)
}

/// Names the key whose value is the refused `null` at `start` (the key before the last `:` of
/// the text in front of it, in block and flow mappings alike).
fn name_null_key(mut diag: Diagnostic, text: &str, start: usize) -> Diagnostic {
    // An empty value (`key:` at the end of a line) is placed on its colon.
    let end = if text.get(start..).is_some_and(|t| t.starts_with(':')) {
        start + 1
    } else {
        start
    };
    let before = text.get(..end).unwrap_or("");
    let Some(colon) = before.rfind(':') else {
        return diag;
    };
    let key: String = before[..colon]
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if !key.is_empty() {
        diag.message = format!("{} `{key}`", diag.message);
    }
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
    if msg.contains(clearable::NULL_NOT_CLEARABLE) {
        return Diagnostic::error(Code::NullNotAllowed, msg.to_owned())
            .with_label(span, "this field cannot be cleared")
            .with_hint("leave the key out to leave the live value alone, or write the value it should have");
    }
    if msg.contains(clearable::NULL_REQUIRED) {
        return Diagnostic::error(Code::NullNotAllowed, msg.to_owned())
            .with_label(span, "required unless `state: absent`")
            .with_hint("write a value; `null` clears only optional fields");
    }
    if msg.contains("recursion limit") {
        return nesting_limit(span);
    }
    if msg.contains("budget") {
        return Diagnostic::error(
            Code::ResourceLimit,
            format!("YAML exceeds the parser's safety budget: {msg}"),
        )
        .with_label(span, "parsing stopped here");
    }
    Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {msg}"))
        .with_label(span, "the YAML parser stopped here")
}

/// Lists or mappings nested deeper than the parser allows (no manifest needs more than a few
/// levels).
fn nesting_limit(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::ResourceLimit,
        "YAML exceeds the parser's safety budget: the document is nested too deeply",
    )
    .with_label(span, "parsing stopped here")
    .with_hint("manifests need only a few levels of nesting; check for unbalanced `[` or `{`")
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
