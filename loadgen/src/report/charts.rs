//! The report's charts as inline SVG, drawn with plotters' SVG backend: pure functions of the
//! results document (no fonts, no clock, no randomness), so the same input gives the same bytes.
//! plotters escapes the text it writes, so scenario strings (phase names) are safe in labels.

use hdrhistogram::Histogram as HdrHistogram;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart_frame::{Entry, LIMIT, Swatch, TIME_AXIS, clock, draw_lines, draw_marks, linear_frame, svg};
pub use super::chart_frame::{Line, Mark, PALETTE};
use crate::record::histogram::us_to_ms;
use crate::record::{ALL, Class, Second};

/// Time series longer than this are bucketed, so a 1-hour run stays a light page: no chart
/// is wider than this many pixels of plot anyway.
pub const MAX_POINTS: usize = 900;

/// Outcome class colours (in [`ALL`] order), from the palette: ok green, client errors grey,
/// API Gateway orange, Lambda yellow, function errors vermilion, DynamoDB pink, timeouts a red
/// outside the palette, transport errors blue.
fn class_colour(i: usize) -> RGBColor {
    match i {
        6 => RGBColor(180, 30, 30),
        _ => PALETTE[[2, 6, 1, 7, 3, 4, 0, 0][i % 8]],
    }
}

/// Seconds per point so that `n` seconds fit in [`MAX_POINTS`].
pub fn bucket_seconds(n: usize) -> usize {
    n.div_ceil(MAX_POINTS).max(1)
}

/// Buckets the series by `k` seconds, reducing each field with `f`.
fn bucketed(series: &[Second], k: usize, f: impl Fn(&[Second]) -> f64) -> Vec<(f64, f64)> {
    series.chunks(k).map(|c| (c[0].t as f64, f(c))).collect()
}

fn max_of(c: &[Second], g: impl Fn(&Second) -> f64) -> f64 {
    c.iter().map(g).fold(0.0, f64::max)
}

fn entries(lines: &[Line]) -> Vec<Entry> {
    lines.iter().map(Entry::of).collect()
}

/// Latency lines over time on a log axis when they span more than 30×, else linear.
pub fn time_lines(x_max: f64, y_desc: &str, lines: &[Line], marks: &[Mark]) -> String {
    svg(&entries(lines), |root| {
        let y_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max);
        let y_pos_min =
            lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        if y_pos_min.is_finite() && y_max / y_pos_min > 30.0 {
            let y = (y_pos_min * 0.8, y_max * 1.25);
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .margin_top(38)
                .x_label_area_size(36)
                .y_label_area_size(64)
                .build_cartesian_2d(0.0..x_max.max(1.0), (y.0..y.1).log_scale())?;
            chart
                .configure_mesh()
                .x_desc(TIME_AXIS)
                .x_label_formatter(&|x| clock(*x))
                .y_desc(y_desc)
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            draw_marks(root, &mut chart, marks, y)?;
            draw_lines(&mut chart, lines)
        } else {
            let top = (y_max * 1.15).max(1.0);
            let mut chart = linear_frame(root, x_max, top, y_desc)?;
            draw_marks(root, &mut chart, marks, (0.0, top))?;
            draw_lines(&mut chart, lines)
        }
    })
}

/// Reads one figure of a second.
type Field = fn(&Second) -> f64;

/// Corrected latency p50/p90/p99/max of the ok responses per second, and the p99 of every other
/// response as a grey dashed line (bucketed: the max of each field, so a short spike is never
/// averaged away).
pub fn latency_over_time(series: &[Second], marks: &[Mark]) -> String {
    let k = bucket_seconds(series.len());
    let fields: [(&str, Field); 4] =
        [("p50", |s| s.p50_ms), ("p90", |s| s.p90_ms), ("p99", |s| s.p99_ms), ("max", |s| s.max_ms)];
    let mut lines: Vec<Line> = fields
        .iter()
        .enumerate()
        .map(|(i, (label, g))| Line {
            label: format!("ok {label}"),
            points: bucketed(series, k, |c| max_of(c, g)).into_iter().filter(|p| p.1 > 0.0).collect(),
            dashed: false,
            colour: i,
        })
        .collect();
    let other: Vec<(f64, f64)> =
        bucketed(series, k, |c| max_of(c, |s| s.other_p99_ms)).into_iter().filter(|p| p.1 > 0.0).collect();
    if !other.is_empty() {
        lines.push(Line { label: "not ok p99".into(), points: other, dashed: true, colour: 6 });
    }
    time_lines(series.len() as f64, "latency, ms", &lines, marks)
}

