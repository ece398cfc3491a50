//! Small scanners over raw YAML text, used to make diagnostics precise where the parser's own
//! location is too coarse: the extent of a mapping or list, the start of the mapping a key is
//! missing from, an unclosed quote, and a document's top-level keys.
//!
//! They are heuristics over well-formed-looking text and never decide whether input is valid;
//! when they cannot tell, they return `None` and the parser's location is kept.

/// Whether the value at `start` is a `null` written as a key's value: `null`, `Null`, `NULL` or
/// `~` after a `key:`, or nothing at all (the parser then points at the key's colon).
#[must_use]
pub fn is_null_value(text: &str, start: usize) -> bool {
    let Some(rest) = text.get(start..) else {
        return false;
    };
    if let Some(after) = rest.strip_prefix(':') {
        let after = after.split('\n').next().unwrap_or("").trim_start();
        return after.is_empty() || after.starts_with(['#', ',', '}']);
    }
    let before = text
        .get(..start)
        .unwrap_or("")
        .trim_end_matches([' ', '\t']);
    if !before.ends_with(':') {
        return false;
    }
    let word = rest
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '}' | ']' | '#'))
        .next()
        .unwrap_or("");
    matches!(word, "null" | "Null" | "NULL" | "~")
}

/// The byte length of the flow collection (`{...}` or `[...]`) starting at `start`, or of the
/// rest of the line for a block value, so that a label covers the whole value.
#[must_use]
pub fn value_extent(text: &str, start: usize) -> Option<usize> {
    let rest = text.get(start..)?;
    let first = rest.chars().next()?;
    if first == '{' || first == '[' {
        return matching_close(rest).map(|end| end + 1);
    }
    let line = rest.split('\n').next().unwrap_or("");
    let line = strip_comment(line).trim_end();
    (!line.is_empty()).then_some(line.len())
}

/// The offset of the bracket closing the one `text` starts with, skipping quoted strings.
fn matching_close(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q && !(q == '"' && prev == '\\') => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '{' | '[' => depth += 1,
                '}' | ']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                '#' if prev.is_whitespace() => return None,
                _ => {}
            },
        }
        prev = c;
    }
    None
}

/// A line without its trailing `# comment`, ignoring `#` inside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev.is_whitespace() => return &line[..i],
            None => {}
        }
        prev = c;
    }
    line
}

/// For a key at `offset` in a block mapping, the span of the mapping's first key: where a
/// missing field "belongs". Walks up over sibling keys (same column) and deeper lines until
/// the line that opens the mapping (a `- ` list item, or a shallower line).
#[must_use]
pub fn block_mapping_start(text: &str, offset: usize) -> Option<(usize, usize)> {
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let col = offset - line_start;
    let line = text[line_start..].split('\n').next().unwrap_or("");
    // Only for a key written at the start of its line (after indentation or `- `).
    let before = &line[..col.min(line.len())];
    if !before.chars().all(|c| c == ' ' || c == '-') || !is_key_at(line, col) {
        return None;
    }
    if before.trim_end().ends_with('-') {
        return Some((offset, key_len(&line[col..])));
    }
    let mut best = (offset, key_len(&line[col..]));
    let mut start = line_start;
    while start > 0 {
        let prev_start = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        let prev = &text[prev_start..start - 1];
        start = prev_start;
        let content = prev.trim_start_matches([' ', '-']);
        if content.trim().is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = prev.len() - prev.trim_start().len();
        let key_col = prev.len() - content.len();
        if key_col == col && is_key_at(prev, col) {
            best = (prev_start + col, key_len(&prev[col..]));
            if prev[indent..col].trim_end().ends_with('-') {
                return Some(best);
            }
        } else if key_col < col || indent < col && !prev[indent..].starts_with('-') {
            return Some(best);
        }
    }
    Some(best)
}

fn is_key_at(line: &str, col: usize) -> bool {
    line.get(col..).is_some_and(|rest| {
        let k = key_len(rest);
        k > 0 && rest[k..].starts_with(':')
    })
}

