//! Escaping of target-controlled strings (module, function and file names,
//! command lines, advice) for each kind of output, so that a hostile target
//! can neither inject markup or script into a report nor send escape
//! sequences to the terminal of whoever reads it.

use std::borrow::Cow;

/// Characters that must not reach a terminal raw: C0 controls, DEL, C1
/// controls, and the bidirectional overrides and isolates that reorder
/// what is shown ("Trojan source"), plus the Unicode line separators.
fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

fn escape_char(c: char, out: &mut String) {
    use std::fmt::Write as _;
    let code = c as u32;
    if code < 0x100 {
        let _ = write!(out, "\\x{code:02x}");
    } else {
        let _ = write!(out, "\\u{{{code:x}}}");
    }
}

fn escape_where(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_dangerous(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_dangerous(c) && !keep(c) {
            escape_char(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One line of text: every control character shown escaped (`\x1b`,
/// `\x0a`, `\u{202e}`), newlines and tabs included.
pub fn control_chars(s: &str) -> Cow<'_, str> {
    escape_where(s, |_| false)
}

/// Whole text for a terminal: control characters shown escaped except the
/// newlines and tabs that lay the text out.
pub fn terminal_text(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c == '\n' || c == '\t')
}

/// Text for HTML element content or a quoted attribute value.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Serialized JSON made safe to embed in a `<script>` element: `<`, `>`,
/// `&` and U+2028/U+2029 become `\u` escapes (still the same JSON value),
/// so that no `</script>` or `<!--` can end or change the element.
pub fn json_in_script(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A frame label in collapsed stacks: `;` separates frames and a newline
/// ends the line, so neither may appear inside one.
pub fn collapsed_frame(s: &str) -> String {
    control_chars(s).replace(';', ":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_shown_not_sent() {
        assert_eq!(
            control_chars("a\x1b]0;pwned\x07b\nc"),
            "a\\x1b]0;pwned\\x07b\\x0ac"
        );
        assert_eq!(
            terminal_text("x\x1b[2J\ny\t\u{9b}z"),
            "x\\x1b[2J\ny\t\\x9bz"
        );
        assert_eq!(control_chars("\u{202e}evil"), "\\u{202e}evil");
        assert!(matches!(control_chars("plain.module"), Cow::Borrowed(_)));
    }

    #[test]
    fn html_and_script_json_cannot_close_or_open_markup() {
        assert_eq!(
            html(r#"<img src=x onerror="a('1')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;1&#39;)&quot;&gt;&amp;"
        );
        let json = serde_json::to_string("</script><!--\u{2028}&").unwrap();
        let safe = json_in_script(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "</script><!--\u{2028}&");
    }

    #[test]
    fn collapsed_frames_stay_on_one_line_and_one_frame() {
        let label = collapsed_frame("f;g\nh 3\r");
        assert!(!label.contains(';') && !label.contains('\n') && !label.contains('\r'));
    }
}