/// Completed requests per second by outcome class, stacked (bucketed: the mean rate).
pub fn throughput_by_class(series: &[Second], marks: &[Mark]) -> String {
    let k = bucket_seconds(series.len());
    let present: Vec<usize> = (0..ALL.len()).filter(|i| series.iter().any(|s| s.completed[ALL[*i]] > 0)).collect();
    let sent_style = RGBColor(40, 40, 40);
    let mut legend: Vec<Entry> = present
        .iter()
        .rev()
        .map(|&i| Entry { label: ALL[i].name().into(), colour: class_colour(i), swatch: Swatch::Fill })
        .collect();
    legend.push(Entry { label: "sent".into(), colour: sent_style, swatch: Swatch::Dashed });
    svg(&legend, |root| {
        // Cumulative stacks: layer j is the sum of the first j+1 present classes.
        let stacks: Vec<Vec<(f64, f64)>> = (0..present.len())
            .map(|j| {
                bucketed(series, k, |c| {
                    c.iter()
                        .map(|s| present[..=j].iter().map(|i| s.completed[ALL[*i]] as f64).sum::<f64>())
                        .sum::<f64>()
                        / c.len() as f64
                })
            })
            .collect();
        let sent = bucketed(series, k, |c| c.iter().map(|s| s.sent as f64).sum::<f64>() / c.len() as f64);
        let top = stacks.last().into_iter().flatten().chain(&sent).map(|p| p.1).fold(1.0, f64::max) * 1.1;
        let mut chart = linear_frame(root, series.len() as f64, top, "requests per second")?;
        draw_marks(root, &mut chart, marks, (0.0, top))?;
        // Top layer first so each lower layer paints over the one above it.
        for (j, &i) in present.iter().enumerate().rev() {
            let c = class_colour(i);
            chart.draw_series(AreaSeries::new(stacks[j].iter().copied(), 0.0, c.mix(0.75)).border_style(c))?;
        }
        chart.draw_series(DashedLineSeries::new(sent, 6, 4, sent_style.stroke_width(1)))?;
        Ok(())
    })
}

/// The stretches (start, end), s, where Lambda refused requests while its executions sat at the
/// limit (`lambda`: CloudWatch's per-period maxima; without them, where it refused at all).
fn pinned(series: &[Second], lambda: &[[f64; 2]], limit: f64) -> Vec<(f64, f64)> {
    let at_limit = |t: f64| {
        lambda.is_empty() || lambda.iter().rev().find(|p| p[0] <= t + 0.5).is_some_and(|p| p[1] >= limit - 0.5)
    };
    let mut out: Vec<(f64, f64)> = Vec::new();
    for s in series.iter().filter(|s| s.completed[Class::LambdaThrottled] > 0 && at_limit(s.t as f64)) {
        let t = s.t as f64;
        match out.last_mut() {
            Some(last) if last.1 >= t => last.1 = t + 1.0,
            _ => out.push((t, t + 1.0)),
        }
    }
    out
}

/// Client-side in-flight requests and Lambda's concurrent executions against the reserved
/// limit: the limit near-black and dashed under the measured lines, the measured executions
/// drawn last and thickest, and a shaded band where they sit at the limit while Lambda refuses.
pub fn concurrency(series: &[Second], lambda: &[[f64; 2]], reserved: Option<f64>, marks: &[Mark]) -> String {
    let k = bucket_seconds(series.len());
    let in_flight = bucketed(series, k, |c| max_of(c, |s| s.in_flight as f64));
    // A step line: each CloudWatch period holds its maximum until the next one starts.
    let mut steps = Vec::with_capacity(lambda.len() * 2);
    for (i, p) in lambda.iter().enumerate() {
        let end = lambda.get(i + 1).map_or(p[0] + 1.0, |n| n[0]);
        steps.push((p[0].max(0.0), p[1]));
        steps.push((end.max(0.0), p[1]));
    }
    let bands = reserved.map(|r| pinned(series, lambda, r)).unwrap_or_default();
    // Vermilion at a fifth over white: a background, never mistaken for a line.
    let band = RGBColor(247, 223, 204);
    let (measured, client) = (PALETTE[1], PALETTE[0]);
    let mut legend = Vec::new();
    if !steps.is_empty() {
        legend.push(Entry { label: "Lambda executions".into(), colour: measured, swatch: Swatch::Line });
    }
    legend.push(Entry { label: "in flight (client)".into(), colour: client, swatch: Swatch::Line });
    if let Some(r) = reserved {
        legend.push(Entry { label: format!("reserved concurrency {r:.0}"), colour: LIMIT, swatch: Swatch::Dashed });
    }
    if !bands.is_empty() {
        legend.push(Entry { label: "at the limit, throttling".into(), colour: band, swatch: Swatch::Fill });
    }
    svg(&legend, |root| {
        let highest = steps.iter().chain(&in_flight).map(|p| p.1).chain(reserved).fold(0.0, f64::max);
        let top = (highest * 1.2).max(1.0);
        let mut chart = linear_frame(root, series.len() as f64, top, "concurrency")?;
        chart.draw_series(bands.iter().map(|(a, b)| Rectangle::new([(*a, 0.0), (*b, top)], band.filled())))?;
        draw_marks(root, &mut chart, marks, (0.0, top))?;
        if let Some(r) = reserved {
            let end = series.len() as f64;
            chart.draw_series(DashedLineSeries::new([(0.0, r), (end, r)], 10, 6, LIMIT.stroke_width(2)))?;
        }
        chart.draw_series(LineSeries::new(in_flight.iter().copied(), client.stroke_width(2)))?;
        chart.draw_series(LineSeries::new(steps.iter().copied(), measured.stroke_width(3)))?;
        Ok(())
    })
}

