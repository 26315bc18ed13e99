//! The generator's own CPU time, so a run can say what measuring cost.

/// CPU time of this process (user + system), s; 0 where `/proc` is not available. Read from
/// Linux's `/proc/self/stat`, whose times are in clock ticks of `USER_HZ` = 100.
pub fn seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(") ")?.1.split_whitespace().collect::<Vec<_>>();
            let utime: f64 = rest.get(11)?.parse().ok()?;
            let stime: f64 = rest.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_grows_with_work() {
        let before = super::seconds();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(80) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        #[cfg(target_os = "linux")]
        assert!(super::seconds() > before, "80 ms of spinning shows in /proc");
    }
}
