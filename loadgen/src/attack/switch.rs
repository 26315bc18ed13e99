//! Stopping a run: one switch that every stage can throw (a signal, a failing `abort_on_fail`
//! threshold, a dead target) and every loop watches. The first reason wins and is kept.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::record::{Signal, Stop};

/// The run's stop switch; clones share it.
#[derive(Clone)]
pub struct StopSwitch {
    tx: Arc<watch::Sender<bool>>,
    reason: Arc<Mutex<Option<Stop>>>,
    /// A second signal: stop waiting for what is in flight, now.
    hurry: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for StopSwitch {
    fn default() -> Self {
        Self::new()
    }
}

impl StopSwitch {
    /// A switch that has not been thrown.
    pub fn new() -> Self {
        StopSwitch { tx: Arc::new(watch::channel(false).0), reason: Arc::new(Mutex::new(None)), hurry: Arc::default() }
    }

    /// Stops the run for `why`, unless it was already stopped for another reason.
    pub fn stop(&self, why: Stop) {
        self.reason.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(why);
        self.tx.send_replace(true);
    }

    /// Stops the run's loops without a reason: the planned end, after the last phase.
    pub fn finish(&self) {
        self.tx.send_replace(true);
    }

    /// Why the run was stopped early, if it was.
    pub fn reason(&self) -> Option<Stop> {
        self.reason.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Asks the run to stop waiting for requests in flight (a second signal): it writes what
    /// it has at once.
    pub fn hurry(&self) {
        self.hurry.store(true, std::sync::atomic::Ordering::SeqCst);
        self.tx.send_replace(true);
    }

    /// Returns once [`StopSwitch::hurry`] is called.
    pub async fn hurried(&self) {
        let mut rx = self.watch();
        while !self.is_hurried() {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Whether [`StopSwitch::hurry`] was called.
    pub fn is_hurried(&self) -> bool {
        self.hurry.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// True once thrown (or finished).
    pub fn is_stopped(&self) -> bool {
        *self.tx.borrow()
    }

    /// A receiver to wait on.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }

    /// Returns once the switch is thrown.
    pub async fn stopped(&self) {
        let mut rx = self.watch();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Waits for Ctrl-C or SIGTERM and throws the switch; every later one hurries it: no more
/// waiting for requests in flight, nor for the CloudWatch pull after the phases (which may poll
/// for minutes on AWS). Exiting outright would leave the local stack's processes behind.
pub async fn on_signal(switch: StopSwitch) {
    let which = next_signal().await;
    switch.stop(Stop::Signal(which));
    loop {
        next_signal().await;
        switch.hurry();
    }
}

/// The next Ctrl-C or SIGTERM.
pub async fn next_signal() -> Signal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    Signal::Interrupt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_first_reason_wins() {
        let s = StopSwitch::new();
        assert!(!s.is_stopped() && s.reason().is_none());
        s.stop(Stop::TargetDead);
        s.stop(Stop::Signal(Signal::Interrupt));
        s.stopped().await;
        assert_eq!(s.reason(), Some(Stop::TargetDead));
        let done = StopSwitch::new();
        done.finish();
        assert!(done.is_stopped() && done.reason().is_none(), "the planned end is no abort");
    }
}
