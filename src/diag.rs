//! Diagnostics: every problem found in user input is a [`Diagnostic`] value.
//!
//! A diagnostic has a stable [`Code`], a severity, a message, labelled spans (the primary one
//! first) and an optional hint. Stages return `(T, Vec<Diagnostic>)` instead of failing, so one run
//! reports every problem it can find. Rendering goes through miette and produces a `String`;
//! printing it is the CLI's job.

use std::fmt;

use crate::source::{SourceMap, Span};

/// How bad a diagnostic is. Errors stop the run before any network access; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// A span with a short explanation of what is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem in the manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// The primary label comes first. A diagnostic without a span (a missing directory, say)
    /// has no labels.
    pub labels: Vec<Label>,
    pub hint: Option<String>,
}

macro_rules! codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = ($num:literal, $slug:literal),)+) => {
        /// Stable diagnostic codes. The number and the slug never change meaning once released;
        /// each code has fixtures under `tests/data/diagnostics/`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl Code {
            /// All codes, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)+];

            /// The code as printed: `E0102`.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $num,)+ }
            }

            /// A short kebab-case name: `unknown-field`.
            #[must_use]
            pub fn slug(self) -> &'static str {
                match self { $(Code::$variant => $slug,)+ }
            }

            /// The documentation of the code (its doc comment), one line per source line, for
            /// `bt-gitops explain`.
            #[must_use]
            pub fn doc(self) -> &'static str {
                match self { $(Code::$variant => concat!($($doc, "\n"),+),)+ }
            }
        }
    };
}

