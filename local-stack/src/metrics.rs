//! The in-memory CloudWatch metric store: every emulator records here, the CloudWatch endpoint
//! answers from here. Data is kept per series at 1-second resolution (sum, count, min, max and,
//! for latency metrics, a mergeable histogram), so any period that is a whole number of
//! seconds aggregates exactly.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

/// Identity of a metric: namespace, name and its exact dimension set (sorted by name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId {
    /// e.g. `AWS/Lambda`.
    pub namespace: String,
    /// e.g. `Duration`.
    pub name: String,
    /// `(name, value)` pairs, sorted by name.
    pub dimensions: Vec<(String, String)>,
}

impl MetricId {
    /// Builds an id; dimensions are sorted so order never matters.
    pub fn new(namespace: &str, name: &str, dims: &[(&str, &str)]) -> Self {
        let mut dimensions: Vec<(String, String)> = dims.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        dimensions.sort();
        Self { namespace: namespace.into(), name: name.into(), dimensions }
    }
}

/// One second of one series.
#[derive(Debug, Clone)]
struct Bucket {
    sum: f64,
    count: u64,
    min: f64,
    max: f64,
    /// Values × 1000 (µs when the metric is in ms), 2 significant digits — CloudWatch's own
    /// percentiles are approximate too.
    hist: Option<Histogram<u64>>,
}

impl Bucket {
    fn new(percentiles: bool) -> Self {
        let hist = percentiles.then(|| Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("static bounds"));
        Self { sum: 0.0, count: 0, min: f64::INFINITY, max: f64::NEG_INFINITY, hist }
    }

    fn add(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if let Some(h) = &mut self.hist {
            h.saturating_record((v * 1000.0).round().max(1.0) as u64);
        }
    }

    fn merge(&mut self, other: &Bucket) {
        self.sum += other.sum;
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if let (Some(a), Some(b)) = (&mut self.hist, &other.hist) {
            let _ = a.add(b);
        }
    }
}

#[derive(Debug)]
struct SeriesData {
    percentiles: bool,
    seconds: BTreeMap<i64, Bucket>,
}

/// A handle on one series, for hot paths: recording through it hashes nothing.
#[derive(Debug, Clone)]
pub struct Series(Arc<Mutex<SeriesData>>);

impl Series {
    /// Records `value` now.
    pub fn record(&self, value: f64) {
        self.record_at(now_secs(), value);
    }

    /// Records `value` at `second` (Unix seconds).
    pub fn record_at(&self, second: i64, value: f64) {
        let mut data = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let percentiles = data.percentiles;
        data.seconds.entry(second).or_insert_with(|| Bucket::new(percentiles)).add(value);
    }

    /// Publishes one finished second of a gauge: its average as the sample, and its range.
    fn put_second(&self, second: i64, average: f64, min: f64, max: f64) {
        let mut data = self.0.lock().unwrap_or_else(|p| p.into_inner());
        data.seconds.insert(second, Bucket { sum: average, count: 1, min, max, hist: None });
    }
}

/// A level that changes over time, such as `ConcurrentExecutions`. Each second in which the
/// level was above zero publishes one sample: its time-weighted average (so a period's Average
/// is the mean level over its busy seconds, weighted by time within each), with the highest and
/// lowest level reached as Maximum and Minimum. Seconds spent wholly at zero publish nothing,
/// as CloudWatch has no data points for a function that runs nothing. Sampling the level only
/// when it rises — what the emulator did before — biased Average towards busy moments.
#[derive(Debug, Clone)]
pub struct Gauge {
    series: Series,
    state: Arc<Mutex<GaugeState>>,
}

#[derive(Debug)]
struct GaugeState {
    level: f64,
    /// The second being accumulated, and since when (Unix seconds, fractional) at `level`.
    second: i64,
    since: f64,
    integral: f64,
    max: f64,
    min: f64,
}

impl Gauge {
    fn new(series: Series) -> Gauge {
        let t = now_f64();
        let state = GaugeState { level: 0.0, second: t.floor() as i64, since: t, integral: 0.0, max: 0.0, min: 0.0 };
        Gauge { series, state: Arc::new(Mutex::new(state)) }
    }

    /// Sets the level now.
    pub fn set(&self, level: f64) {
        self.set_at(now_f64(), level);
    }

    /// Sets the level at `t` (Unix seconds, fractional; never earlier than the last call).
    pub fn set_at(&self, t: f64, level: f64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.advance(&mut s, t);
        s.level = level;
        if s.since <= s.second as f64 {
            // At the very start of a second the old level held for no time in it.
            (s.max, s.min) = (level, level);
        } else {
            s.max = s.max.max(level);
            s.min = s.min.min(level);
        }
    }

    /// Publishes every second before `t`.
    pub fn flush_to(&self, t: f64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.advance(&mut s, t);
    }