/// Cold starts per second as bars (bucketed: summed).
pub fn cold_starts(series: &[Second], marks: &[Mark]) -> String {
    let k = bucket_seconds(series.len());
    let bars = bucketed(series, k, |c| c.iter().map(|s| s.cold_starts as f64).sum());
    let y_desc = if k == 1 { "cold starts per second".to_owned() } else { format!("cold starts per {k} s") };
    let legend = [Entry { label: "cold starts".into(), colour: PALETTE[1], swatch: Swatch::Fill }];
    svg(&legend, |root| {
        let top = bars.iter().map(|p| p.1).fold(1.0, f64::max) * 1.2;
        let mut chart = linear_frame(root, series.len() as f64, top, &y_desc)?;
        draw_marks(root, &mut chart, marks, (0.0, top))?;
        let c = PALETTE[1];
        chart.draw_series(
            bars.iter()
                .filter(|p| p.1 > 0.0)
                .map(|p| Rectangle::new([(p.0, 0.0), (p.0 + k as f64 * 0.9, p.1)], c.filled())),
        )?;
        Ok(())
    })
}

/// The percentile distribution of one histogram (µs) as `(1/(1-q), ms)` points: HdrHistogram's
/// own plot, where the tail gets as much room as the body. Stops at the last finite point.
pub fn distribution_points(h: &HdrHistogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let cap = (h.len() as f64).max(10.0);
    let mut points: Vec<(f64, f64)> = h
        .iter_quantiles(5)
        .map(|v| (v.quantile_iterated_to(), us_to_ms(v.value_iterated_to())))
        .filter(|(q, _)| *q < 1.0)
        .map(|(q, ms)| ((1.0 / (1.0 - q)).min(cap), ms))
        .collect();
    points.push((cap, crate::record::histogram::max_ms(h)));
    points
}

/// Percentile label for a point on the `1/(1-q)` axis: 10 → "90%", 1000 → "99.9%".
fn percentile_label(x: f64) -> String {
    let q = (1.0 - 1.0 / x) * 100.0;
    let digits = (x.log10().round() as i32 - 2).max(0) as usize;
    format!("{q:.digits$}%")
}

