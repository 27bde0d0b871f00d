//! Resolving a command name to the program a shell would run.

use crate::error::SetupError;
use std::path::{Path, PathBuf};

/// Resolves a command name through `PATH` like a shell.
pub fn resolve(command: &str) -> Result<PathBuf, SetupError> {
    let is_executable = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
            .unwrap_or(false)
    };
    if command.contains('/') {
        let path = PathBuf::from(command);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(SetupError::CommandNotFound(command.to_string()))
        };
    }
    let path_var =
        std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(command))
        .find(|p| is_executable(p))
        .ok_or_else(|| SetupError::CommandNotFound(command.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_through_path_and_rejects_unknown_commands() {
        assert!(resolve("sh").unwrap().is_absolute());
        assert!(matches!(
            resolve("no-such-command-xyz"),
            Err(SetupError::CommandNotFound(_))
        ));
        assert!(matches!(
            resolve("./no/such/file"),
            Err(SetupError::CommandNotFound(_))
        ));
    }
}
