//! CPython versions: parsing and the supported range.

use std::fmt;

/// A CPython version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonVersion {
    /// 3.
    pub major: u8,
    /// e.g. 12.
    pub minor: u8,
    /// e.g. 1 (0 when unknown).
    pub patch: u8,
}

impl PythonVersion {
    /// A version.
    pub const fn new(major: u8, minor: u8, patch: u8) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// From `PY_VERSION_HEX` (the `Py_Version` symbol, 3.11+).
    pub fn from_hex(hex: u64) -> Option<Self> {
        let major = ((hex >> 24) & 0xff) as u8;
        let minor = ((hex >> 16) & 0xff) as u8;
        let patch = ((hex >> 8) & 0xff) as u8;
        (major == 3 && minor < 100).then_some(Self {
            major,
            minor,
            patch,
        })
    }

    /// From a file name such as `libpython3.12.so.1.0`, `python3.11` or `python3.14d`.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let start = name.find("python3.")? + "python3.".len();
        let digits: String = name[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(Self::new(3, digits.parse().ok()?, 0))
    }

    /// `3.12`.
    pub fn minor_string(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_names() {
        assert_eq!(
            PythonVersion::from_hex(0x030c01f0),
            Some(PythonVersion::new(3, 12, 1))
        );
        assert_eq!(
            PythonVersion::from_file_name("libpython3.12.so.1.0"),
            Some(PythonVersion::new(3, 12, 0))
        );
        assert_eq!(
            PythonVersion::from_file_name("python3.9"),
            Some(PythonVersion::new(3, 9, 0))
        );
        assert_eq!(
            PythonVersion::from_file_name("python3.14d").map(|v| v.minor),
            Some(14)
        );
        assert_eq!(PythonVersion::from_file_name("bash"), None);
    }
}
