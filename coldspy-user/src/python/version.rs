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

    /// From the `PY_VERSION` string literal (`"3.10.13"`) in a binary's
    /// bytes, for versions without `Py_Version` (before 3.11). The linker
    /// may merge the literal into the tail of a longer string (a build path
    /// ending in `/3.10.13`), so any `3.X.Y` ending a string counts. With
    /// `minor` known (from the file name) only that minor's strings count;
    /// the most frequent candidate wins.
    pub fn from_version_string(data: &[u8], minor: Option<u8>) -> Option<Self> {
        let mut counts: std::collections::HashMap<Self, usize> = std::collections::HashMap::new();
        let starts = data.windows(3).enumerate().filter(|(at, w)| {
            &w[1..] == b"3." && !w[0].is_ascii_digit() && w[0] != b'.' && *at + 1 < data.len()
        });
        for (at, _) in starts {
            let rest = &data[at + 1..data.len().min(at + 12)];
            let Some(end) = rest.iter().position(|&b| b == 0) else {
                continue;
            };
            let Ok(text) = std::str::from_utf8(&rest[..end]) else {
                continue;
            };
            let mut parts = text.split('.');
            let (Some("3"), Some(m), Some(p), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Ok(m), Ok(p)) = (m.parse::<u8>(), p.parse::<u8>()) else {
                continue;
            };
            if minor.is_none_or(|want| want == m) && (6..100).contains(&m) {
                *counts.entry(Self::new(3, m, p)).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by_key(|&(v, n)| (n, v))
            .map(|(v, _)| v)
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

    #[test]
    fn finds_the_version_literal_in_binary_bytes() {
        let data = b"junk\x003.10.13\x00more\x003.10\x00x\x003.6.0\x00\x003.10.13\x00";
        assert_eq!(
            PythonVersion::from_version_string(data, Some(10)),
            Some(PythonVersion::new(3, 10, 13))
        );
        assert_eq!(
            PythonVersion::from_version_string(data, None),
            Some(PythonVersion::new(3, 10, 13))
        );
        assert_eq!(
            PythonVersion::from_version_string(b"\x003.x\x00", None),
            None
        );
    }
}
