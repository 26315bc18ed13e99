//! A request kind's handler durations from what its client waited: ranked among every kind's
//! ok latencies and mapped onto the REPORT lines' durations at the same rank.

use hdrhistogram::Histogram;

/// Each kind's latencies mapped rank for rank onto `durations`: a latency at quantile q of
/// every kind's latencies together becomes the duration at quantile q (the midpoint of its
/// bucket's counts). `None` when either side is empty.
pub(super) fn ranked_onto(kinds: &[&Histogram<u64>], durations: &Histogram<u64>) -> Option<Vec<Histogram<u64>>> {
    let mut all = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
    for k in kinds {
        // Same bounds: adding cannot fail.
        let _ = all.add(*k);
    }
    if all.is_empty() || durations.is_empty() {
        return None;
    }
    let total = all.len() as f64;
    Some(
        kinds
            .iter()
            .map(|k| {
                let mut out = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
                for v in k.iter_recorded() {
                    let value = v.value_iterated_to();
                    let below = all.count_between(0, all.lowest_equivalent(value).saturating_sub(1)) as f64;
                    let here = all.count_at(value) as f64;
                    let q = ((below + here / 2.0) / total).clamp(0.0, 1.0);
                    out.saturating_record_n(durations.value_at_quantile(q).max(1), v.count_at_value());
                }
                out
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_take_the_report_durations_at_their_ranks_not_their_clients_tails() {
        let h = |pairs: &[(u64, u64)]| {
            let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
            pairs.iter().for_each(|(v, n)| h.record_n(*v, *n).unwrap());
            h
        };
        // The slow kind's two cold starts waited 300 ms at the client; the REPORT lines never
        // held an environment past 96 ms.
        let fast = h(&[(8_000, 100)]);
        let slow = h(&[(105_000, 98), (300_000, 2)]);
        let report = h(&[(4_000, 100), (95_000, 96), (96_000, 4)]);
        let mapped = ranked_onto(&[&fast, &slow], &report).unwrap();
        assert!(mapped[0].max() < 4_100, "{}", mapped[0].max());
        assert!(mapped[1].min() >= 94_900 && mapped[1].max() < 96_200, "{} {}", mapped[1].min(), mapped[1].max());
    }
}