fn key_len(rest: &str) -> usize {
    rest.find(|c: char| c == ':' || c.is_whitespace())
        .unwrap_or(rest.len())
}

/// The first line (byte offset and length of the opening quote to the end of the line) where a
/// quoted scalar is opened and not closed on the same line, before `limit`. Multi-line quoted
/// strings are legal YAML but rare in manifests; an unclosed quote makes the parser fail much
/// later with a confusing message.
#[must_use]
pub fn unclosed_quote(text: &str, limit: usize) -> Option<(usize, usize)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > limit {
            return None;
        }
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start();
        if !trimmed.starts_with('#') {
            let mut quote: Option<(char, usize)> = None;
            let mut prev = ' ';
            let mut escaped = false;
            for (i, c) in body.char_indices() {
                match quote {
                    Some(('"', _)) if escaped => escaped = false,
                    Some(('"', _)) if c == '\\' => escaped = true,
                    Some((q, _)) if c == q => quote = None,
                    Some(_) => {}
                    None if (c == '"' || c == '\'')
                        && (prev.is_whitespace()
                            || matches!(prev, ':' | '{' | '[' | ',' | '-')) =>
                    {
                        quote = Some((c, i));
                    }
                    None if c == '#' && prev.is_whitespace() => break,
                    None => {}
                }
                prev = c;
            }
            if let Some((_, at)) = quote {
                return Some((offset + at, body.len() - at));
            }
        }
        offset += line.len();
    }
    None
}

/// The offset of the quote closing the quoted scalar opened at `open` (a `"` or `'`), if any.
#[must_use]
pub fn quote_end(text: &str, open: usize) -> Option<usize> {
    let quote = text.get(open..)?.chars().next()?;
    let mut chars = text[open + 1..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') {
                chars.next();
            } else {
                return Some(open + 1 + i);
            }
        }
    }
    None
}

/// The top-level keys of a block mapping document, with their byte offsets: lines starting at
/// column 0 with `key:`.
#[must_use]
pub fn top_level_keys(text: &str) -> Vec<(usize, &str)> {
    let mut keys = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if is_key_at(line, 0) {
            keys.push((offset, &line[..key_len(line)]));
        }
        offset += line.len();
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents() {
        let t = "a: { b: [1, 2], c: \"}\" } # x\n";
        assert_eq!(value_extent(t, 3), Some(t.find(" #").unwrap() - 3));
        assert_eq!(value_extent("a: hello # c\n", 3), Some(5));
    }

    #[test]
    fn mapping_start() {
        let t = "scores:\n  - name: x\n    type: slider\n  - name: y\n    description: d\n";
        let off = t.find("description").unwrap();
        assert_eq!(
            block_mapping_start(t, off),
            Some((t.find("name: y").unwrap(), 4))
        );
        let t = "project: p\norg: acme\nalerts: []\n";
        assert_eq!(
            block_mapping_start(t, t.find("alerts").unwrap()),
            Some((0, 7))
        );
        assert_eq!(block_mapping_start("a: { b: 1 }", 5), None);
    }

    #[test]
    fn quotes() {
        let t = "a: \"x\"\nb: \"open\nc: 'ok'\n";
        assert_eq!(unclosed_quote(t, t.len()), Some((10, 5)));
        assert_eq!(unclosed_quote("a: it's fine\nb: \"a \\\" b\"\n", 100), None);
        let t = "a: \"x \\\" y\nz\" w\nb: 'it''s\n'";
        assert_eq!(quote_end(t, 3), Some(t.find("z\"").unwrap() + 1));
        assert_eq!(quote_end(t, t.find('\'').unwrap()), Some(t.len() - 1));
        assert_eq!(quote_end("a: \"open", 3), None);
    }

    #[test]
    fn keys() {
        let keys = top_level_keys("# c\norganization: acme\nmembers:\n  - a\n");
        assert_eq!(keys, vec![(4, "organization"), (23, "members")]);
    }
}
