//! What the console shows while a command runs: each event as a `loadgen: …` line on stderr,
//! and the run in progress as a progress bar on a terminal or a plain line every 5 s elsewhere.
//! `--quiet` keeps the warnings and drops the rest.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::event::{Event, Level, Sink, Snapshot};

/// How often the plain (non-terminal) progress line is written.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// The console's view of a command (stderr).
pub struct Console {
    quiet: bool,
    /// The scenario's name, the progress bar's prefix.
    name: String,
    /// Whether stderr is a terminal (a bar) or not (a line now and then).
    tty: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<indicatif::ProgressBar>,
    last_plain: Option<Instant>,
}

impl Console {
    /// A sink for the run of `name`; with `quiet` only warnings are shown.
    pub fn new(name: &str, quiet: bool) -> Console {
        Console {
            quiet,
            name: name.to_owned(),
            tty: std::io::stderr().is_terminal(),
            state: Mutex::new(State::default()),
        }
    }

    /// Removes the progress bar (the run's phases are over).
    pub fn finish(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).bar = None;
    }

    fn tick(&self, s: &Snapshot) {
        let target = s.target_rate.map(|r| format!("{r:.0}/s")).unwrap_or_else(|| "closed".into());
        let line = format!(
            "{} | target {target} sent {}/s | p99 {:.1}ms | in flight {} | errors {} throttles {} cold {}",
            s.phase, s.sent_last_second, s.p99_ms, s.in_flight, s.errors, s.throttles, s.cold_starts
        );
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.tty {
            let total = s.planned.as_secs();
            let bar = state.bar.get_or_insert_with(|| {
                let b = indicatif::ProgressBar::new(total.max(1));
                b.set_style(
                    indicatif::ProgressStyle::with_template("{prefix:>12} [{bar:24}] {pos}/{len}s {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            });
            bar.set_prefix(crate::stdout::terminal_safe(&self.name).into_owned());
            bar.set_position(s.elapsed.as_secs().min(total));
            bar.set_message(crate::stdout::terminal_safe(&line).into_owned());
        } else if state.last_plain.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) {
            // The first line waits PLAIN_EVERY too, as a run's first seconds say little.
            if state.last_plain.is_some() {
                // A closed stderr must not stop the run: its results still get written.
                crate::errln!("[{:>5.0}s/{}s] {line}", s.elapsed.as_secs_f64(), s.planned.as_secs());
            }
            state.last_plain = Some(Instant::now());
        }
    }
}

/// The text of an event, for a line of its own.
fn line(event: &Event) -> Option<String> {
    Some(match event {
        Event::BuildingTargetApi => "loadgen: target-api is not built yet; building it now (cargo build --release -p target-api, first run only)…".into(),
        Event::Seeding { items, item_size, rate, into } => {
            format!("loadgen: seeding {items} items of ~{item_size} bytes into {into} at {rate} items/s (not measured)…")
        }
        Event::NotSeeded { items, url } => format!(
            "loadgen: not writing [data]'s {items} items into {url}: a URL target is written to only when asked. \
             Pass --seed-data to write them (into the table, or through the API with [data] seed_via = \"api\"), \
             or set [data] seed = false to say they exist already."
        ),
        Event::StackNote { note } => format!("loadgen: stack: {note}"),
        Event::Auth { note, .. } => format!("loadgen: auth: {note}"),
        Event::CpuModel { description, .. } => format!("loadgen: local stack CPU: {description}"),
        Event::WorstCase(w) => format!(
            "loadgen: worst case for this run against a real stack: {:.0} requests × ${:.8} = ${:.2} ({} MB, {} s timeout{}); limit --max-cost-usd {}",
            w.requests,
            w.per_request_usd,
            w.total_usd,
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
                    crate::errln!("{text}");
                }
            }
        }
    }
}
