//! File watching: the only module that knows notify. Turns file-system events under the
//! manifest directory into debounced [`Trigger`]s for the [`controller`](crate::controller).
//!
//! Triggers carry no information into planning: the controller re-reads everything on every
//! round (level-triggered). They only say why a round started, for logs.

use std::path::Path;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Why a reconcile round started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Startup,
    /// Manifest files changed on disk.
    Files,
    /// The followed branch moved, or could not be read.
    Branch,
    /// The periodic timer fired.
    Timer,
    /// A failed round is retried.
    Retry,
    /// Asked for by the caller (tests, an operator).
    Manual,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trigger::Startup => "startup",
            Trigger::Files => "files changed",
            Trigger::Branch => "branch moved",
            Trigger::Timer => "timer",
            Trigger::Retry => "retry",
            Trigger::Manual => "manual",
        })
    }
}

/// A running file watcher. Dropping it stops watching.
pub struct FileWatch {
    _watcher: notify::RecommendedWatcher,
}

/// Watches `dir` recursively and sends one [`Trigger::Files`] per burst of changes to YAML
/// files (events closer than `debounce` are merged).
///
/// # Errors
/// When the platform watcher cannot start or `dir` cannot be watched.
pub fn watch_files(
    dir: &Path,
    debounce: Duration,
    out: mpsc::Sender<Trigger>,
) -> notify::Result<FileWatch> {
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let relevant = event.paths.iter().any(|p| {
            let hidden = p
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
            let yaml = p.extension().is_some_and(|e| e == "yaml" || e == "yml");
            yaml && !hidden
        });
        if relevant && !event.kind.is_access() {
            let _ = raw_tx.send(());
        }
    })?;
    watcher.watch(dir, RecursiveMode::Recursive)?;
    tokio::spawn(async move {
        while raw_rx.recv().await.is_some() {
            // Swallow the rest of the burst, then report once.
            loop {
                match tokio::time::timeout(debounce, raw_rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            if out.send(Trigger::Files).await.is_err() {
                return;
            }
        }
    });
    Ok(FileWatch { _watcher: watcher })
}
