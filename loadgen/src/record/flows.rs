//! What each flow's instances came to: how many started, completed, or ended at a step that
//! got no response or whose capture found nothing; and how long the completed ones took, from
//! the arrival's intended time to the last step's response (think time included, as a user
//! lives it).

use hdrhistogram::Histogram;

use super::histogram as hist;

/// One flow's instances.
#[derive(Debug, Clone)]
pub struct FlowSum {
    /// Instances started (arrivals that drew this flow).
    pub started: u64,
    /// Instances whose every step was sent and answered (whatever the statuses).
    pub completed: u64,
    /// Instances ended by a step that got no response (a timeout, a transport error) or whose
    /// capture failed (counted in that step's checks too).
    pub failed: u64,
    /// Durations of the completed instances, µs.
    pub duration: Histogram<u64>,
}

impl Default for FlowSum {
    fn default() -> Self {
        FlowSum { started: 0, completed: 0, failed: 0, duration: hist::new() }
    }
}

impl FlowSum {
    /// Instances neither completed nor failed: cut by the run's end, a stop, or a closed
    /// phase's end.
    pub fn cut(&self) -> u64 {
        self.started.saturating_sub(self.completed + self.failed)
    }
}
