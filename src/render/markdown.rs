//! The Markdown rendering for pull-request comments: a summary table first, then one
//! collapsible section per kind. It always fits in a GitHub comment (65,536 characters): when
//! the details do not fit, sections are left out and an explicit line says so.

use std::fmt::Write as _;

use super::{FieldView, field_view};
use crate::plan::{Action, Plan, Risk, by_kind};

/// How many unmanaged live objects the comment lists by name; the rest are counted.
const UNMANAGED_SHOWN: usize = 20;

/// GitHub's limit for one comment body.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// Renders the plan within `limit` characters (use [`GITHUB_COMMENT_LIMIT`]).
#[must_use]
pub fn render(plan: &Plan, limit: usize) -> String {
    let summary = plan.summary();
    let mut head = String::from("### bt-gitops plan\n\n");
    let orgs: Vec<String> = plan.orgs.iter().map(|o| format!("`{}`", o.name)).collect();
    if !orgs.is_empty() {
        let _ = writeln!(head, "Orgs: {}", orgs.join(", "));
        head.push('\n');
    }
    if let Some(commit) = &plan.commit {
        let short: String = commit.chars().take(12).collect();
        let dirty = if plan.dirty {
            " (plus uncommitted changes)"
        } else {
            ""
        };
        let _ = writeln!(head, "Manifests at `{short}`{dirty}.");
        head.push('\n');
    }
    if let Some(base) = &plan.base {
        let touched = plan.changes.iter().filter(|c| c.touched).count();
        let _ = writeln!(
            head,
            "{touched} change(s) come from manifest edits since `{}` (marked `[changed here]`).",
            escape_html(base)
        );
        head.push('\n');
    }
    let groups = by_kind(plan);
    if plan.changes.is_empty() {
        if !plan.incomplete.is_empty() {
            // Held-back scopes: "no changes" would be a false all-clear.
            head.push_str("**Incomplete plan.** No change was found where the org could be read, but some lists could not be read (below), so this is not a clean plan.\n\n");
        } else {
            head.push_str("**No changes.** The live org matches the manifests.\n");
            if plan.guards.is_empty() && plan.unmanaged.is_empty() {
                return fit(head, limit);
            }
            head.push('\n');
        }
    } else {
        let _ = writeln!(head, "**Plan: {}.**\n", summary.line());
        head.push_str("| Kind | Create | Update | Delete | Replace |\n|---|---:|---:|---:|---:|\n");
        for (kind, changes) in &groups {
            let count = |a: Action| changes.iter().filter(|c| c.action == a).count();
            let _ = writeln!(
                head,
                "| {kind} | {} | {} | {} | {} |",
                count(Action::Create),
                count(Action::Update),
                count(Action::Delete),
                count(Action::Replace)
            );
        }
        head.push('\n');
    }
    let mut risky: Vec<(Risk, usize)> = Vec::new();
    for c in &plan.changes {
        for r in &c.risks {
            match risky.iter_mut().find(|(k, _)| k == r) {
                Some((_, n)) => *n += 1,
                None => risky.push((*r, 1)),
            }
        }
    }
    risky.sort();
    if !risky.is_empty() {
        let list: Vec<String> = risky
            .iter()
            .map(|(r, n)| format!("{n} {}", r.label()))
            .collect();
        let _ = writeln!(
            head,
            "> [!WARNING]\n> Needs careful review: {}.\n",
            list.join(", ")
        );
    }
    let protected = plan.changes.iter().filter(|c| c.protected).count();
    if protected > 0 {
        let _ = writeln!(
            head,
            "> [!CAUTION]\n> {protected} protected object(s) would be deleted; apply will refuse them.\n"
        );
    }
    if !plan.incomplete.is_empty() {
        let _ = writeln!(
            head,
            "> [!CAUTION]\n> **Incomplete plan**: a list read failed, so nothing is planned in these scopes:"
        );
        for scope in &plan.incomplete {
            let _ = writeln!(head, "> - {}", escape_html(scope));
        }
        head.push('\n');
    }
    if !plan.guards.is_empty() {
        let _ = writeln!(head, "> [!CAUTION]\n> **Apply will refuse this plan:**");
        for g in &plan.guards {
            let _ = writeln!(
                head,
                "> - `{}` guard: {}{}",
                g.guard,
                escape_html(&g.message),
                g.override_note()
            );
        }
        head.push('\n');
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            head,
            "> [!NOTE]\n> **Unmanaged live objects** (outside bt-gitops's model: never changed or deleted, and their names are taken):"
        );
        // A long list must not push the changes out of the comment.
        for u in plan.unmanaged.iter().take(UNMANAGED_SHOWN) {
            let _ = writeln!(
                head,
                "> - {}: {}",
                escape_html(&u.describe()),
                escape_html(&u.reason)
            );
        }
        if plan.unmanaged.len() > UNMANAGED_SHOWN {
            let _ = writeln!(
                head,
                "> - and {} more (see `unmanaged` in the plan artifact)",
                plan.unmanaged.len() - UNMANAGED_SHOWN
            );
        }
        head.push('\n');
    }
    for note in &plan.notes {
        let _ = writeln!(head, "- {}", escape_html(note));
    }
    if !plan.notes.is_empty() {
        head.push('\n');
    }

    let truncated_line = |shown: usize| {
        format!(
            "\n_Truncated: details of {} of {} changes are not shown here; see the plan artifact (`plan.json`) for the full plan._\n",
            plan.changes.len() - shown,
            plan.changes.len()
        )
    };
    let reserve = truncated_line(0).len() + 16;
    let mut body = head;
    let mut shown = 0;
    for (kind, changes) in &groups {
        let section = section(kind, changes);
        if body.len() + section.len() + reserve > limit {
            // Try the section's header and as many changes as fit.
            let partial =
                partial_section(kind, changes, limit.saturating_sub(body.len() + reserve));
            if let Some((text, n)) = partial {
                body.push_str(&text);
                shown += n;
            }
            body.push_str(&truncated_line(shown));
            return fit(body, limit);
        }
        body.push_str(&section);
        shown += changes.len();
    }
    fit(body, limit)
}

