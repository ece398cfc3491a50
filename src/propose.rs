//! Drift to pull request, the pure part: the live values of drifted objects written back into
//! the manifests that declare them.
//!
//! Only the drifted blocks change: each drifted object's list item (found from the span of its
//! declaration) is replaced by the item `import` would write for the live object
//! ([`crate::import::entry`]), at the same indentation, or removed when the object is gone from
//! the live org. Every other byte of the file, comments and layout included, stays as it was;
//! comments inside a replaced item go with it. What cannot be written back this way is returned
//! as [`Skipped`] with the reason: objects not declared in the manifests (created outside
//! them), kinds that are not list items (org and project settings, secrets, service accounts),
//! items written in an inline list (`tags: [...]`), objects declared `state: absent`.
//! `git::commit_files` and `api::github` turn the result into a branch and a pull request.

use std::collections::BTreeMap;

use crate::import;
use crate::live::LiveState;
use crate::model::{DesiredState, Presence, ResourceKey};
use crate::source::{FileId, SourceMap};

/// A manifest with drifted blocks rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditedFile {
    /// The path as the [`SourceMap`] shows it.
    pub path: String,
    pub text: String,
}

/// A drifted object left as it is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub key: ResourceKey,
    pub reason: &'static str,
}

/// What [`write_back`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proposal {
    /// Edited files, in source order; files with no edit are left out.
    pub files: Vec<EditedFile>,
    /// The objects written back (replaced or removed).
    pub written: Vec<ResourceKey>,
    pub skipped: Vec<Skipped>,
}

/// One edit: bytes `start..end` of a file become `text`.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// Writes the live value of each `drifted` object over its declaration in `sources`.
#[must_use]
pub fn write_back(
    sources: &SourceMap,
    desired: &DesiredState,
    live: &LiveState,
    drifted: &[ResourceKey],
) -> Proposal {
    let mut proposal = Proposal::default();
    let mut edits: BTreeMap<FileId, Vec<Edit>> = BTreeMap::new();
    let mut keys: Vec<&ResourceKey> = drifted.iter().collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let skip = |reason| Skipped {
            key: key.clone(),
            reason,
        };
        let Some(resource) = desired.resources.get(key) else {
            proposal
                .skipped
                .push(skip("not declared in the manifests (created outside them)"));
            continue;
        };
        if resource.presence == Presence::Absent {
            proposal
                .skipped
                .push(skip("declared `state: absent` in the manifests"));
            continue;
        }
        let replacement = match live.objects.get(key) {
            Some(object) => match import::entry(key, &object.spec) {
                Some(entry) if resource.protect => Some(protected(&entry.text)),
                Some(entry) => Some(entry.text),
                None => {
                    proposal
                        .skipped
                        .push(skip("its kind is not written as a list item"));
                    continue;
                }
            },
            None if import::section(key.kind).is_some() => None,
            None => {
                proposal
                    .skipped
                    .push(skip("its kind is not written as a list item"));
                continue;
            }
        };
        let text = &sources.get(resource.span.file).text;
        let Some((start, end, indent)) = item_at(text, resource.span.start) else {
            proposal
                .skipped
                .push(skip("not declared as a `- ` item of a block list"));
            continue;
        };
        let text = replacement
            .map(|item| format!("{}- {item}\n", " ".repeat(indent)))
            .unwrap_or_default();
        edits
            .entry(resource.span.file)
            .or_default()
            .push(Edit { start, end, text });
        proposal.written.push(key.clone());
    }
    for (file, mut file_edits) in edits {
        let source = sources.get(file);
        let mut text = source.text.clone();
        file_edits.sort_by_key(|e| std::cmp::Reverse(e.start));
        let mut floor = usize::MAX;
        for edit in file_edits {
            // Two keys in one item (a template) would overlap: the later one wins.
            if edit.end > floor {
                continue;
            }
            text.replace_range(edit.start..edit.end, &edit.text);
            floor = edit.start;
        }
        proposal.files.push(EditedFile {
            path: source.path.clone(),
            text,
        });
    }
    proposal
}

/// A flow mapping with `protect: true` added, so the rewrite keeps the declaration's guard.
fn protected(item: &str) -> String {
    match item.strip_suffix(" }") {
        Some(head) => format!("{head}, protect: true }}"),
        None => item.to_owned(),
    }
}

/// The list item holding byte `at`: its byte range (whole lines, trailing comment and blank
/// lines excluded) and the column of its `-`. `None` when `at` is not inside a `- ` item of a
/// block list.
fn item_at(text: &str, at: usize) -> Option<(usize, usize, usize)> {
    let at = at.min(text.len());
    let lines: Vec<(usize, &str)> = line_starts(text);
    let here = lines.iter().rposition(|(start, _)| *start <= at)?;
    let key_col = {
        let line = lines[here].1;
        let rest = line.trim_start_matches([' ', '-']);
        line.len() - rest.len()
    };
    // Up to the line whose `-` is left of the name's key: the item's first line.
    let mut first = None;
    for index in (0..=here).rev() {
        let line = lines[index].1;
        let indent = indent(line);
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        if indent < key_col {
            if body == "-" || body.starts_with("- ") {
                first = Some((index, indent));
            }
            break;
        }
    }
    let (first, dash) = first?;
    // Down while lines are indented past the `-`; trailing comments and blanks stay outside.
    let mut last = first;
    for (index, (_, line)) in lines.iter().enumerate().skip(first + 1) {
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        if indent(line) <= dash {
            break;
        }
        last = index;
    }
    let end = lines.get(last + 1).map_or(text.len(), |(start, _)| *start);
    Some((lines[first].0, end, dash))
}

/// Each line's byte offset and text (without its newline).
fn line_starts(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        out.push((start, line.trim_end_matches(['\n', '\r'])));
        start += line.len();
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<'a>(text: &'a str, needle: &str) -> Option<&'a str> {
        let at = text.find(needle).expect("needle");
        item_at(text, at).map(|(s, e, _)| &text[s..e])
    }

    #[test]
    fn finds_flow_and_block_items_and_leaves_their_neighbours() {
        let text = "tags:\n  # the first\n  - { name: a, color: red }\n  - name: b\n    # inside\n    description: x\n\n  # about c\n  - name: c\nscores: []\n";
        assert_eq!(item(text, "a,"), Some("  - { name: a, color: red }\n"));
        assert_eq!(
            item(text, "x\n"),
            Some("  - name: b\n    # inside\n    description: x\n")
        );
        assert_eq!(item(text, "name: c"), Some("  - name: c\n"));
        assert_eq!(item(text, "scores"), None);
    }

    #[test]
    fn items_of_inline_lists_and_top_level_keys_are_not_found() {
        assert_eq!(item("tags: [{ name: a }]\n", "a }"), None);
        assert_eq!(item("project: p\norg: o\n", "p\n"), None);
    }

    #[test]
    fn protect_is_kept() {
        assert_eq!(protected("{ name: a }"), "{ name: a, protect: true }");
    }
}
