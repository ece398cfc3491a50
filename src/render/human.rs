//! The human rendering: one line per change with its symbol, field changes beneath, a summary
//! line. Colour only when asked for (the CLI decides, honouring `NO_COLOR`).

use std::fmt::Write as _;

use super::{FieldView, field_view};
use crate::diag::Style;
use crate::plan::{Action, Change, Plan};

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

struct Paint(Style);

impl Paint {
    fn paint(&self, color: &str, text: &str) -> String {
        match self.0 {
            Style::Fancy => format!("{color}{text}{RESET}"),
            Style::Plain => text.to_owned(),
        }
    }

    fn action(&self, action: Action) -> String {
        let color = match action {
            Action::Create => GREEN,
            Action::Update => YELLOW,
            Action::Delete | Action::Replace => RED,
        };
        self.paint(color, action.symbol())
    }
}

/// Renders the plan for a terminal or a CI log.
#[must_use]
pub fn render(plan: &Plan, style: Style) -> String {
    let p = Paint(style);
    let mut out = String::new();
    let orgs: Vec<String> = plan
        .orgs
        .iter()
        .map(|o| format!("{} ({})", o.name, o.api_url))
        .collect();
    let _ = writeln!(
        out,
        "{}",
        p.paint(BOLD, &format!("bt-gitops plan for {}", orgs.join(", ")))
    );
    if let Some(commit) = &plan.commit {
        let author = plan
            .author
            .as_deref()
            .map(|a| format!(" by {a}"))
            .unwrap_or_default();
        let dirty = if plan.dirty {
            ", plus uncommitted changes in the work tree"
        } else {
            ""
        };
        let _ = writeln!(out, "manifests at commit {commit}{author}{dirty}");
    }
    if let Some(base) = &plan.base {
        let _ = writeln!(
            out,
            "changes marked [changed here] come from manifest edits since `{base}`"
        );
    }
    out.push('\n');
    if plan.changes.is_empty() {
        if plan.incomplete.is_empty() {
            let _ = writeln!(out, "No changes. The live org matches the manifests.");
        } else {
            // Held-back scopes: "no changes" would be a false all-clear.
            let _ = writeln!(
                out,
                "{} no change was found where the org could be read, but some lists could not be read (below).",
                p.paint(RED, "Incomplete plan:")
            );
        }
    }
    for change in &plan.changes {
        change_lines(&mut out, change, &p);
    }
    if !plan.changes.is_empty() {
        out.push('\n');
    }
    for scope in &plan.incomplete {
        let _ = writeln!(out, "{} {scope}", p.paint(RED, "incomplete:"));
    }
    for g in &plan.guards {
        let _ = writeln!(
            out,
            "{} {}{}",
            p.paint(RED, &format!("apply will refuse (`{}` guard):", g.guard)),
            g.message,
            g.override_note()
        );
    }
    if !plan.incomplete.is_empty() || !plan.guards.is_empty() {
        out.push('\n');
    }
    for u in &plan.unmanaged {
        let _ = writeln!(
            out,
            "{} {}: {}",
            p.paint(YELLOW, "unmanaged:"),
            u.describe(),
            u.reason
        );
    }
    if !plan.unmanaged.is_empty() {
        out.push('\n');
    }
    for note in &plan.notes {
        let _ = writeln!(out, "{} {note}", p.paint(YELLOW, "note:"));
    }
    if !plan.notes.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{}",
        p.paint(BOLD, &format!("Plan: {}.", plan.summary().line()))
    );
    out
}

fn change_lines(out: &mut String, c: &Change, p: &Paint) {
    let mut line = format!("  {} {}", p.action(c.action), c.address);
    if let Some(old) = &c.renamed_from {
        line.push_str(&format!(" (renamed from `{old}`)"));
    }
    if let Some(reason) = &c.reason {
        line.push_str(&p.paint(DIM, &format!("  ({reason})")));
    }
    for risk in &c.risks {
        line.push_str(&format!(
            " {}",
            p.paint(RED, &format!("[{}]", risk.label()))
        ));
    }
    if c.touched {
        line.push_str(&format!(" {}", p.paint(BOLD, "[changed here]")));
    }
    if c.protected {
        line.push_str(&format!(
            " {}",
            p.paint(RED, "[protected: apply will refuse]")
        ));
    }
    let _ = writeln!(out, "{line}");
    for f in &c.fields {
        if f.field == "name" && c.renamed_from.is_some() {
            continue;
        }
        match field_view(f) {
            FieldView::Scalar {
                before: None,
                after: Some(after),
            } if c.action == Action::Create => {
                let _ = writeln!(out, "      {}: {after}", f.field);
            }
            FieldView::Scalar { before, after } => {
                let before = before.unwrap_or_else(|| "(none)".into());
                let after = after.unwrap_or_else(|| "(none)".into());
                let _ = writeln!(
                    out,
                    "      {}: {} -> {}",
                    f.field,
                    p.paint(RED, &before),
                    p.paint(GREEN, &after)
                );
            }
            FieldView::Set { added, removed } => {
                let mut parts: Vec<String> = added
                    .iter()
                    .map(|a| p.paint(GREEN, &format!("+ {a}")))
                    .collect();
                parts.extend(removed.iter().map(|r| p.paint(RED, &format!("- {r}"))));
                if parts.is_empty() {
                    parts.push("(reordered)".into());
                }
                let _ = writeln!(out, "      {}: {}", f.field, parts.join(", "));
            }
            FieldView::Lines(lines) => {
                let _ = writeln!(out, "      {}:", f.field);
                for (sign, text) in lines {
                    let line = format!("{sign} {text}");
                    let painted = match sign {
                        '+' => p.paint(GREEN, &line),
                        '-' => p.paint(RED, &line),
                        _ => line,
                    };
                    let _ = writeln!(out, "        {painted}");
                }
            }
        }
    }
    if let Some(secret) = &c.secret {
        let what = super::secret_status_text(secret.status);
        let _ = writeln!(out, "      secret: (hidden) {what} {}", secret.source);
    }
    if !c.depends_on.is_empty() {
        let _ = writeln!(
            out,
            "      {}",
            p.paint(DIM, &format!("after: {}", c.depends_on.join(", ")))
        );
    }
}
