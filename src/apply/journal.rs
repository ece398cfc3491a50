//! The apply journal: one JSON Lines file per apply under `.bt-gitops/journal/`, readable by its
//! owner only (mode 0600), named `<unix time>-<pid>-<nanos>-<plan hash>.jsonl` and created
//! exclusively, so two applies never share a file.
//!
//! Every line is written straight to the file (no buffer in this process), so a killed apply
//! leaves every line it wrote. The start line holds the plan's hash, the commit, its author and
//! whether the work tree was dirty, and the holder; then a `refused` line per refused change;
//! then, per change, an `intent` line written *before* its first request and a result line
//! (`succeeded`, `failed`, `skipped`) after, so an operation in flight when the process died
//! shows as an intent without a result; a change with a step of its own after its main write
//! (an export's registration) adds `step_intent` and `step_succeeded` or `step_failed` lines
//! between them; then the `end` line with the totals.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::Digest;

use super::{ApplyReport, Outcome, Refused};
use crate::plan::Plan;

/// An open journal file.
pub struct Journal {
    file: fs_err::File,
    pub path: PathBuf,
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Entry<'a> {
    Start {
        time: u64,
        plan_hash: &'a str,
        commit: Option<&'a str>,
        author: Option<&'a str>,
        dirty: bool,
        changes: usize,
        holder: &'a str,
    },
    Refused {
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<&'a str>,
        guard: &'a str,
        reason: &'a str,
    },
    Incomplete {
        scope: &'a str,
    },
    Intent {
        address: &'a str,
        action: &'a str,
    },
    Succeeded {
        address: &'a str,
        action: &'a str,
        id: Option<&'a str>,
    },
    Failed {
        address: &'a str,
        error: &'a str,
    },
    Skipped {
        address: &'a str,
        because_of: &'a str,
    },
    StepIntent {
        address: &'a str,
        step: &'a str,
    },
    StepSucceeded {
        address: &'a str,
        step: &'a str,
    },
    StepFailed {
        address: &'a str,
        step: &'a str,
        error: &'a str,
    },
    End {
        time: u64,
        succeeded: usize,
        failed: usize,
        skipped: usize,
        refused: usize,
    },
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A stable digest of a plan (its JSON form).
#[must_use]
pub fn plan_hash(plan: &Plan) -> String {
    let bytes = serde_json::to_vec(plan).unwrap_or_default();
    sha2::Sha256::digest(&bytes)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Journal {
    /// Creates a new `dir/<time>-<pid>-<nanos>-<hash>.jsonl` (mode 0600, never an existing
    /// file) and writes the start entry.
    ///
    /// # Errors
    /// When the directory or file cannot be written.
    pub fn start(dir: &Path, plan: &Plan, holder: &str) -> std::io::Result<Journal> {
        fs_err::create_dir_all(dir)?;
        let hash = plan_hash(plan);
        let (file, path) = loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = dir.join(format!(
                "{}-{}-{nanos:09}-{}.jsonl",
                now(),
                std::process::id(),
                &hash[..12.min(hash.len())]
            ));
            let mut options = fs_err::OpenOptions::new();
            options.create_new(true).append(true);
            #[cfg(unix)]
            {
                use fs_err::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(file) => break (file, path),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(err),
            }
        };
        let mut journal = Journal { file, path };
        journal.write(&Entry::Start {
            time: now(),
            plan_hash: &hash,
            commit: plan.commit.as_deref(),
            author: plan.author.as_deref(),
            dirty: plan.dirty,
            changes: plan.changes.len(),
            holder,
        })?;
        Ok(journal)
    }

    /// Records a refused change (or a refusal of the whole plan, without an address).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn refused(&mut self, refused: &Refused) -> std::io::Result<()> {
        self.write(&Entry::Refused {
            address: refused.address.as_deref(),
            guard: &refused.guard,
            reason: &refused.reason,
        })
    }

    /// Records a scope whose live read was incomplete (nothing was planned there).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn incomplete(&mut self, scope: &str) -> std::io::Result<()> {
        self.write(&Entry::Incomplete { scope })
    }

    fn write(&mut self, entry: &Entry<'_>) -> std::io::Result<()> {
        let line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        let mut line = crate::redact::scrub(&line).into_owned();
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }

    /// Appends an operation about to start, or one that finished.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn record(&mut self, outcome: Outcome<'_>) -> std::io::Result<()> {
        match outcome {
            Outcome::Started { address, action } => {
                let action = format!("{action:?}").to_lowercase();
                self.write(&Entry::Intent {
                    address,
                    action: &action,
                })
            }
            Outcome::Succeeded(s) => {
                let action = format!("{:?}", s.action).to_lowercase();
                self.write(&Entry::Succeeded {
                    address: &s.address,
                    action: &action,
                    id: s.created_id.as_deref(),
                })
            }
            Outcome::Failed { address, error } => self.write(&Entry::Failed { address, error }),
            Outcome::Skipped {
                address,
                because_of,
            } => self.write(&Entry::Skipped {
                address,
                because_of,
            }),
            Outcome::Step {
                address,
                step,
                result,
            } => self.write(&match result {
                None => Entry::StepIntent { address, step },
                Some(Ok(())) => Entry::StepSucceeded { address, step },
                Some(Err(error)) => Entry::StepFailed {
                    address,
                    step,
                    error,
                },
            }),
        }
    }

    /// Writes the end entry with the totals.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn finish(mut self, report: &ApplyReport) -> std::io::Result<PathBuf> {
        self.write(&Entry::End {
            time: now(),
            succeeded: report.succeeded.len(),
            failed: report.failed.len(),
            skipped: report.skipped.len(),
            refused: report.refused.len(),
        })?;
        Ok(self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two applies starting in the same second get a file each, readable by the owner only.
    #[test]
    fn journals_never_share_a_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let plan = Plan {
            format_version: crate::plan::FORMAT_VERSION,
            orgs: Vec::new(),
            changes: Vec::new(),
            notes: Vec::new(),
            commit: None,
            author: Some("Ada <ada@example.com>".into()),
            dirty: true,
            base: None,
            guards: Vec::new(),
            incomplete: Vec::new(),
            manifests: None,
            unmanaged: Vec::new(),
        };
        let a = Journal::start(dir.path(), &plan, "a").expect("first");
        let b = Journal::start(dir.path(), &plan, "b").expect("second");
        assert_ne!(a.path, b.path);
        let text = fs_err::read_to_string(&a.path).expect("read");
        assert!(
            text.contains("\"author\":\"Ada <ada@example.com>\""),
            "{text}"
        );
        assert!(text.contains("\"dirty\":true"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs_err::metadata(&b.path)
                .expect("meta")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
