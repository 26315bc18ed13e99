//! The dispatcher's wake-ups, to well under a millisecond. tokio's timer has 1 ms ticks and
//! rounds deadlines up, and the wait it hands to `epoll_wait` is rounded up to a whole
//! millisecond again, so a send due 0.3 ms from now could leave up to ~1.7 ms late; at a
//! few thousand requests per second that was most of the scheduling lag. On Linux a timerfd
//! (nanosecond deadline, registered with tokio's reactor like any socket) wakes the dispatcher
//! on time; elsewhere, or if the timerfd cannot be made, tokio's timer is used, aimed half a
//! tick early so the wake-up lands within about ±0.5 ms.

use std::time::{Duration, Instant};

/// Half of tokio's 1 ms tick: how early the fallback aims.
const HALF_TICK: Duration = Duration::from_micros(500);

/// Sends due within this much of a wake-up go out with it. Waking for every send costs a
/// context switch each, and on a virtual machine an idle core's wake-up is the dearest thing
/// a request does; a window bounds the timer's wake-ups to about one per window, at the price
/// of sends at most this early (never credited: latency is then measured from the actual
/// send). Measured at 10,000 req/s against a 10 ms server: 49 µs of CPU per request with no
/// window, 27 µs with 250 µs, 23 µs with 500 µs; at 2,000 req/s, 0.5 ms → 0.9 ms halved the
/// voluntary context switches (22,000 → 11,000 in 10 s, wrk2's count: its timers have whole
/// milliseconds) and took CPU per request from 1.35× wrk2's to 1.25× (`bench/generators.py`).
/// Under 1 ms, so scheduling lag p99 stays under 1 ms.
pub const WINDOW: Duration = Duration::from_micros(900);

/// A re-armable one-shot wake-up.
pub struct Wake {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<rustix::fd::OwnedFd>>,
    /// The deadline the timerfd is armed for, so re-polling does not re-arm it.
    #[cfg(target_os = "linux")]
    armed: Option<Instant>,
}

impl Default for Wake {
    fn default() -> Self {
        Self::new()
    }
}

impl Wake {
    /// A wake-up source; must be created inside the tokio runtime.
    pub fn new() -> Wake {
        #[cfg(target_os = "linux")]
        {
            use rustix::time::{TimerfdClockId, TimerfdFlags, timerfd_create};
            // tokio 1.54 deprecates the safe constructor because an arbitrary `AsRawFd` could
            // change its descriptor; an `OwnedFd` cannot, which is the whole safety condition
            // of the `unsafe` replacement — and this workspace forbids `unsafe`.
            #[allow(deprecated)]
            let fd = timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC)
                .ok()
                .and_then(|fd| tokio::io::unix::AsyncFd::with_interest(fd, tokio::io::Interest::READABLE).ok());
            Wake { fd, armed: None }
        }
        #[cfg(not(target_os = "linux"))]
        Wake {}
    }

    /// True when wake-ups are sub-millisecond (the timerfd is in use).
    pub fn precise(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.fd.is_some();
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Returns at `at` (or at once if it has passed). With the fallback timer it may return up
    /// to half a tick early; callers measure from the actual send, so early is never credited.
    pub async fn until(&mut self, at: Instant) {
        if at <= Instant::now() {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            if self.armed != Some(at) {
                let left = at.saturating_duration_since(Instant::now());
                let spec = rustix::time::Itimerspec {
                    it_interval: rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 },
                    it_value: rustix::time::Timespec {
                        tv_sec: left.as_secs() as i64,
                        // A zero value would disarm the timer: wake at least 1 ns from now.
                        tv_nsec: i64::from(left.subsec_nanos()).max(i64::from(left.as_secs() == 0)),
                    },
                };
                if rustix::time::timerfd_settime(fd.get_ref(), rustix::time::TimerfdTimerFlags::empty(), &spec).is_err()
                {
                    return tokio::time::sleep_until(at.into()).await;
                }
                self.armed = Some(at);
            }
            loop {
                let Ok(mut ready) = fd.readable().await else {
                    return tokio::time::sleep_until(at.into()).await;
                };
                let mut buf = [0u8; 8];
                // Consumes the expiration; WouldBlock means the readiness was stale.
                let fired = matches!(rustix::io::read(fd.get_ref(), &mut buf), Ok(8));
                ready.clear_ready();
                if fired || Instant::now() >= at {
                    self.armed = None;
                    return;
                }
            }
        }
        tokio::time::sleep_until(at.checked_sub(HALF_TICK).unwrap_or(at).into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn wakes_on_time_and_rearms() {
        let mut w = Wake::new();
        #[cfg(target_os = "linux")]
        assert!(w.precise(), "timerfd is available on Linux");
        for _ in 0..3 {
            let at = Instant::now() + Duration::from_micros(1_300);
            w.until(at).await;
            let now = Instant::now();
            if w.precise() {
                assert!(now >= at, "the timerfd never wakes early");
            }
            assert!(now + HALF_TICK >= at, "never more than half a tick early");
        }
        // A deadline that has passed returns at once.
        let before = Instant::now();
        w.until(before - Duration::from_millis(1)).await;
        assert!(before.elapsed() < Duration::from_millis(50));
    }
}
