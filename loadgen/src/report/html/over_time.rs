//! report.html's charts: latency percentiles, throughput by class, concurrency against the
//! reserved limit, cold starts — over time — and the whole run's latency by percentile.

use crate::report::charts::{self, Line};
use crate::report::page::{Chart, Section};
use crate::results::{CloudWatchSource, Results};

/// The five charts.
pub(super) fn section(r: &Results) -> Section {
    let m = super::marks(r);
    let k = charts::bucket_seconds(r.series.len());
    let per = if k == 1 { "each point is one second".to_owned() } else { format!("each point covers {k} s") };
    let mut s = Section { id: "charts", heading: "Over time".into(), ..Section::default() };
    s.charts.push(Chart {
        id: "chart-latency",
        title: "Latency of the ok responses over time".into(),
        read: format!(
            "corrected latency of the ok responses that completed in each second ({per}; the highest value in each \
             bucket); the grey dashed line is the p99 of every other response (throttles, errors), apart so a flood of \
             fast refusals cannot read as a faster API. A p99 that climbs while the rate is flat means queueing; a \
             jump at a phase line is the new load."
        ),
        svg: charts::latency_over_time(&r.series, &m),
    });
    s.charts.push(Chart {
        id: "chart-throughput",
        title: "Throughput by outcome class".into(),
        read: format!(
            "completions per second stacked by class ({per}); the dashed line is what was sent. \
             Throttle colours appearing above the green band show which layer said no and when."
        ),
        svg: charts::throughput_by_class(&r.series, &m),
    });
    let cw = r.cloudwatch.as_ref().map(|c| c.concurrency_series.as_slice()).unwrap_or(&[]);
    let reserved = r.reserved_concurrency().filter(|v| *v > 0.0);
    s.charts.push(Chart {
        id: "chart-concurrency",
        title: "Concurrency against the reserved limit".into(),
        read: format!(
            "requests in flight at the client and Lambda's concurrent executions from CloudWatch{} against the \
             reserved-concurrency line. Executions pinned at the line while requests keep arriving is where \
             Lambda throttles.",
            match r.cloudwatch.as_ref().map(|c| c.source) {
                Some(CloudWatchSource::Aws) => " (one point per minute: AWS's finest period for this metric)",
                Some(CloudWatchSource::LocalStack) => " (per second)",
                None => " (not pulled in this run)",
            }
        ),
        svg: charts::concurrency(&r.series, cw, reserved, &m),
    });
    s.charts.push(Chart {
        id: "chart-cold-starts",
        title: "Cold starts over time".into(),
        read: format!(
            "responses that paid a Lambda INIT{}. Bursts follow scale-out (a spike) and idle expiry; a steady \
             trickle under flat load means environments are being recycled.",
            if r.totals.cold_starts == 0 { " (none in this run: every environment was already warm)" } else { "" }
        ),
        svg: charts::cold_starts(&r.series, &m),
    });
    let ok = |c: &crate::results::HistogramCell| c.class == crate::record::Class::Ok;
    let lines = match (r.merged(ok), r.merged(|c| !ok(c))) {
        (Ok((lat, svc)), Ok((other, _))) => {
            let mut lines = vec![
                Line {
                    label: "ok, corrected".into(),
                    points: charts::distribution_points(&lat),
                    dashed: false,
                    colour: 0,
                },
                Line {
                    label: "ok, service time".into(),
                    points: charts::distribution_points(&svc),
                    dashed: true,
                    colour: 1,
                },
            ];
            if !other.is_empty() {
                lines.push(Line {
                    label: "not ok, corrected".into(),
                    points: charts::distribution_points(&other),
                    dashed: true,
                    colour: 6,
                });
            }
            lines
        }
        (Err(e), _) | (_, Err(e)) => {
            s.notes.push(format!("The percentile distribution is missing: {e}."));
            Vec::new()
        }
    };
    s.charts.push(Chart {
        id: "chart-distribution",
        title: "Latency by percentile".into(),
        read: "every percentile of the whole run's ok responses from the exact histograms, on HdrHistogram's 1/(1-q) \
               axis so the tail gets as much room as the median. The gap between the ok lines is time spent waiting \
               to be sent (coordinated omission, had it not been corrected); the grey line is every other response."
            .into(),
        svg: charts::distribution(&lines),
    });
    s
}