    fn advance(&self, s: &mut GaugeState, t: f64) {
        let t = t.max(s.since);
        let target = t.floor() as i64;
        while s.second < target {
            let end = (s.second + 1) as f64;
            s.integral += s.level * (end - s.since);
            if s.max > 0.0 {
                self.series.put_second(s.second, s.integral, s.min, s.max);
            }
            s.second += 1;
            s.since = end;
            s.integral = 0.0;
            (s.max, s.min) = (s.level, s.level);
            if s.level == 0.0 {
                // Idle: nothing to publish until the level rises again.
                s.second = target;
                s.since = target as f64;
            }
        }
        s.integral += s.level * (t - s.since);
        s.since = t;
    }
}

/// Current Unix time in seconds, with its fraction.
fn now_f64() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// A CloudWatch statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// Sum.
    Sum,
    /// Average.
    Average,
    /// Minimum.
    Minimum,
    /// Maximum.
    Maximum,
    /// `SampleCount`.
    SampleCount,
    /// `pNN` / `pNN.N`: the percentile (0–100).
    Percentile(f64),
}

impl std::str::FromStr for Stat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "Sum" => Stat::Sum,
            "Average" => Stat::Average,
            "Minimum" => Stat::Minimum,
            "Maximum" => Stat::Maximum,
            "SampleCount" => Stat::SampleCount,
            p if p.starts_with('p') => {
                let q: f64 = p[1..].parse().map_err(|_| format!("unsupported statistic '{s}'"))?;
                if !(0.0..=100.0).contains(&q) {
                    return Err(format!("percentile out of range in '{s}'"));
                }
                Stat::Percentile(q)
            }
            _ => {
                return Err(format!(
                    "unsupported statistic '{s}'; use Sum, Average, Minimum, Maximum, SampleCount or pNN"
                ));
            }
        })
    }
}

/// All metrics of one stack.
#[derive(Debug, Default, Clone)]
pub struct MetricStore {
    series: Arc<Mutex<HashMap<MetricId, Series>>>,
    /// Gauges publish their seconds lazily; a query first brings them up to now.
    gauges: Arc<Mutex<Vec<Gauge>>>,
}