codes! {
    /// The file is not valid YAML (bad indentation, unclosed quote, tab indentation...).
    YamlSyntax = ("E0001", "yaml-syntax"),
    /// The same key appears twice in one mapping.
    DuplicateKey = ("E0002", "duplicate-key"),
    /// A document is neither an `org:`, a `project:` nor a `project_template:` document.
    UnknownDocument = ("E0003", "unknown-document"),
    /// A manifest file could not be read, or the path holds no manifest.
    NoManifests = ("E0004", "no-manifests"),
    /// A YAML alias expansion or nesting went past the parser's safety budget, or a manifest file
    /// (or the whole tree) is larger than bt-gitops reads.
    ResourceLimit = ("E0005", "resource-limit"),
    /// A manifest path that is a FIFO, device, socket or other special file; it is never read.
    NotRegularFile = ("E0006", "not-a-regular-file"),
    /// A symbolic link whose target is outside the manifest directory; it is never followed.
    OutsideRoot = ("E0007", "outside-root"),
    /// A YAML tag outside the core schema (`!!binary`, `!custom`...): manifests are plain data.
    YamlTag = ("E0008", "yaml-tag"),
    /// A key that the manifest language does not know.
    UnknownField = ("E0101", "unknown-field"),
    /// A value of the wrong type (a list where a string is expected...).
    WrongType = ("E0102", "wrong-type"),
    /// A required key is missing.
    MissingField = ("E0103", "missing-field"),
    /// A value outside a fixed set of choices.
    InvalidEnum = ("E0104", "invalid-enum"),
    /// A number outside the range the API accepts.
    OutOfRange = ("E0105", "out-of-range"),
    /// A name that is empty, too long or contains control characters.
    InvalidName = ("E0106", "invalid-name"),
    /// A malformed email address.
    InvalidEmail = ("E0107", "invalid-email"),
    /// A malformed URL, or one with a scheme the API or bt-gitops refuses.
    InvalidUrl = ("E0108", "invalid-url"),
    /// A malformed duration (`1h`, `30m`, `90s`, `7d` are valid).
    InvalidDuration = ("E0109", "invalid-duration"),
    /// A field that does not apply to the object's `type` (categories on a slider score...).
    FieldNotAllowed = ("E0110", "field-not-allowed"),
    /// A secret written literally in a manifest instead of `{ env: NAME }` or `{ file: PATH }`,
    /// or an `env` that is no variable name (perhaps the secret itself, pasted in its place).
    LiteralSecret = ("E0111", "literal-secret"),
    /// A colour that is not `#rgb` or `#rrggbb`.
    InvalidColor = ("E0112", "invalid-color"),
    /// `null` where it cannot mean "clear this field": on a field a present object needs, or on
    /// an optional field the API gives no way to clear (leave the key out to leave it alone).
    NullNotAllowed = ("E0113", "null-not-allowed"),
    /// Two objects of the same kind with the same name in the same scope.
    DuplicateObject = ("E0201", "duplicate-object"),
    /// A name or email that refers to nothing declared or built in.
    UnresolvedReference = ("E0202", "unresolved-reference"),
    /// A project names an org that no manifest declares.
    UnknownOrg = ("E0203", "unknown-org"),
    /// A project names no org while several orgs are declared.
    AmbiguousOrg = ("E0204", "ambiguous-org"),
    /// A project uses a template that does not exist.
    UnknownTemplate = ("E0205", "unknown-template"),
    /// A rename's `previous_names` collides with another declared object.
    RenameConflict = ("E0206", "rename-conflict"),
    /// Objects that reference each other in a loop (group inheritance, aggregate scores...).
    ReferenceCycle = ("E0301", "reference-cycle"),
    /// A grant must name exactly one of `user`, `group` or `service_account`.
    AclSubject = ("E0401", "acl-subject"),
    /// A grant must give exactly one of `role` or `permission`.
    AclPrivilege = ("E0402", "acl-privilege"),
    /// `restrict_object_type` narrows a permission; it cannot be combined with a role.
    RestrictWithRole = ("E0403", "restrict-with-role"),
    /// A built-in object (Owners, Engineers, Viewers) cannot be redefined or deleted.
    BuiltinObject = ("E0404", "builtin-object"),
    /// A value the API accepts but that is probably a mistake (weights that do not sum to 1...).
    Suspicious = ("W0001", "suspicious-value"),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Diagnostic {
    #[must_use]
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            hint: None,
        }
    }

    #[must_use]
    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Adds a label. The first label added is the primary one.
    #[must_use]
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// One line per diagnostic: `path:line:col: error[E0101]: message`. Used in snapshots and
    /// for machine consumption; humans get [`render`].
    #[must_use]
    pub fn short(&self, sources: &SourceMap) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.primary_span() {
            Some(span) => format!(
                "{}: {sev}[{}]: {}",
                sources.location(span),
                self.code,
                self.message
            ),
            None => format!("{sev}[{}]: {}", self.code, self.message),
        }
    }
}

/// Sorts diagnostics by file, position and code so output does not depend on processing order.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        let key = |d: &Diagnostic| d.primary_span().map(|s| (s.file, s.start));
        key(a)
            .cmp(&key(b))
            .then(a.code.cmp(&b.code))
            .then(a.message.cmp(&b.message))
    });
}

/// Whether rendered diagnostics may use colour and Unicode drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Colour and box drawing, for terminals.
    Fancy,
    /// Plain ASCII without escape codes, for CI logs, pipes and `NO_COLOR`.
    Plain,
}

