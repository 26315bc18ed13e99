//! What the console shows while a command runs: each event as a `loadgen: …` line on stderr,
//! and the run in progress as the live view ([`super::live_view`]) redrawn in place on a
//! terminal, or a plain line every 5 s elsewhere; once the phases end, one line that stays.
//! `--quiet` keeps the warnings and drops the rest.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::live_view;
use crate::event::{Event, Level, Sink, Snapshot};

/// How often the plain (non-terminal) progress line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// The console's view of a command (stderr).
pub struct Console {
    quiet: bool,
    /// The scenario's name, the live view's first word.
    name: String,
    /// Whether stderr is a terminal (the view redrawn in place) or not (a line now and then).
    tty: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Lines of the live view on the screen now, erased before anything else is written.
    drawn: usize,
    last_plain: Option<Instant>,
    /// The function's concurrency limit, when the run knows it.
    reserved: Option<u32>,
}

/// Moves the cursor to the first of the `n` lines above it and clears from there down.
fn erase(out: &mut String, n: usize) {
    if n > 0 {
        let _ = write!(out, "\x1b[{n}F\x1b[J");
    }
}

/// The terminal's width in columns (80 when it cannot be read).
fn width() -> usize {
    #[cfg(target_os = "linux")]
    if let Ok(w) = rustix::termios::tcgetwinsize(std::io::stderr())
        && w.ws_col >= 20
    {
        return usize::from(w.ws_col);
    }
    80
}

impl Console {
    /// A sink for the run of `name`; with `quiet` only warnings are shown.
    pub fn new(name: &str, quiet: bool) -> Console {
        Console {
            quiet,
            name: crate::stdout::terminal_safe(name).into_owned(),
            tty: std::io::stderr().is_terminal(),
            state: Mutex::new(State::default()),
        }
    }

    /// The function's concurrency limit (its reservation, else the account's), shown beside the
    /// requests in flight.
    pub fn set_reserved(&self, reserved: Option<u32>) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).reserved = reserved;
    }

    /// Takes the live view down (the run's phases are over) and, on a terminal, leaves one line
    /// that says what they came to (`last`: every request counted).
    pub fn finish(&self, last: &Snapshot, stopped: Option<&str>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        erase(&mut out, std::mem::take(&mut state.drawn));
        if self.tty && !self.quiet {
            let _ = writeln!(out, "{}", crate::stdout::terminal_safe(&live_view::closing(&self.name, last, stopped)));
        }
        crate::stdout::write_view(&out);
    }

    fn tick(&self, s: &Snapshot) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.tty {
            // One write per redraw: the old block erased and the new one drawn together, so the
            // terminal never shows half of each.
            let mut out = String::new();
            erase(&mut out, state.drawn);
            let lines = live_view::view(&self.name, s, width(), state.reserved);
            for l in &lines {
                // Already escaped by the view, which must measure what the terminal will show.
                out.push_str(l);
                out.push('\n');
            }
            state.drawn = lines.len();
            crate::stdout::write_view(&out);
        } else if state.last_plain.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) {
            // The first line waits PLAIN_EVERY too, as a run's first seconds say little.
            if state.last_plain.is_some() {
                // A closed stderr must not stop the run: its results still get written.
                crate::errln!("{}", live_view::plain(s));
            }
            state.last_plain = Some(Instant::now());
        }
    }

    /// Writes an event's line, taking the live view down first (the next tick redraws it).
    fn line(&self, text: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        erase(&mut out, std::mem::take(&mut state.drawn));
        out.push_str(&crate::stdout::terminal_safe(text));
        out.push('\n');
        crate::stdout::write_view(&out);
    }
}

/// The text of an event, for a line of its own.
fn line(event: &Event) -> Option<String> {
    Some(match event {
        Event::BuildingBinary(bin) => format!(
            "loadgen: {bin} is not built yet; building it now (cargo build --release -p loadgen -p {bin} --bin {bin}, first run only)…"
        ),
        Event::Seeding { items, item_size, rate, into } => {
            format!(
                "loadgen: seeding {items} items of ~{item_size} bytes into {into} at {rate} items/s (not measured)…"
            )
        }
        Event::NotSeeded { items, url } => format!(
            "loadgen: not writing [data]'s {items} items into {url}: a URL target is written to only when asked. \
             Pass --seed-data to write them (into the table, or through the API with [data] seed_via = \"api\"), \
             or set [data] seed = false to say they exist already."
        ),
        Event::StackNote { note } => format!("loadgen: stack: {note}"),
        Event::Fleet { note, .. } => format!("loadgen: fleet: {note}"),
        Event::Auth { note, .. } => format!("loadgen: auth: {note}"),
        Event::CpuModel { description, .. } => format!("loadgen: local stack CPU: {description}"),
        Event::WorstCase(w) => format!(
            "loadgen: worst case for this run against a real stack: {:.0} requests × {}{} = {} ({} MB, {} s timeout{}); limit --max-cost-usd {}",
            w.requests,
            crate::money::usd(w.per_request_usd),
            if w.fleet_usd > 0.0 { format!(" + the fleet {}", crate::money::usd(w.fleet_usd)) } else { String::new() },
            crate::money::usd(w.total_usd),
            w.memory_mb,
            w.timeout_s,
            if w.timeout_assumed { " assumed: pass --infra for the real figures" } else { "" },
            w.limit_usd
        ),
        Event::AligningToMinute { wait } => format!(
            "loadgen: waiting {:.0} s for the next minute so CloudWatch separates seeding from the run…",
            wait.as_secs_f64()
        ),
        Event::CloudWatchLate { seen, expected, waited, max_wait } => format!(
            "loadgen: CloudWatch shows {seen:.0} of {expected:.0} requests so far; waiting for late data points ({:.0}s of at most {:.0}s)…",
            waited.as_secs_f64(),
            max_wait.as_secs_f64()
        ),
        Event::CloudWatchFailed { reason } => format!("loadgen: {reason} — pricing from what the client saw"),
        Event::LogsFailed { reason } => {
            format!("loadgen: {reason} — no calibration: `loadgen simulate` cannot use this run")
        }
        Event::NoCost { reason } => format!("loadgen: no cost estimate: {reason}"),
        Event::MetricsServed { url } => format!("loadgen: live metrics at {url} while the run lasts"),
        Event::FileLimit { limit, wanted } => format!(
            "loadgen: open files: the limit is {limit} (raised to the hard limit), but this plan may hold ~{wanted} \
             (its most requests in flight and loadgen's own); requests beyond it are counted as not sent and the \
             generator as saturated: raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower [target] max_in_flight"
        ),
        Event::OutputMoved { wanted, reason, written } => format!(
            "loadgen: {} could not be written ({reason}); the results are in {} instead",
            wanted.display(),
            written.display()
        ),
        Event::Tick(_) => return None,
    })
}

impl Sink for Console {
    fn event(&self, event: Event) {
        if self.quiet && event.level() == Level::Info {
            return;
        }
        match &event {
            Event::Tick(s) => self.tick(s),
            other => {
                if let Some(text) = line(other) {
                    self.line(&text);
                }
            }
        }
    }
}