/// Current Unix time in whole seconds.
pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl MetricStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The series for `id`, created on first use. `percentiles` keeps a histogram per second
    /// (set it for latency metrics).
    pub fn series(&self, id: MetricId, percentiles: bool) -> Series {
        let mut map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id)
            .or_insert_with(|| Series(Arc::new(Mutex::new(SeriesData { percentiles, seconds: BTreeMap::new() }))))
            .clone()
    }

    /// A gauge publishing into the series for `id`.
    pub fn gauge(&self, id: MetricId) -> Gauge {
        let g = Gauge::new(self.series(id, false));
        self.gauges.lock().unwrap_or_else(|p| p.into_inner()).push(g.clone());
        g
    }

    /// Records one value now (convenience for cold paths).
    pub fn record(&self, namespace: &str, name: &str, dims: &[(&str, &str)], value: f64) {
        self.series(MetricId::new(namespace, name, dims), false).record(value);
    }

    /// Datapoints of `id` for `stat` in `[start, end)` (Unix seconds), one per `period` seconds
    /// that holds data, counted from `start`; newest first, as CloudWatch's default
    /// `TimestampDescending`.
    pub fn query(&self, id: &MetricId, start: i64, end: i64, period: i64, stat: Stat) -> Vec<(i64, f64)> {
        let now = now_f64();
        for g in self.gauges.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            g.flush_to(now);
        }
        let Some(series) = self.series.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned() else {
            return Vec::new();
        };
        let data = series.0.lock().unwrap_or_else(|p| p.into_inner());
        let period = period.max(1);
        let mut periods: BTreeMap<i64, Bucket> = BTreeMap::new();
        // Buckets start at `start` and step by `period`, as CloudWatch aligns them to the
        // query's StartTime: a query whose period spans the window gets a single datapoint.
        for (second, bucket) in data.seconds.range(start..end) {
            let slot = start + (second - start).div_euclid(period) * period;
            match periods.get_mut(&slot) {
                Some(b) => b.merge(bucket),
                None => {
                    periods.insert(slot, bucket.clone());
                }
            }
        }
        periods
            .into_iter()
            .rev()
            .filter_map(|(t, b)| {
                let v = match stat {
                    Stat::Sum => b.sum,
                    Stat::Average => b.sum / b.count as f64,
                    Stat::Minimum => b.min,
                    Stat::Maximum => b.max,
                    Stat::SampleCount => b.count as f64,
                    // Percentiles exist only for series that keep histograms, as CloudWatch
                    // answers no percentile for a metric published without distributions.
                    Stat::Percentile(q) => b.hist.as_ref()?.value_at_quantile(q / 100.0) as f64 / 1000.0,
                };
                Some((t, v))
            })
            .collect()
    }

    /// Every metric id matching the filters (a dimension filter with no value matches any).
    pub fn list(
        &self,
        namespace: Option<&str>,
        name: Option<&str>,
        dims: &[(String, Option<String>)],
    ) -> Vec<MetricId> {
        let map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<MetricId> = map
            .keys()
            .filter(|id| namespace.is_none_or(|n| id.namespace == n))
            .filter(|id| name.is_none_or(|n| id.name == n))
            .filter(|id| {
                dims.iter()
                    .all(|(k, v)| id.dimensions.iter().any(|(dk, dv)| dk == k && v.as_ref().is_none_or(|v| v == dv)))
            })
            .cloned()
            .collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_over_periods() {
        let store = MetricStore::new();
        let id = MetricId::new("AWS/Lambda", "Duration", &[("FunctionName", "f")]);
        let s = store.series(id.clone(), true);
        for (t, v) in [(120, 1.0), (121, 3.0), (150, 5.0), (181, 10.0)] {
            s.record_at(t, v);
        }
        assert_eq!(store.query(&id, 0, 1000, 60, Stat::Sum), vec![(180, 10.0), (120, 9.0)]);
        assert_eq!(store.query(&id, 0, 1000, 60, Stat::SampleCount), vec![(180, 1.0), (120, 3.0)]);
        assert_eq!(store.query(&id, 0, 1000, 60, Stat::Average)[1], (120, 3.0));
        assert_eq!(store.query(&id, 0, 1000, 60, Stat::Maximum)[1], (120, 5.0));
        assert_eq!(store.query(&id, 0, 1000, 60, Stat::Minimum)[1], (120, 1.0));
        assert_eq!(store.query(&id, 0, 1000, 1, Stat::Sum).len(), 4);
        assert_eq!(store.query(&id, 121, 151, 1, Stat::Sum), vec![(150, 5.0), (121, 3.0)], "end is exclusive");
        let p50 = store.query(&id, 0, 1000, 60, "p50".parse().unwrap())[1].1;
        assert!((2.9..=3.1).contains(&p50), "{p50}");
        let other = MetricId::new("AWS/Lambda", "Duration", &[("FunctionName", "g")]);
        assert!(store.query(&other, 0, 1000, 60, Stat::Sum).is_empty(), "dimensions must match exactly");
    }

    #[test]
    fn a_gauge_is_averaged_over_time_and_idle_seconds_publish_nothing() {
        let store = MetricStore::new();
        let id = MetricId::new("AWS/Lambda", "ConcurrentExecutions", &[("FunctionName", "f")]);
        let g = store.gauge(id.clone());
        let t0 = now_f64().floor() + 1.0;
        // One environment busy for 1.5 s, then idle; a second one for the first quarter second.
        g.set_at(t0, 1.0);
        g.set_at(t0 + 0.25, 2.0);
        g.set_at(t0 + 0.5, 1.0);
        g.set_at(t0 + 1.5, 0.0);
        g.flush_to(t0 + 5.0);
        let s = t0 as i64;
        let at = |stat| store.query(&id, s, s + 5, 1, stat);
        assert_eq!(at(Stat::Maximum), vec![(s + 1, 1.0), (s, 2.0)]);
        assert_eq!(at(Stat::Minimum), vec![(s + 1, 0.0), (s, 1.0)]);
        assert_eq!(at(Stat::Average), vec![(s + 1, 0.5), (s, 1.25)], "time-weighted within each second");
        assert_eq!(store.query(&id, s, s + 5, 5, Stat::SampleCount), vec![(s, 2.0)], "idle seconds publish nothing");
        assert_eq!(store.query(&id, s, s + 5, 5, Stat::Average), vec![(s, 0.875)]);
    }

    #[test]
    fn percentiles_only_where_histograms_are_kept() {
        let store = MetricStore::new();
        store.record("AWS/Lambda", "Invocations", &[("FunctionName", "f")], 1.0);
        let id = MetricId::new("AWS/Lambda", "Invocations", &[("FunctionName", "f")]);
        assert!(store.query(&id, 0, i64::MAX, 60, Stat::Percentile(99.0)).is_empty());
        assert_eq!(store.query(&id, 0, i64::MAX, 60, Stat::Sum).len(), 1);
    }

    #[test]
    fn stat_names_parse() {
        assert_eq!("p99".parse::<Stat>(), Ok(Stat::Percentile(99.0)));
        assert_eq!("p99.9".parse::<Stat>(), Ok(Stat::Percentile(99.9)));
        assert!("p101".parse::<Stat>().is_err());
        assert!("tm99".parse::<Stat>().is_err());
    }

    #[test]
    fn list_filters() {
        let store = MetricStore::new();
        store.record("AWS/DynamoDB", "ConsumedReadCapacityUnits", &[("TableName", "t")], 1.0);
        store.record("AWS/DynamoDB", "ThrottledRequests", &[("TableName", "t"), ("Operation", "GetItem")], 1.0);
        store.record("AWS/Lambda", "Invocations", &[("FunctionName", "f")], 1.0);
        assert_eq!(store.list(Some("AWS/DynamoDB"), None, &[]).len(), 2);
        assert_eq!(store.list(None, None, &[("Operation".into(), None)]).len(), 1);
        assert_eq!(store.list(None, None, &[("TableName".into(), Some("x".into()))]).len(), 0);
    }
}