/// Renders one diagnostic: an `error[CODE]: message` header, then the source snippet with its
/// labels under a `[path:line:col]` heading, then the hint.
///
/// Literal secrets in the snippet are masked: `redactions` lists spans whose text must never be
/// shown (see [`secret_spans`]), and any `secret:` value on a shown line is masked as well.
#[must_use]
pub fn render(diag: &Diagnostic, sources: &SourceMap, style: Style, redactions: &[Span]) -> String {
    let sev = match diag.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let header = format!("{sev}[{}]: {}\n", diag.code, diag.message);
    let Some(primary) = diag.primary_span() else {
        return match &diag.hint {
            Some(hint) => format!("{header}  help: {hint}\n"),
            None => header,
        };
    };
    let file = sources.get(primary.file);
    let text = unhide(redact(&file.text, primary.file, redactions));
    let clipped = Clipped::new(&text, &diag.labels, primary.file);
    let view = MietteView {
        diag,
        source: miette::NamedSource::new(&file.path, clipped.text.clone()),
        file: primary.file,
        clipped: &clipped,
    };
    let theme = match style {
        Style::Fancy => miette::GraphicalTheme::unicode(),
        Style::Plain => miette::GraphicalTheme::none(),
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_context_lines(1)
        .with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, &view).is_err() {
        return format!("{header}  --> {}\n", sources.location(primary));
    }
    // miette repeats the message on its first line; our header already carries it.
    let body: Vec<&str> = out
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .skip(1)
        .collect();
    let mut rendered = header;
    let location = format!("{}]", sources.location(primary));
    for (i, line) in body.into_iter().enumerate() {
        if i == 0 {
            // miette computed the heading's column in the shown text (clipped, invisible
            // characters made visible): give the real one.
            if let Some(open) = line.find(&format!("[{}:", file.path)) {
                rendered.push_str(&line[..=open]);
                rendered.push_str(&location);
                rendered.push('\n');
                continue;
            }
        }
        rendered.push_str(line.trim_end());
        rendered.push('\n');
    }
    while rendered.ends_with("\n\n") {
        rendered.pop();
    }
    rendered
}

/// The longest source line shown in a snippet, in characters. miette pads label lines with
/// `format!` widths, which must fit in a `u16`: a label past column 65,535 made it panic. Longer
/// lines are shown as a window around their first label, with `...` where text was cut.
const MAX_SHOWN_LINE: usize = 240;

/// A copy of a file's text with over-long lines cut down to a window, and the map from offsets
/// in the original to offsets in the copy.
struct Clipped {
    text: String,
    changed: bool,
    windows: Vec<Window>,
}

/// One clipped line: where it and its kept range lie in the original (`line_*`, `keep_*`) and
/// where the kept range starts and the line ends in the copy (`new_*`).
#[derive(Clone, Copy)]
struct Window {
    line_start: usize,
    line_end: usize,
    keep_start: usize,
    keep_end: usize,
    new_keep_start: usize,
    new_line_end: usize,
}

impl Clipped {
    fn new(text: &str, labels: &[Label], file: crate::source::FileId) -> Clipped {
        let needs = text
            .split('\n')
            .any(|line| line.len() > MAX_SHOWN_LINE && line.chars().count() > MAX_SHOWN_LINE);
        if !needs {
            return Clipped {
                text: text.to_owned(),
                changed: false,
                windows: Vec::new(),
            };
        }
        let mut out = String::with_capacity(text.len().min(1 << 20));
        let mut windows = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let content = line.trim_end_matches('\n');
            let line_end = offset + content.len();
            if content.chars().count() <= MAX_SHOWN_LINE {
                out.push_str(line);
                offset += line.len();
                continue;
            }
            // Centre the window on the first label starting on this line.
            let anchor = labels
                .iter()
                .filter(|l| l.span.file == file)
                .map(|l| l.span.start)
                .find(|at| (offset..=line_end).contains(at))
                .map_or(0, |at| at - offset);
            let from = floor_char(content, anchor.saturating_sub(MAX_SHOWN_LINE / 3));
            let to = floor_char(content, (from + MAX_SHOWN_LINE).min(content.len()));
            let to = if to <= from { content.len() } else { to };

            if from > 0 {
                out.push_str("...");
            }
            let new_keep_start = out.len();
            out.push_str(&content[from..to]);
            if to < content.len() {
                out.push_str("...");
            }
            let new_line_end = out.len();
            out.push_str(&line[content.len()..]);
            windows.push(Window {
                line_start: offset,
                line_end,
                keep_start: offset + from,
                keep_end: offset + to,
                new_keep_start,
                new_line_end,
            });
            offset += line.len();
        }
        Clipped {
            text: out,
            changed: true,
            windows,
        }
    }

    /// Where an offset of the original text lands in the copy (clamped to the text and to a
    /// character boundary, so a stray span cannot make miette slice mid-character).
    fn map(&self, at: usize) -> usize {
        floor_char(&self.text, self.map_unclamped(at))
    }

    fn map_unclamped(&self, at: usize) -> usize {
        if !self.changed {
            return at;
        }
        let mut shift: isize = 0;
        for w in &self.windows {
            if at < w.line_start {
                break;
            }
            if at <= w.line_end {
                return if at < w.keep_start {
                    w.new_keep_start.min(w.new_line_end)
                } else if at > w.keep_end {
                    w.new_line_end
                } else {
                    w.new_keep_start + (at - w.keep_start)
                };
            }
            shift = w.new_line_end as isize - w.line_end as isize;
        }
        at.saturating_add_signed(shift).min(self.text.len())
    }
}

