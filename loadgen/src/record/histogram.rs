//! The latency histograms and the one way they are read back. Everything is recorded in
//! microseconds (1 µs – 60 s, 3 significant digits) and shown in milliseconds; every reader of a
//! histogram goes through these functions, so a percentile means the same thing everywhere.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};

/// Highest latency recorded, µs (60 s); larger values saturate.
pub const MAX_US: u64 = 60_000_000;

/// A new, empty latency histogram in µs with 3 significant digits.
pub fn new() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("static bounds")
}

/// A histogram with 2 significant digits, for the per-second series: a second's percentiles
/// are drawn, not gated, and the smaller histogram keeps long runs light.
pub fn coarse() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 2).expect("static bounds")
}

/// Microseconds as milliseconds.
pub fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The value at quantile `q` (0–1), ms (0 for an empty histogram).
pub fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    us_to_ms(h.value_at_quantile(q))
}

/// The largest value, ms.
pub fn max_ms(h: &Histogram<u64>) -> f64 {
    us_to_ms(h.max())
}

/// The smallest value, ms.
pub fn min_ms(h: &Histogram<u64>) -> f64 {
    us_to_ms(h.min())
}

/// The mean, ms.
pub fn mean_ms(h: &Histogram<u64>) -> f64 {
    h.mean() / 1000.0
}

/// A statistic as thresholds name it: a percentile from 0 to 100 (100 is the maximum, 0 the
/// minimum) or, with `None`, the mean; `None` when nothing was recorded.
pub fn statistic_ms(h: &Histogram<u64>, percentile: Option<f64>) -> Option<f64> {
    if h.is_empty() {
        return None;
    }
    Some(match percentile {
        None => mean_ms(h),
        Some(p) if p >= 100.0 => max_ms(h),
        Some(p) if p <= 0.0 => min_ms(h),
        Some(p) => quantile_ms(h, p / 100.0),
    })
}

/// V2 deflate + base64 of a histogram: the encoding of results.json's cells and of a fleet
/// worker's partial results, which any HdrHistogram library decodes.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    let _ = V2DeflateSerializer::new().serialize(h, &mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decodes [`encode`]'s output.
pub fn decode(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
    hdrhistogram::serialization::Deserializer::new().deserialize(&mut bytes.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_read_in_milliseconds() {
        let mut h = new();
        for v in [1_000u64, 2_000, 3_000, 4_000] {
            h.record(v).unwrap();
        }
        let at = |p| statistic_ms(&h, p).unwrap();
        // Within HdrHistogram's 3 significant digits.
        for (p, want) in [(Some(100.0), 4.0), (Some(0.0), 1.0), (None, 2.5), (Some(50.0), 2.0)] {
            assert!((at(p) - want).abs() < want * 0.001, "{p:?}: {} vs {want}", at(p));
        }
        assert_eq!(statistic_ms(&new(), Some(50.0)), None, "nothing measured is not zero");
    }
}
