//! The flame graph renderer: inferno draws the SVG from collapsed stacks.
//! It lives in the system crate because inferno's hasher (ahash with its
//! random seed) pulls in libc, which the pure core must not depend on; the
//! core's writers take it as a [`crate::export::FlameRenderer`].

/// Draws the flame graph SVG of `lines` (`frame;frame count`) titled `title`.
pub fn inferno_svg(title: &str, lines: &[String]) -> std::io::Result<Vec<u8>> {
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_string();
    options.count_name = "samples".to_string();
    let mut out = Vec::new();
    inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut out)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hostile_frame_names_are_escaped_in_the_svg() {
        let lines = vec!["<module> (a.py:1);<img src=x onerror=alert(1)> (b.py:2) 3".to_string()];
        let svg = String::from_utf8(super::inferno_svg("t<script>", &lines).unwrap()).unwrap();
        assert!(
            svg.starts_with("<?xml") || svg.starts_with("<svg"),
            "{}",
            &svg[..80]
        );
        assert!(!svg.contains("<img"), "raw markup in the SVG");
        assert!(!svg.contains("t<script>"), "raw title in the SVG");
        assert!(svg.contains("&lt;img"), "escaped frame name kept");
    }
}