/// The largest char boundary of `text` at or before `at`.
fn floor_char(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Spans of literal secrets found by the run, to be masked wherever source text is shown.
#[must_use]
pub fn secret_spans(diags: &[Diagnostic]) -> Vec<Span> {
    diags
        .iter()
        .filter(|d| d.code == Code::LiteralSecret)
        .filter_map(Diagnostic::primary_span)
        .collect()
}

/// A copy of `text` with secret spans and `secret:` values replaced by `*`, byte for byte, so
/// spans into the original still line up.
fn redact(text: &str, file: crate::source::FileId, redactions: &[Span]) -> String {
    let mut bytes: Vec<u8> = text.as_bytes().to_vec();
    let mut mask = |start: usize, end: usize| {
        let end = end.min(bytes.len());
        for b in bytes.iter_mut().take(end).skip(start) {
            if *b != b'\n' {
                *b = b'*';
            }
        }
    };
    for span in redactions.iter().filter(|s| s.file == file) {
        mask(span.start, span.end());
    }
    for secret in literal_secret_spans(text) {
        mask(secret.start, secret.start + secret.len);
    }
    // Masking replaced whole bytes of multi-byte characters with ASCII, which keeps UTF-8 valid
    // only if every byte of such a character was masked; fall back to lossy decoding otherwise.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// One line's worth of a literal secret value found in YAML text (see [`literal_secret_spans`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretText {
    /// Byte offset in the text.
    pub start: usize,
    pub len: usize,
    /// `secret:` or `value:`.
    pub key: &'static str,
    /// Lines of one multi-line value share a group.
    pub group: usize,
}

/// Every literal value after a `secret:` or `value:` key in `text`, including values continued on
/// the following, more indented lines (`secret: |`, `secret: >-`, or the value on the next line),
/// one entry per line. Comment lines are skipped.
#[must_use]
pub fn literal_secret_spans(text: &str) -> Vec<SecretText> {
    let mut found = Vec::new();
    let mut offset = 0;
    let mut group = 0;
    // The column of a key whose value continues on the next lines, and whether it is a block
    // scalar (`|`, `>`: every more indented line is value) or a plain value on the next line.
    let mut pending: Option<(usize, &'static str, bool)> = None;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let body = content.trim_start();
        let indent = content.len() - body.len();
        if let Some((column, key, block)) = pending {
            if body.is_empty() {
                offset += line.len();
                continue;
            }
            let nested_key = body.split_once(':').is_some_and(|(k, rest)| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                    && (rest.is_empty() || rest.starts_with(' '))
            });
            if indent > column && (block || !nested_key && !body.starts_with('#')) {
                found.push(SecretText {
                    start: offset + indent,
                    len: body.len(),
                    key,
                    group,
                });
                offset += line.len();
                continue;
            }
            pending = None;
        }
        if body.starts_with('#') {
            offset += line.len();
            continue;
        }
        for (from, len, key) in literal_secret_values(line) {
            group += 1;
            found.push(SecretText {
                start: offset + from,
                len,
                key,
                group,
            });
        }
        for key in ["secret:", "value:"] {
            if let Some(pos) = content.find(key) {
                let before = content[..pos].chars().next_back();
                if !before.is_none_or(|c| c.is_whitespace() || c == '{' || c == ',') {
                    continue;
                }
                let rest = content[pos + key.len()..].trim();
                let rest = rest.split(" #").next().unwrap_or("").trim();
                if rest.is_empty() || rest.starts_with(['|', '>']) {
                    group += 1;
                    pending = Some((pos, key, !rest.is_empty()));
                }
            }
        }
        offset += line.len();
    }
    found
}

