//! The apply journal: one JSON Lines file per apply under `.bt-gitops/journal/`, appended (and
//! flushed) as each operation finishes, so even an interrupted apply leaves a record. It records the plan's hash, the git commit when known, the time, and
//! every operation's result, so that later one can tell exactly what an apply changed, and a
//! re-run (which re-plans from live state) only does what is left.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::Digest;

use super::{ApplyReport, Outcome};
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
        changes: usize,
        holder: &'a str,
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
    End {
        time: u64,
        succeeded: usize,
        failed: usize,
        skipped: usize,
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
    /// Creates `dir/<time>-<hash>.jsonl` and writes the start entry.
    ///
    /// # Errors
    /// When the directory or file cannot be written.
    pub fn start(dir: &Path, plan: &Plan, holder: &str) -> std::io::Result<Journal> {
        fs_err::create_dir_all(dir)?;
        let hash = plan_hash(plan);
        let path = dir.join(format!("{}-{}.jsonl", now(), &hash[..12.min(hash.len())]));
        let file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let mut journal = Journal { file, path };
        journal.write(&Entry::Start {
            time: now(),
            plan_hash: &hash,
            commit: plan.commit.as_deref(),
            changes: plan.changes.len(),
            holder,
        })?;
        Ok(journal)
    }

    fn write(&mut self, entry: &Entry<'_>) -> std::io::Result<()> {
        let line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        let mut line = crate::redact::scrub(&line).into_owned();
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }

    /// Appends one finished operation.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn record(&mut self, outcome: Outcome<'_>) -> std::io::Result<()> {
        match outcome {
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
        })?;
        Ok(self.path)
    }
}
