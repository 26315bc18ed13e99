//! One escaper per text format the renderers write by hand: XML (junit.xml, and the note an
//! undrawable chart leaves in its SVG) and Markdown table cells (summary.md). HTML goes through
//! askama, which escapes every value itself.

/// XML text and attribute escaping; characters XML 1.0 cannot carry become U+FFFD.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            // XML 1.0 has no U+FFFE or U+FFFF (nor surrogates, which a `char` cannot be): a
            // document holding one is not well-formed.
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Text for a Markdown table cell: no HTML, no pipes, no code spans or emphasis, one line.
pub fn markdown_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' | '*' | '_' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_everything_user_provided() {
        assert_eq!(xml("<script>&\"'"), "&lt;script&gt;&amp;&quot;&apos;");
        assert_eq!(xml("a\u{1}b"), "a\u{fffd}b");
        assert_eq!(xml("a\u{fffe}b\u{ffff}"), "a\u{fffd}b\u{fffd}");
    }

    #[test]
    fn cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(markdown_cell("a|b<script>`x`\n"), "a\\|b&lt;script&gt;\\`x\\` ");
    }
}
