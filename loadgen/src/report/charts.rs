//! The report's charts as inline SVG, drawn with plotters' SVG backend: pure functions of the
//! results document (no fonts, no clock, no randomness), so the same input gives the same bytes.
//! plotters escapes the text it writes, so scenario strings (phase names) are safe in labels.

use hdrhistogram::Histogram as HdrHistogram;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::escape;
use crate::record::histogram::us_to_ms;
use crate::record::{ALL, Second};

/// Chart size, px: fits a 1280 px window with the page's margins.
const W: u32 = 1100;
const H: u32 = 340;
/// Time series longer than this are bucketed, so a 1-hour run stays a light page: no chart
/// is wider than this many pixels of plot anyway.
pub const MAX_POINTS: usize = 900;

/// Line colours, in order; distinguishable for the common colour-vision deficiencies
/// (Okabe–Ito palette).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(240, 228, 66),
];

/// Outcome class colours (in [`ALL`] order), from the palette: ok green, client errors grey,
/// API Gateway orange, Lambda yellow, function errors vermilion, DynamoDB pink, timeouts a red
/// outside the palette, transport errors blue.
fn class_colour(i: usize) -> RGBColor {
    match i {
        6 => RGBColor(180, 30, 30),
        _ => PALETTE[[2, 6, 1, 7, 3, 4, 0, 0][i % 8]],
    }
}

/// A phase boundary: where it starts, s, and its name.
pub struct Mark {
    /// Seconds since the measured phases began.
    pub at: f64,
    /// Phase name.
    pub name: String,
}

/// One named line of `(x, y)` points.
pub struct Line {
    /// Legend label.
    pub label: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// Dashed (a second run, a limit).
    pub dashed: bool,
    /// Palette index.
    pub colour: usize,
}

type Fallible = Result<(), Box<dyn std::error::Error>>;

/// Renders with `draw` into a fresh SVG string; a drawing error becomes a note in the SVG, so a
/// chart can never take the report down.
fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Fallible) -> String {
    let mut out = String::new();
    let failed = {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        let r = root.fill(&WHITE).map_err(Into::into).and_then(|()| draw(&root));
        let _ = root.present();
        r.err().map(|e| e.to_string())
    };
    if let Some(e) = failed {
        out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"60\"><text x=\"10\" y=\"30\">chart not drawn: {}</text></svg>",
            escape::xml(&e)
        );
    }
    out
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

fn style(colour: usize) -> ShapeStyle {
    PALETTE[colour % PALETTE.len()].stroke_width(2)
}

/// A chart over the SVG backend; `CT` is the coordinate system (linear or log axes).
type Ctx<'a, 'b, CT> = ChartContext<'a, SVGBackend<'b>, CT>;

fn draw_lines<CT: plotters::coord::CoordTranslate<From = (f64, f64)>>(
    chart: &mut Ctx<'_, '_, CT>,
    lines: &[Line],
) -> Fallible {
    for l in lines {
        let s = style(l.colour);
        let anno = if l.dashed {
            chart.draw_series(DashedLineSeries::new(l.points.iter().copied(), 8, 5, s))?
        } else {
            chart.draw_series(LineSeries::new(l.points.iter().copied(), s))?
        };
        anno.label(l.label.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], s));
    }
    Ok(())
}

fn draw_marks<CT: plotters::coord::CoordTranslate<From = (f64, f64)>>(
    chart: &mut Ctx<'_, '_, CT>,
    marks: &[Mark],
    y: (f64, f64),
) -> Fallible {
    let grey = RGBColor(150, 150, 150);
    for m in marks.iter().filter(|m| m.at > 0.0) {
        chart.draw_series(DashedLineSeries::new([(m.at, y.0), (m.at, y.1)], 4, 4, grey.stroke_width(1)))?;
    }
    for m in marks {
        chart.draw_series(std::iter::once(Text::new(
            m.name.clone(),
            (m.at, y.1),
            ("sans-serif", 12).into_font().color(&grey).pos(Pos::new(HPos::Left, VPos::Top)),
        )))?;
    }
    Ok(())
}

fn legend<'a, 'b: 'a, CT: plotters::coord::CoordTranslate>(chart: &mut Ctx<'a, 'b, CT>) -> Fallible {
    legend_at(chart, SeriesLabelPosition::UpperRight)
}

fn legend_at<'a, 'b: 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut Ctx<'a, 'b, CT>,
    at: SeriesLabelPosition,
) -> Fallible {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

/// A time chart with a linear y axis from 0 to `top`, its grid and axis titles drawn.
fn linear_frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x_max: f64,
    top: f64,
    y_desc: &str,
) -> Result<Ctx<'a, 'b, Cartesian2d<RangedCoordf64, RangedCoordf64>>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max.max(1.0), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(y_desc)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    Ok(chart)
}

/// Latency lines over time on a log axis when they span more than 30×, else linear.
pub fn time_lines(x_max: f64, y_desc: &str, lines: &[Line], marks: &[Mark]) -> String {
    svg(|root| {
        let y_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max);
        let y_pos_min =
            lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        if y_pos_min.is_finite() && y_max / y_pos_min > 30.0 {
            let y = (y_pos_min * 0.8, y_max * 1.25);
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(64)
                .build_cartesian_2d(0.0..x_max.max(1.0), (y.0..y.1).log_scale())?;
            chart
                .configure_mesh()
                .x_desc("seconds since start")
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_desc(y_desc)
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            draw_marks(&mut chart, marks, y)?;
            draw_lines(&mut chart, lines)?;
            legend(&mut chart)
        } else {
            linear_body(root, x_max, y_desc, lines, marks, 1.15)
        }
    })
}

