//! The manifest files of one run as `(path, text)` pairs, and byte-offset spans into them.
//!
//! Nothing below this module reads the disk: the CLI (or the git module) loads files into a
//! [`SourceMap`], and every later stage refers to text through [`FileId`] and [`Span`].

use std::fmt;

/// Index of one file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub len: usize,
}

/// One loaded manifest file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as shown to users (relative to the directory given on the command line when
    /// possible, with `/` separators so output is the same on every platform).
    pub path: String,
    pub text: String,
    /// A file the loader refused to read (a FIFO, a link out of the root, too large...): it is
    /// here, with no text, only so diagnostics about it have a location. Parsing skips it. The
    /// reason, when the loader left the diagnostic to its caller (files read from git).
    pub refused: bool,
    pub refusal: Option<&'static str>,
    /// Byte offset of the start of every line, for offset -> line:col conversion.
    line_starts: Vec<usize>,
}

/// All files of one run.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

/// A 1-based line and column (in characters), as editors show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub col: usize,
}

impl Span {
    #[must_use]
    pub fn new(file: FileId, start: usize, len: usize) -> Span {
        Span { file, start, len }
    }

    #[must_use]
    pub fn end(&self) -> usize {
        self.start + self.len
    }
}

impl SourceFile {
    fn new(path: String, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            path,
            text,
            refused: false,
            refusal: None,
            line_starts,
        }
    }

    /// Converts a byte offset into a 1-based line and character column.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |prefix| prefix.chars().count());
        LineCol {
            line: line + 1,
            col: col + 1,
        }
    }

    /// Converts a 1-based line and character column back into a byte offset, clamped to the
    /// file. Used for parser locations that carry no byte offset.
    #[must_use]
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let line_text = rest.split('\n').next().unwrap_or("");
        let byte_col = line_text
            .char_indices()
            .nth(col.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i);
        start + byte_col
    }

    #[must_use]
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

impl SourceMap {
    #[must_use]
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, path: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile::new(path.into(), text.into()));
        id
    }

    /// Adds a file the loader refused to read, with no text and why, and returns its id.
    pub fn add_refused(&mut self, path: impl Into<String>, why: &'static str) -> FileId {
        let id = self.add(path, String::new());
        let file = &mut self.files[id.0 as usize];
        file.refused = true;
        file.refusal = Some(why);
        id
    }

    #[must_use]
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.files.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// `path:line:col` of the start of a span.
    #[must_use]
    pub fn location(&self, span: Span) -> Location<'_> {
        let file = self.get(span.file);
        Location {
            path: &file.path,
            at: file.line_col(span.start),
        }
    }
}

/// `path:line:col`, for messages.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    pub path: &'a str,
    pub at: LineCol,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path, self.at.line, self.at.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_round_trips() {
        let mut map = SourceMap::new();
        let id = map.add("a.yaml", "ab\nçd\n\nx");
        let file = map.get(id);
        assert_eq!(file.line_col(0), LineCol { line: 1, col: 1 });
        assert_eq!(file.line_col(3), LineCol { line: 2, col: 1 });
        // `ç` is two bytes, one column.
        assert_eq!(file.line_col(5), LineCol { line: 2, col: 2 });
        assert_eq!(file.offset_of(2, 2), 5);
        assert_eq!(file.offset_of(4, 1), 8);
        assert_eq!(file.offset_of(99, 1), file.text.len());
    }
}
