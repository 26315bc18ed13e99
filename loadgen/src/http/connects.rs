//! The connections the generator opened: how many before the schedule started and how many
//! during it, and how long each took to open (name lookup and TCP connect, plus the TLS
//! handshake on https).
//! Opened during the run, that time sits inside the first requests' latency, as it does for a
//! real client; opened before, it is a figure of its own — as wrk2 connects its `-c` first.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::record::histogram::{max_ms, quantile_ms};
use crate::results::ConnectionStats;

/// Counts and times every connection opened, shared by all of a run's targets.
pub struct Connects {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Whether the schedule has started: later opens count as during the run.
    started: bool,
    before: u64,
    during: u64,
    /// Connect time, µs.
    took: Histogram<u64>,
}

impl Default for Connects {
    fn default() -> Self {
        Connects {
            inner: Mutex::new(Inner { started: false, before: 0, during: 0, took: crate::record::histogram::coarse() }),
        }
    }
}

impl Connects {
    /// One connection opened in `took`.
    pub fn opened(&self, took: Duration) {
        let mut i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match i.started {
            true => i.during += 1,
            false => i.before += 1,
        }
        let us = (took.as_micros() as u64).clamp(1, i.took.high());
        let _ = i.took.record(us);
    }

    /// The schedule starts now: connections opened from here on are counted as during the run.
    pub fn start(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).started = true;
    }

    /// A fleet worker's counts and connect times, for the coordinator: (before, during, the
    /// times' histogram encoded).
    pub fn export(&self) -> (u64, u64, String) {
        let i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (i.before, i.during, crate::record::histogram::encode(&i.took))
    }

    /// Adds a worker's [`Connects::export`]; false (and nothing added) when its times do not
    /// decode to a histogram this one takes.
    pub fn absorb(&self, before: u64, during: u64, took: &str) -> bool {
        let mut i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let top = i.took.highest_equivalent(i.took.high());
        let Some(h) = crate::record::histogram::decode(took).filter(|h| h.max() <= top) else { return false };
        let _ = i.took.add(&h);
        i.before += before;
        i.during += during;
        true
    }

    /// What results.json says of them.
    pub fn stats(&self) -> ConnectionStats {
        let i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let any = !i.took.is_empty();
        ConnectionStats {
            opened_before: i.before,
            opened_during: i.during,
            connect_p50_ms: if any { quantile_ms(&i.took, 0.5) } else { 0.0 },
            connect_p99_ms: if any { quantile_ms(&i.took, 0.99) } else { 0.0 },
            connect_max_ms: if any { max_ms(&i.took) } else { 0.0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_start_count_as_during_the_run() {
        let c = Connects::default();
        c.opened(Duration::from_micros(400));
        c.opened(Duration::from_micros(600));
        c.start();
        c.opened(Duration::from_millis(30));
        let s = c.stats();
        assert_eq!((s.opened_before, s.opened_during), (2, 1));
        assert!((0.35..0.65).contains(&s.connect_p50_ms), "{s:?}");
        assert!((29.0..31.0).contains(&s.connect_max_ms), "{s:?}");
    }

    #[test]
    fn nothing_opened_reads_as_zeros() {
        assert_eq!(Connects::default().stats(), ConnectionStats::default());
    }
}