/// Reads one figure of a second.
type Field = fn(&Second) -> f64;

/// Corrected latency p50/p90/p99/max per second (bucketed: the max of each field, so a short
/// spike is never averaged away).
pub fn latency_over_time(series: &[Second], marks: &[Mark]) -> String {
    let k = bucket_seconds(series.len());
    let fields: [(&str, Field); 4] =
        [("p50", |s| s.p50_ms), ("p90", |s| s.p90_ms), ("p99", |s| s.p99_ms), ("max", |s| s.max_ms)];
    let lines: Vec<Line> = fields
        .iter()
        .enumerate()
        .map(|(i, (label, g))| Line {
            label: (*label).into(),
            points: bucketed(series, k, |c| max_of(c, g)).into_iter().filter(|p| p.1 > 0.0).collect(),
            dashed: false,
            colour: i,
        })
        .collect();
    time_lines(series.len() as f64, "latency, ms", &lines, marks)
}

/// Completed requests per second by outcome class, stacked (bucketed: the mean rate).
pub fn throughput_by_class(series: &[Second], marks: &[Mark]) -> String {
    let k = bucket_seconds(series.len());
    svg(|root| {
        let present: Vec<usize> = (0..ALL.len()).filter(|i| series.iter().any(|s| s.completed[ALL[*i]] > 0)).collect();
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
        let top = stacks.last().into_iter().flatten().chain(&sent).map(|p| p.1).fold(1.0, f64::max) * 1.15;
        let mut chart = linear_frame(root, series.len() as f64, top, "requests per second")?;
        draw_marks(&mut chart, marks, (0.0, top))?;
        // Top layer first so each lower layer paints over the one above it.
        for (j, &i) in present.iter().enumerate().rev() {
            let c = class_colour(i);
            chart
                .draw_series(AreaSeries::new(stacks[j].iter().copied(), 0.0, c.mix(0.75)).border_style(c))?
                .label(ALL[i].name())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
        }
        let s = RGBColor(40, 40, 40).stroke_width(1);
        chart
            .draw_series(DashedLineSeries::new(sent, 6, 4, s))?
            .label("sent")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], s));
        legend(&mut chart)
    })
}

/// Client-side in-flight requests and Lambda's concurrent executions against the reserved limit.
pub fn concurrency(series: &[Second], lambda: &[[f64; 2]], reserved: Option<f64>, marks: &[Mark]) -> String {
    let k = bucket_seconds(series.len());
    let mut lines = vec![Line {
        label: "in flight (client)".into(),
        points: bucketed(series, k, |c| max_of(c, |s| s.in_flight as f64)),
        dashed: false,
        colour: 0,
    }];
    if !lambda.is_empty() {
        // A step line: each CloudWatch period holds its maximum until the next one starts.
        let mut steps = Vec::with_capacity(lambda.len() * 2);
        for (i, p) in lambda.iter().enumerate() {
            let end = lambda.get(i + 1).map_or(p[0] + 1.0, |n| n[0]);
            steps.push((p[0].max(0.0), p[1]));
            steps.push((end.max(0.0), p[1]));
        }
        lines.push(Line { label: "Lambda concurrent executions".into(), points: steps, dashed: false, colour: 1 });
    }
    if let Some(r) = reserved {
        lines.push(Line {
            label: format!("reserved concurrency ({r:.0})"),
            points: vec![(0.0, r), (series.len() as f64, r)],
            dashed: true,
            colour: 3,
        });
    }
    linear(series.len() as f64, "concurrency", &lines, marks)
}

fn linear(x_max: f64, y_desc: &str, lines: &[Line], marks: &[Mark]) -> String {
    svg(|root| linear_body(root, x_max, y_desc, lines, marks, 1.2))
}

/// Lines on a linear axis with `headroom` above the highest point.
fn linear_body(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    x_max: f64,
    y_desc: &str,
    lines: &[Line],
    marks: &[Mark],
    headroom: f64,
) -> Fallible {
    let top = (lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max) * headroom).max(1.0);
    let mut chart = linear_frame(root, x_max, top, y_desc)?;
    draw_marks(&mut chart, marks, (0.0, top))?;
    draw_lines(&mut chart, lines)?;
    legend(&mut chart)
}

/// Cold starts per second as bars (bucketed: summed).
pub fn cold_starts(series: &[Second], marks: &[Mark]) -> String {
    let k = bucket_seconds(series.len());
    let bars = bucketed(series, k, |c| c.iter().map(|s| s.cold_starts as f64).sum());
    svg(|root| {
        let top = bars.iter().map(|p| p.1).fold(1.0, f64::max) * 1.2;
        let y_desc = if k == 1 { "cold starts per second".to_owned() } else { format!("cold starts per {k} s") };
        let mut chart = linear_frame(root, series.len() as f64, top, &y_desc)?;
        draw_marks(&mut chart, marks, (0.0, top))?;
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
    svg(|root| {
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
        draw_lines(&mut chart, lines)?;
        legend_at(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// Lines of `(x, y)` points on linear axes from zero, each point marked and, where `labels` has
/// one for it (same line, same index), labelled: a simulation's configurations side by side.
pub fn xy(x_desc: &str, y_desc: &str, lines: &[Line], labels: &[Vec<String>]) -> String {
    svg(|root| {
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
        legend(&mut chart)
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