/// Latency by percentile, x on the log `1/(1-q)` axis.
pub fn distribution(lines: &[Line]) -> String {
    svg(&entries(lines), |root| {
        let x_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).fold(10.0, f64::max);
        let x_max = 10f64.powf(x_max.log10().ceil());
        let y_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(1.0, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d((1.0..x_max).log_scale(), 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency, ms")
            .x_label_formatter(&|x| percentile_label(*x))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        draw_lines(&mut chart, lines)
    })
}

/// Lines of `(x, y)` points on linear axes from zero, each point marked and, where `labels` has
/// one for it (same line, same index), labelled: a simulation's configurations side by side, a
/// knee's throttle shares against the offered rate.
pub fn xy(x_desc: &str, y_desc: &str, lines: &[Line], labels: &[Vec<String>]) -> String {
    svg(&entries(lines), |root| {
        let all = || lines.iter().flat_map(|l| l.points.iter());
        let x_max = all().map(|p| p.0).fold(0.0, f64::max).max(1e-9) * 1.1;
        let y_max = all().map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.2;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).light_line_style(RGBColor(235, 235, 235)).draw()?;
        draw_lines(&mut chart, lines)?;
        for (i, l) in lines.iter().enumerate() {
            let colour = PALETTE[l.colour % PALETTE.len()];
            chart.draw_series(l.points.iter().map(|p| Circle::new(*p, 4, colour.filled())))?;
            let names = labels.get(i).map(Vec::as_slice).unwrap_or_default();
            chart.draw_series(l.points.iter().zip(names).map(|(p, n)| {
                Text::new(
                    n.clone(),
                    *p,
                    ("sans-serif", 12).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Bottom)),
                )
            }))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_labels_read_as_percentiles() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(100_000.0), "99.999%");
    }

    #[test]
    fn an_xy_chart_labels_its_points() {
        let line =
            Line { label: "reserved=10".into(), points: vec![(256.0, 1.5), (1024.0, 2.5)], dashed: false, colour: 0 };
        let svg = xy("memory, MB", "$ per month", &[line], &[vec!["256 MB".into(), "<1024 MB>".into()]]);
        assert!(svg.starts_with("<svg") && svg.contains("256 MB") && svg.contains("reserved=10"), "{svg}");
        assert!(svg.contains("&lt;1024 MB&gt;"), "labels are escaped");
    }

    fn second(t: usize, throttled: u64, in_flight: u64) -> Second {
        let mut s = Second { t, in_flight, ..Second::default() };
        s.completed.add(Class::LambdaThrottled, throttled);
        s
    }

    /// The x of every `<text>` of `svg` whose content is `text`.
    fn text_x(svg: &str, text: &str) -> Vec<f64> {
        svg.match_indices(&format!(">\n{text}\n</text>"))
            .filter_map(|(i, _)| {
                let start = svg[..i].rfind("<text")?;
                let x = svg[start..i].split("x=\"").nth(1)?.split('"').next()?;
                x.parse().ok()
            })
            .collect()
    }

    fn text_y(svg: &str, text: &str) -> Option<String> {
        let i = svg.find(&format!(">\n{text}\n</text>"))?;
        let start = svg[..i].rfind("<text")?;
        Some(svg[start..i].split("y=\"").nth(1)?.split('"').next()?.to_owned())
    }

    #[test]
    fn the_band_marks_where_lambda_refused_at_its_limit() {
        let series: Vec<Second> =
            (0..10).map(|t| second(t, if (3..6).contains(&t) || t == 8 { 5 } else { 0 }, 4)).collect();
        // CloudWatch per second: at the limit (8) from 2 to 6, below it at 8.
        let lambda: Vec<[f64; 2]> = (0..10).map(|t| [t as f64, if (2..7).contains(&t) { 8.0 } else { 3.0 }]).collect();
        assert_eq!(pinned(&series, &lambda, 8.0), vec![(3.0, 6.0)]);
        assert_eq!(pinned(&series, &[], 8.0), vec![(3.0, 6.0), (8.0, 9.0)], "without CloudWatch: where it refused");
        let svg = concurrency(&series, &lambda, Some(8.0), &[]);
        assert!(svg.contains("at the limit, throttling") && svg.contains("reserved concurrency 8"), "{svg}");
    }

    #[test]
    fn legends_sit_right_of_the_plot_and_phase_names_do_not_collide() {
        let series: Vec<Second> = (0..100).map(|t| second(t, 0, 3)).collect();
        let marks: Vec<Mark> = ["warm-up", "spike", "recovery", "cool-down"]
            .iter()
            .enumerate()
            .map(|(i, n)| Mark { at: i as f64 * 1.5, name: (*n).into() })
            .collect();
        let svg = concurrency(&series, &[], Some(8.0), &marks);
        let plot_right = f64::from(super::super::chart_frame::W - 230);
        assert!(text_x(&svg, "reserved concurrency 8").iter().all(|x| *x >= plot_right), "{svg}");
        // Four names 1.5 s apart on a 100 s axis: three rows take the first three; the fourth
        // has no room left and is left off rather than drawn over another.
        let rows: Vec<String> = marks[..3]
            .iter()
            .map(|m| {
                let i = svg.find(&format!(">\n{}\n</text>", m.name)).expect("the first three names drawn");
                let start = svg[..i].rfind("<text").unwrap();
                svg[start..i].split("y=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
            })
            .collect();
        assert_eq!(rows.iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "{rows:?}");
        assert!(!svg.contains(">\ncool-down\n</text>"));
        let spaced: Vec<Mark> =
            ["a", "b"].iter().enumerate().map(|(i, n)| Mark { at: i as f64 * 50.0, name: (*n).into() }).collect();
        let svg = concurrency(&series, &[], None, &spaced);
        assert_eq!(text_y(&svg, "a"), text_y(&svg, "b"), "names far apart share the first row");
    }

    #[test]
    fn long_series_are_bucketed_to_the_point_budget() {
        assert_eq!(bucket_seconds(45), 1);
        assert_eq!(bucket_seconds(900), 1);
        assert_eq!(bucket_seconds(3_600), 4);
    }

    #[test]
    fn distribution_reaches_the_maximum() {
        let mut h = crate::record::histogram::new();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let p = distribution_points(&h);
        let last = p.last().unwrap();
        assert_eq!(last.0, 1000.0);
        assert!((last.1 - 1000.0).abs() < 1.0, "{last:?}");
        assert!(p.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1), "monotone: {p:?}");
    }
}
