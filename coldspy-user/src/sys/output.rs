//! Writing the profile whole or not at all: a private temporary file in the
//! destination directory, renamed into place once complete (mode 0600, owned
//! by the user who ran `sudo`).

use crate::error::SetupError;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A profile file being written.
#[derive(Debug)]
pub struct OutputFile {
    final_path: PathBuf,
    tmp_path: PathBuf,
    file: Option<std::fs::File>,
}

impl OutputFile {
    /// Creates the temporary file now, so an unwritable path fails before recording.
    pub fn create(path: &Path) -> Result<Self, SetupError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp_path = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp_path)
            .map_err(|source| SetupError::OutputNotWritable {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            final_path: path.to_path_buf(),
            tmp_path,
            file: Some(file),
        })
    }

    /// Writes `bytes`, then renames the file into place.
    pub fn commit(mut self, bytes: &[u8]) -> std::io::Result<PathBuf> {
        let mut file = self.file.take().expect("committed once");
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        give_to_invoking_user(&self.tmp_path);
        std::fs::rename(&self.tmp_path, &self.final_path)?;
        Ok(self.final_path.clone())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// Under `sudo`, hands the file to the user who ran it (still mode 0600).
pub fn give_to_invoking_user(path: &Path) {
    let parse = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    if let (Some(uid), Some(gid)) = (parse("SUDO_UID"), parse("SUDO_GID")) {
        let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn commit_renames_a_private_file_and_drop_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("coldspy-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.json");
        let out = OutputFile::create(&path).unwrap();
        out.commit(b"{}").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let abandoned = OutputFile::create(&dir.join("q.json")).unwrap();
        drop(abandoned);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("p.json")]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            OutputFile::create(Path::new("/proc/nope/p.json")),
            Err(SetupError::OutputNotWritable { .. })
        ));
    }
}
