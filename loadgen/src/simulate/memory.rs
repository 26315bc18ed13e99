//! What memory buys: Lambda gives an environment CPU in proportion to its memory (one vCPU at
//! 1,769 MB), so the CPU-bound part of a handler's time stretches or shrinks with the memory and
//! the rest (waiting on DynamoDB, the network) does not.
//!
//! The model: of the calibrating run's mean handler duration `d`, the part `c / s` was CPU work
//! — `c` the mean CPU time per invocation (Lambda Insights' `cpu_total_time`), `s` the share of
//! a core it ran at — so the CPU-bound fraction is `f = c / (s d)`, at most 1. At memory `m`
//! every duration is multiplied by `1 - f + f s / s(m)`, `s(m) = min(m / 1769, 1)`.
//!
//! Doubts, stated where the figures are shown: the fraction is one number for every request
//! (a request kind that is all CPU and another that is all waiting get the mix's average);
//! above one vCPU a single-threaded handler gains nothing, which the cap assumes — a
//! multi-threaded one would; INIT is left as measured (AWS does not document how INIT's CPU
//! scales with memory).

use local_stack::rules;

use crate::results::calibration::CpuCalibration;

/// The smallest and largest memory AWS allows, MB.
pub const MEMORY_MB: (u32, u32) = (128, 10_240);

/// How durations scale with memory for one calibrated function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuModel {
    /// Share of a core the durations were measured at (capped at one).
    pub share: f64,
    /// CPU-bound fraction of the mean duration, 0 to 1.
    pub fraction: f64,
}

impl CpuModel {
    /// The model for CPU time `cpu` per invocation and a mean handler duration, s.
    pub fn new(cpu: &CpuCalibration, mean_duration_s: f64) -> CpuModel {
        let share = cpu.share.clamp(1e-3, 1.0);
        let fraction = if mean_duration_s > 0.0 { cpu.mean_ms / 1e3 / share / mean_duration_s } else { 0.0 };
        CpuModel { share, fraction: fraction.clamp(0.0, 1.0) }
    }

    /// What every handler duration is multiplied by at `memory_mb`.
    pub fn factor(&self, memory_mb: u32) -> f64 {
        let s = rules::cpu_share(memory_mb).min(1.0);
        1.0 - self.fraction + self.fraction * self.share / s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(share: f64, mean_ms: f64) -> CpuCalibration {
        CpuCalibration { source: String::new(), share, invocations: 100, mean_ms }
    }

    #[test]
    fn only_the_cpu_bound_part_scales() {
        // 10 ms handlers at 1,769 MB, 4 ms of them CPU: at 884.5 MB the CPU part doubles.
        let m = CpuModel::new(&cpu(1.0, 4.0), 0.010);
        assert!((m.fraction - 0.4).abs() < 1e-12);
        assert!((m.factor(1769) - 1.0).abs() < 1e-12);
        let half = m.factor(1769 / 2);
        assert!((half - 1.4).abs() < 0.01, "{half}");
        // Beyond one vCPU a single-threaded handler gains nothing.
        assert!((m.factor(3538) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_run_at_a_small_share_says_how_much_more_memory_buys() {
        // Measured at 256 MB (0.145 of a core): 1 ms of CPU took ~6.9 ms of a 10 ms handler.
        let share = rules::cpu_share(256);
        let m = CpuModel::new(&cpu(share, 1.0), 0.010);
        assert!((m.fraction - 0.691).abs() < 0.01, "{}", m.fraction);
        let at_1769 = m.factor(1769);
        assert!((at_1769 * 10.0 - (10.0 - 6.91 + 1.0)).abs() < 0.05, "{at_1769}");
        assert!((m.factor(256) - 1.0).abs() < 1e-12, "the calibrating memory changes nothing");
        // CPU time beyond the duration (a measurement glitch) is capped: all of it CPU.
        assert_eq!(CpuModel::new(&cpu(1.0, 50.0), 0.010).fraction, 1.0);
        assert_eq!(CpuModel::new(&cpu(1.0, 1.0), 0.0).fraction, 0.0);
    }
}
