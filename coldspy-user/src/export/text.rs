//! Number, time and path formatting shared by the text writers.

/// Microseconds as milliseconds with one decimal (`12.3`).
pub fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

/// An integer with thousands separators (`86,689`).
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|group| std::str::from_utf8(group).expect("ASCII digits"))
        .collect();
    groups.join(",")
}

/// A path shortened for a table: `…/site-packages/x/y.py`, and cut from the
/// left to at most `width` characters.
pub fn short_path(path: &str, width: usize) -> String {
    let path = ["/site-packages/", "/dist-packages/"]
        .iter()
        .find_map(|marker| path.rfind(marker).map(|i| format!("…{}", &path[i..])))
        .unwrap_or_else(|| path.to_string());
    let chars = path.chars().count();
    if chars <= width {
        return path;
    }
    let tail: String = path.chars().skip(chars - width.saturating_sub(1)).collect();
    format!("…{tail}")
}

/// Cuts `s` to `width` characters, ending with `…` when cut.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Word-wraps `text` to `width` columns; every line starts with `indent`
/// (the first with `first`, which should be as wide).
pub fn wrap(first: &str, indent: &str, text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut line_len = first.chars().count();
    let mut empty = true;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if !empty && line_len + 1 + len > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
            line_len = indent.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            line_len += 1;
        }
        line.push_str(word);
        line_len += len;
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(86_689), "86,689");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(ms(115_564), "115.6");
        assert_eq!(
            short_path("/v/lib/python3.11/site-packages/boto3/__init__.py", 80),
            "…/site-packages/boto3/__init__.py"
        );
        assert_eq!(short_path("/a/b/c/d.py", 6), "…/d.py");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(
            wrap("- ", "  ", "one two three four", 10),
            "- one two\n  three\n  four\n"
        );
    }
}