/// Byte ranges, within one line, of scalar values written after a `secret:` or `value:` key:
/// the two places a literal secret can appear (`ai_secrets[].secret`, `env_vars[].value`).
/// Masked whenever a line is shown, even when the document failed to parse and no
/// [`Code::LiteralSecret`] diagnostic could be produced. Numbers and booleans after `value:` (as
/// in score categories) are left visible.
#[must_use]
pub fn literal_secret_values(line: &str) -> Vec<(usize, usize, &'static str)> {
    let mut found = Vec::new();
    for key in ["secret:", "value:"] {
        for (pos, _) in line.match_indices(key) {
            let before = line[..pos].chars().next_back();
            if !before.is_none_or(|c| c.is_whitespace() || c == '{' || c == ',') {
                continue;
            }
            let value_start = pos + key.len();
            let rest = &line[value_start..];
            let trimmed = rest.trim_start();
            let lead = rest.len() - trimmed.len();
            if lead == 0 && !trimmed.trim_end().is_empty() {
                continue;
            }
            if trimmed.is_empty()
                || trimmed.starts_with(['{', '[', '#', '&', '*', '|', '>', '\n', '\r'])
            {
                continue;
            }
            let in_flow = line[..pos].contains('{');
            let len =
                if let Some(quote) = trimmed.chars().next().filter(|c| *c == '"' || *c == '\'') {
                    trimmed[1..]
                        .find(quote)
                        .map_or(trimmed.trim_end().len(), |end| end + 2)
                } else {
                    let mut end = trimmed.find(" #").unwrap_or(trimmed.len());
                    if in_flow {
                        end = end.min(trimmed.find([',', '}']).unwrap_or(trimmed.len()));
                    }
                    trimmed[..end].trim_end().len()
                };
            let value = &trimmed[..len];
            let harmless = key == "value:"
                && (value.parse::<f64>().is_ok()
                    || matches!(value, "true" | "false" | "null" | "~"));
            if len > 0 && !harmless {
                found.push((value_start + lead, len, key));
            }
        }
    }
    found
}

/// Characters that reorder or hide text without being seen: bidirectional embeddings,
/// overrides, isolates and marks, zero-width characters, the byte order mark, soft hyphens,
/// invisible operators, Hangul fillers and tag characters. In a name they make a reviewer read
/// something other than what is applied (`admin\u{202E}nimda`).
#[must_use]
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// `text` with every [`is_invisible`] character written out as `[U+202E]`, so a reviewer sees
/// it instead of having text reordered or hidden (for plans shown to people).
#[must_use]
pub fn show_invisible(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_invisible) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_invisible(c) {
            out.push_str(&format!("[U+{:04X}]", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `text` with every [`is_invisible`] character replaced by visible ones of the same length in
/// bytes (`\u{FFFD}` for three bytes, `?` per byte otherwise), so spans still line up in a
/// snippet and the terminal does not reorder the line.
fn unhide(text: String) -> String {
    if !text.chars().any(is_invisible) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match (is_invisible(c), c.len_utf8()) {
            (false, _) => out.push(c),
            (true, 3) => out.push('\u{FFFD}'),
            (true, n) => out.extend(std::iter::repeat_n('?', n)),
        }
    }
    out
}

/// Adapter that lets miette render our diagnostic without our type depending on miette's traits
/// anywhere else.
struct MietteView<'a> {
    diag: &'a Diagnostic,
    source: miette::NamedSource<String>,
    file: crate::source::FileId,
    clipped: &'a Clipped,
}

impl fmt::Debug for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diag, f)
    }
}

