//! Where a run's results go: results.json and the reports in the run's directory (or, when it
//! cannot be written, a fresh private one), and the summary on the terminal.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;
use crate::event::{Event, Sink};
use crate::results::Results;
use crate::{files, report};

/// A UTC time as a directory name takes it: `20261207T170000Z`.
pub(super) fn utc_stamp(t: time::OffsetDateTime) -> String {
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}Z", t.year(), t.month() as u8, t.day(), t.hour(), t.minute(), t.second())
}

/// Writes results.json and the reports into `dir` (made again if it vanished during the run);
/// when `dir` cannot be written at all, into a fresh directory under the system's temporary
/// one, saying where: what a run measured is never lost to its report directory.
pub(super) fn write_outputs(results: &Results, dir: &std::path::Path, sink: &Arc<dyn Sink>) -> Result<PathBuf, Error> {
    let write =
        |d: &std::path::Path| results.write(&d.join("results.json")).and_then(|()| report::write_all(results, d));
    let Err(first) = write(dir) else { return Ok(dir.to_path_buf()) };
    let fresh = private_dir(&results.scenario.name)
        .map_err(|source| files::WriteError { path: std::env::temp_dir(), source })?;
    write(&fresh)?;
    let reason = format!("{:#}", crate::error::Chain(&first));
    sink.event(Event::OutputMoved { wanted: dir.to_path_buf(), reason, written: fresh.clone() });
    Ok(fresh)
}

/// A new directory only this user may enter, under the system's temporary one: never one that
/// was there before (another user's, or a link planted where a predictable name would go).
fn private_dir(scenario: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    let stamp = utc_stamp(time::OffsetDateTime::now_utc());
    let safe: String = scenario.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    loop {
        let dir = std::env::temp_dir().join(format!("loadgen-{safe}-{stamp}-{:016x}", fastrand::u64(..)));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            other => return other.map(|()| dir),
        }
    }
}

/// The summary on the terminal; with `quiet`, only why a run did not pass, on standard error.
pub(super) fn print_summary(results: &Results, dir: &std::path::Path, quiet: bool) {
    let path = dir.join("results.json");
    if !quiet {
        crate::out!("{}", report::terminal::summary(results));
        crate::outln!("  results: {}", path.display());
        crate::outln!("  report:  {}", dir.join("report.html").display());
    } else if let Some(why) = report::terminal::quiet_failure(results) {
        crate::errln!("{why}  results: {}", path.display());
    }
}
