//! What commands print on standard output, written so a reader that went away (`loadgen
//! compare … | head`, a closed pipe) ends the printing instead of panicking: by then the
//! results are on disk, and the exit code still says the verdict.

/// Like `print!`, ignoring a closed or failing standard output.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Like `println!`, ignoring a closed or failing standard output.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