fn section(kind: &str, changes: &[&crate::plan::Change]) -> String {
    let mut s = format!(
        "<details><summary><b>{kind}</b> ({})</summary>\n\n```diff\n",
        changes.len()
    );
    for c in changes {
        s.push_str(&change_block(c));
    }
    s.push_str("```\n\n</details>\n\n");
    s
}

/// As many changes of a section as fit in `budget` characters, with the count shown.
fn partial_section(
    kind: &str,
    changes: &[&crate::plan::Change],
    budget: usize,
) -> Option<(String, usize)> {
    let open = format!(
        "<details><summary><b>{kind}</b> ({})</summary>\n\n```diff\n",
        changes.len()
    );
    let close = "```\n\n</details>\n\n";
    let mut s = open;
    let mut n = 0;
    for c in changes {
        let block = change_block(c);
        if s.len() + block.len() + close.len() > budget {
            break;
        }
        s.push_str(&block);
        n += 1;
    }
    (n > 0).then(|| (s + close, n))
}

/// One change inside a `diff` code block: the first column carries the diff colour.
fn change_block(c: &crate::plan::Change) -> String {
    let sign = match c.action {
        Action::Create => '+',
        Action::Update => '!',
        Action::Delete => '-',
        Action::Replace => '-',
    };
    let mut s = format!("{sign} {} {}", c.action.symbol(), escape(&c.address));
    if let Some(old) = &c.renamed_from {
        s.push_str(&format!(" (renamed from {})", escape(old)));
    }
    if let Some(reason) = &c.reason {
        s.push_str(&format!(" ({})", escape(reason)));
    }
    for r in &c.risks {
        s.push_str(&format!(" [{}]", r.label()));
    }
    if c.protected {
        s.push_str(" [protected]");
    }
    if c.touched {
        s.push_str(" [changed here]");
    }
    s.push('\n');
    for f in &c.fields {
        if f.field == "name" && c.renamed_from.is_some() {
            continue;
        }
        match field_view(f) {
            FieldView::Scalar {
                before: None,
                after,
            } if c.action == Action::Create => {
                let _ = writeln!(
                    s,
                    "      {}: {}",
                    f.field,
                    escape(&after.unwrap_or_default())
                );
            }
            FieldView::Scalar { before, after } => {
                let _ = writeln!(
                    s,
                    "      {}: {} -> {}",
                    f.field,
                    escape(&before.unwrap_or_else(|| "(none)".into())),
                    escape(&after.unwrap_or_else(|| "(none)".into()))
                );
            }
            FieldView::Set { added, removed } => {
                for a in added {
                    let _ = writeln!(s, "+     {}: + {}", f.field, escape(&a));
                }
                for r in removed {
                    let _ = writeln!(s, "-     {}: - {}", f.field, escape(&r));
                }
            }
            FieldView::Lines(lines) => {
                let _ = writeln!(s, "      {}:", f.field);
                for (sign, text) in lines {
                    let _ = writeln!(s, "{sign}       {}", escape(&text));
                }
            }
        }
    }
    if let Some(secret) = &c.secret {
        let _ = writeln!(
            s,
            "      secret: (hidden) {} {}",
            super::secret_status_text(secret.status),
            escape(&secret.source)
        );
    }
    s
}

/// Keeps user text inside a code block from closing it.
fn escape(text: &str) -> String {
    text.replace("```", "'''")
}

/// Keeps user text outside code blocks from opening HTML tags.
fn escape_html(text: &str) -> String {
    text.replace('<', "&lt;").replace('>', "&gt;")
}

/// Hard stop at `limit` characters, on a character boundary, should the estimate be off.
fn fit(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let note = "\n_Truncated: see the plan artifact for the full plan._\n";
        let mut cut = limit.saturating_sub(note.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(note);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{FORMAT_VERSION, UnmanagedObject};

    #[test]
    fn a_long_unmanaged_list_is_counted_not_listed() {
        let unmanaged = (0..UNMANAGED_SHOWN + 5)
            .map(|i| UnmanagedObject {
                org: "acme".into(),
                project: Some("chatbot".into()),
                collection: "project_automation".into(),
                name: Some(format!("topic-{i:02}")),
                id: None,
                reason: "not managed".into(),
            })
            .collect();
        let plan = Plan {
            format_version: FORMAT_VERSION,
            orgs: Vec::new(),
            changes: Vec::new(),
            notes: Vec::new(),
            commit: None,
            author: None,
            dirty: false,
            base: None,
            guards: Vec::new(),
            incomplete: Vec::new(),
            manifests: None,
            unmanaged,
        };
        let text = render(&plan, GITHUB_COMMENT_LIMIT);
        assert!(text.contains("**No changes.**"), "{text}");
        assert!(text.contains("`topic-00`"), "{text}");
        assert!(!text.contains("`topic-20`"), "{text}");
        assert!(text.contains("and 5 more"), "{text}");
    }
}
