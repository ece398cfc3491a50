//! Writing a file that only its owner may read, atomically: the service-token key files apply
//! writes and the emulator's state file (which holds every key and secret) both go through here.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through a temporary file beside it (mode 0600 on Unix), synced and
/// then renamed over the target, so readers never see a half-written file and an existing file
/// ends with mode 0600 too. Missing parent directories are created. On failure the temporary
/// file is removed and the target is left as it was.
///
/// # Errors
/// When the directory, the temporary file or the rename fails.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs_err::create_dir_all(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut options = fs_err::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&tmp)?;
        // A temporary file left by an earlier crash keeps its old mode through `open`.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        fs_err::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs_err::remove_file(&tmp);
    }
    written
}
