//! How many arrivals the plan's schedule means to send in a stretch of the run: what the live
//! view sets against what was sent in the same second, so a phase change or a ramp's step never
//! shows one second's sends against another's rate.

use super::{Load, Phase, Plan};

impl Load {
    /// Arrivals scheduled between `a` and `b` seconds into a phase of `duration` seconds (the
    /// integral of its rate), or `None` for a closed model, which has no schedule.
    pub fn arrivals_between(&self, a: f64, b: f64, duration: f64) -> Option<f64> {
        let (a, b) = (a.clamp(0.0, duration), b.clamp(0.0, duration));
        if b <= a {
            return self.mean_rate().map(|_| 0.0);
        }
        match self {
            Load::Constant { rate } => Some(rate * (b - a)),
            // The mean of a linear rate over [a, b] is its rate at the middle.
            Load::Ramp { from, to } => Some((from + (to - from) * (a + b) / 2.0 / duration) * (b - a)),
            Load::Steps { rates } => {
                let step = duration / rates.len() as f64;
                Some(
                    rates
                        .iter()
                        .enumerate()
                        .map(|(i, r)| {
                            let (s, e) = (i as f64 * step, (i + 1) as f64 * step);
                            r * (b.min(e) - a.max(s)).max(0.0)
                        })
                        .sum(),
                )
            }
            Load::Closed { .. } => None,
        }
    }
}

impl Plan {
    /// The phase running `t` seconds into the measured phases (the last one past their end).
    pub fn phase_at(&self, t: f64) -> Option<(usize, &Phase)> {
        let mut start = 0.0;
        for (i, p) in self.phases.iter().enumerate() {
            let end = start + p.duration.as_secs_f64();
            if t < end || i + 1 == self.phases.len() {
                return Some((i, p));
            }
            start = end;
        }
        None
    }

    /// Arrivals every phase's schedule means to send between `a` and `b` seconds into the
    /// measured phases, or `None` when a closed-model phase runs in that stretch.
    pub fn scheduled_between(&self, a: f64, b: f64) -> Option<f64> {
        let mut start = 0.0;
        let mut total = 0.0;
        for p in &self.phases {
            let d = p.duration.as_secs_f64();
            if a < start + d && b > start {
                total += p.load.arrivals_between(a - start, b - start, d)?;
            }
            start += d;
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_across_a_phase_change_counts_each_phase_at_its_own_rate() {
        let phases = [
            ("spike", "15s", "rate = 300"),
            ("recovery", "15s", "rate = 30"),
            ("ramp", "10s", "ramp = { from = 0, to = 100 }"),
            ("steps", "20s", "steps = [20, 320]"),
            ("closed", "5s", "users = 2"),
        ];
        let mut text = String::from("name = \"n\"\n[data]\nitems = 0\n");
        for (name, d, load) in phases {
            text.push_str(&format!("[[phase]]\nname = \"{name}\"\nduration = \"{d}\"\n{load}\n"));
        }
        text.push_str("[[request]]\nname = \"r\"\npath = \"/\"\n");
        let plan = Plan::from_str(std::path::Path::new("n.toml"), &text, &|_| None).unwrap();
        assert_eq!(plan.scheduled_between(14.0, 15.0), Some(300.0));
        assert_eq!(plan.scheduled_between(15.0, 16.0), Some(30.0), "the second after the change: recovery's");
        assert_eq!(plan.scheduled_between(14.5, 15.5), Some(165.0));
        assert_eq!(plan.scheduled_between(30.0, 31.0), Some(5.0), "a ramp from 0 to 100 over 10 s: 5 in its first");
        assert_eq!(plan.scheduled_between(39.0, 40.0), Some(95.0));
        assert_eq!(plan.scheduled_between(40.0, 41.0), Some(20.0), "the first step");
        assert_eq!(plan.scheduled_between(50.0, 51.0), Some(320.0), "the second step");
        assert_eq!(plan.scheduled_between(60.0, 61.0), None, "a closed model has no schedule");
        assert_eq!(plan.phase_at(15.0).map(|(i, _)| i), Some(1));
        assert_eq!(plan.phase_at(99.0).map(|(i, _)| i), Some(4), "past the end: the last phase");
    }
}