impl fmt::Display for MietteView<'_> {
    /// miette prints this as the first line of its report, which [`render`] drops because our
    /// header already carries the message. Only the code is written: a long message would wrap
    /// onto continuation lines that would not be dropped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.diag.code.as_str())
    }
}

impl std::error::Error for MietteView<'_> {}

impl miette::Diagnostic for MietteView<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let file = self.file;
        let clipped = self.clipped;
        // miette renders one source per report: labels in other files become `note:` lines.
        let labels = self
            .diag
            .labels
            .iter()
            .enumerate()
            .filter(move |(_, l)| l.span.file == file);
        Some(Box::new(labels.map(|(i, l)| {
            let start = clipped.map(l.span.start);
            let end = clipped.map(l.span.end()).max(start);
            let span = miette::SourceSpan::new(start.into(), end - start);
            if i == 0 {
                miette::LabeledSpan::new_primary_with_span(Some(l.message.clone()), span)
            } else {
                miette::LabeledSpan::new_with_span(Some(l.message.clone()), span)
            }
        })))
    }
}

/// Renders every label that lives in another file than the primary one as a `note:` line, since
/// miette shows a single source per report.
#[must_use]
pub fn foreign_label_notes(diag: &Diagnostic, sources: &SourceMap) -> Vec<String> {
    let Some(primary) = diag.primary_span() else {
        return Vec::new();
    };
    diag.labels
        .iter()
        .filter(|l| l.span.file != primary.file)
        .map(|l| format!("note: {}: {}", sources.location(l.span), l.message))
        .collect()
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
#[must_use]
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::literal_secret_values;

    fn values(line: &str) -> Vec<&str> {
        literal_secret_values(line)
            .into_iter()
            .map(|(start, len, _)| &line[start..start + len])
            .collect()
    }

    #[test]
    fn finds_literal_secret_values() {
        assert_eq!(values("    secret: sk-abc # old key\n"), ["sk-abc"]);
        assert_eq!(
            values("  - { name: A, value: \"x, y\", function: f }"),
            ["\"x, y\""]
        );
        assert_eq!(
            values("  - { name: A, secret: sk-1, protect: true }"),
            ["sk-1"]
        );
        assert!(values("    secret: { env: OPENAI }").is_empty());
        assert!(values("    secret:\n").is_empty());
        assert!(values("      - { name: good, value: 0.5 }").is_empty());
        assert!(values("description: no secret:here").is_empty());
    }

    #[test]
    fn invisible_characters_are_shown() {
        assert_eq!(
            super::show_invisible("a\u{202E}b\u{200B}c"),
            "a[U+202E]b[U+200B]c"
        );
        assert_eq!(super::show_invisible("plain é"), "plain é");
        let unhidden = super::unhide("x\u{202E}y\u{00AD}z".to_owned());
        assert_eq!(unhidden, "x\u{FFFD}y??z");
        assert_eq!(unhidden.len(), "x\u{202E}y\u{00AD}z".len());
    }

    #[test]
    fn finds_multi_line_secrets() {
        let text = "  - name: A\n    secret: |\n      sk-one\n      sk-two\n  - name: B\n    secret:\n      sk-three\n    secret:\n      env: OPENAI\n";
        let shown: Vec<&str> = super::literal_secret_spans(text)
            .iter()
            .map(|s| &text[s.start..s.start + s.len])
            .collect();
        assert_eq!(shown, ["sk-one", "sk-two", "sk-three"]);
    }
}
