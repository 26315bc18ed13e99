//! What commands print on the terminal, written so a reader that went away (`loadgen
//! compare … | head`, a closed pipe) ends the printing instead of panicking — by then the
//! results are on disk, and the exit code still says the verdict — and so no text from a
//! scenario, a target or an error can drive the terminal: control characters other than a
//! newline or a tab are shown escaped (`\u{1b}`), so a name cannot clear the screen, move the
//! cursor or print a line that looks like a verdict.

use std::borrow::Cow;

/// `text` with every control character but `\n` and `\t` escaped as Rust writes it.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Writes `text` terminal-safe to `to`, then a newline when `line`; a closed or failing
/// stream is ignored (what the macros below share).
pub fn write_safe(mut to: impl std::io::Write, text: &str, line: bool) {
    let _ = to.write_all(terminal_safe(text).as_bytes());
    if line {
        let _ = to.write_all(b"\n");
    }
}

/// Writes the live view's block to standard error as it is: its text already made
/// [`terminal_safe`], with the cursor moves the view itself adds to redraw in place. A closed
/// or failing stream is ignored.
pub fn write_view(block: &str) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(block.as_bytes());
    let _ = err.flush();
}

/// Like `print!`, terminal-safe, ignoring a closed or failing standard output.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::write_safe(std::io::stdout().lock(), &format!($($arg)*), false)
    };
}

/// Like `println!`, terminal-safe, ignoring a closed or failing standard output.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::stdout::write_safe(std::io::stdout().lock(), &format!($($arg)*), true)
    };
}

/// Like `eprintln!`, terminal-safe, ignoring a closed or failing standard error: a closed
/// stderr must not stop a run, whose results still get written.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::stdout::write_safe(std::io::stderr().lock(), &format!($($arg)*), true)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(terminal_safe("plain\n\ttext"), "plain\n\ttext");
        assert_eq!(terminal_safe("a\u{1b}[2Jb\rverdict: PASS"), "a\\u{1b}[2Jb\\u{d}verdict: PASS");
        assert_eq!(terminal_safe("\u{7f}\u{9b}"), "\\u{7f}\\u{9b}");
    }
}
