//! What every chart of the reports shares: the SVG canvas, the palette, a legend in a column of
//! its own right of the plot (never over the data), phase lines whose names take another row
//! instead of running into each other, and a time axis in minutes and seconds. Pure functions
//! of their input: the same results give the same bytes.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::escape;

/// Chart size, px: fits a 1280 px window with the page's margins (the page scales it down on a
/// narrower one).
pub const W: u32 = 1100;
/// Chart height, px.
pub const H: u32 = 340;
/// The legend's column, px: the plot ends where it starts, so every chart's plot is as wide
/// and time axes line up from one chart to the next.
const LEGEND_W: u32 = 230;

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

/// A limit drawn against a measured line: near-black and dashed, so no palette colour of a
/// measurement can be mistaken for it.
pub const LIMIT: RGBColor = RGBColor(55, 55, 55);

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

/// How a legend entry shows its series.
#[derive(Clone, Copy)]
pub enum Swatch {
    /// A solid line.
    Line,
    /// A dashed line.
    Dashed,
    /// A filled box (an area, a bar, a band).
    Fill,
}

/// One entry of a legend.
pub struct Entry {
    /// What it names.
    pub label: String,
    /// Its colour.
    pub colour: RGBColor,
    /// How it is drawn.
    pub swatch: Swatch,
}

impl Entry {
    /// The entry of `line`.
    pub fn of(line: &Line) -> Entry {
        Entry {
            label: line.label.clone(),
            colour: PALETTE[line.colour % PALETTE.len()],
            swatch: if line.dashed { Swatch::Dashed } else { Swatch::Line },
        }
    }
}

/// A fallible drawing step.
pub type Fallible = Result<(), Box<dyn std::error::Error>>;

/// A chart over the SVG backend; `CT` is the coordinate system (linear or log axes).
pub type Ctx<'a, 'b, CT> = ChartContext<'a, SVGBackend<'b>, CT>;

/// Renders into a fresh SVG string: `legend` in its column, `draw` on the plot's area. A drawing
/// error becomes a note in the SVG, so a chart can never take the report down.
pub fn svg(legend: &[Entry], draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Fallible) -> String {
    let mut out = String::new();
    let failed = {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        let r = root.fill(&WHITE).map_err(Into::into).and_then(|()| {
            let (plot, side) = root.split_horizontally(W - LEGEND_W);
            draw(&plot)?;
            draw_legend(&side, legend)
        });
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

/// The legend, one entry a row from the top of its column.
fn draw_legend(side: &DrawingArea<SVGBackend<'_>, Shift>, entries: &[Entry]) -> Fallible {
    for (i, e) in entries.iter().enumerate() {
        let y = 22 + i as i32 * 20;
        let style = e.colour.stroke_width(if matches!(e.swatch, Swatch::Dashed) { 2 } else { 3 });
        match e.swatch {
            Swatch::Line => side.draw(&PathElement::new(vec![(6, y), (30, y)], style))?,
            Swatch::Dashed => {
                for x in [6, 17] {
                    side.draw(&PathElement::new(vec![(x, y), (x + 7, y)], style))?;
                }
                side.draw(&PathElement::new(vec![(28, y), (30, y)], style))?;
            }
            Swatch::Fill => side.draw(&Rectangle::new([(6, y - 6), (30, y + 6)], e.colour.filled()))?,
        }
        side.draw(&Text::new(
            e.label.clone(),
            (36, y),
            ("sans-serif", 13).into_font().color(&RGBColor(40, 40, 40)).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// `s` seconds as a clock reads: `0:45`, `12:05`, `1:02:03`.
pub fn clock(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The x axis title of every chart over time.
pub const TIME_AXIS: &str = "time since the phases began (m:ss)";

/// A time chart with a linear y axis from 0 to `top`, its grid and axis titles drawn.
pub fn linear_frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x_max: f64,
    top: f64,
    y_desc: &str,
) -> Result<Ctx<'a, 'b, Cartesian2d<RangedCoordf64, RangedCoordf64>>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .margin_top(38)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max.max(1.0), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc(TIME_AXIS)
        .x_label_formatter(&|x| clock(*x))
        .y_desc(y_desc)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    Ok(chart)
}

/// Draws `lines` onto `chart`.
pub fn draw_lines<CT: plotters::coord::CoordTranslate<From = (f64, f64)>>(
    chart: &mut Ctx<'_, '_, CT>,
    lines: &[Line],
) -> Fallible {
    for l in lines {
        let s = PALETTE[l.colour % PALETTE.len()].stroke_width(2);
        if l.dashed {
            chart.draw_series(DashedLineSeries::new(l.points.iter().copied(), 8, 5, s))?;
        } else {
            chart.draw_series(LineSeries::new(l.points.iter().copied(), s))?;
        }
    }
    Ok(())
}

/// Phase boundaries as grey dashed lines over the y range `y`, each named just above the plot
/// at its start. A name that would run into the one before it takes the next of three rows; one
/// with no room in any is left off (its line stays).
pub fn draw_marks<CT: plotters::coord::CoordTranslate<From = (f64, f64)>>(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &mut Ctx<'_, '_, CT>,
    marks: &[Mark],
    y: (f64, f64),
) -> Fallible {
    let grey = RGBColor(150, 150, 150);
    for m in marks.iter().filter(|m| m.at > 0.0) {
        chart.draw_series(DashedLineSeries::new([(m.at, y.0), (m.at, y.1)], 4, 4, grey.stroke_width(1)))?;
    }
    // Names go in the margin above the plot (on `root`: the plot's own area clips to itself).
    let (x0, top) = chart.plotting_area().get_base_pixel();
    let (rx, ry) = root.get_base_pixel();
    let right = x0 + chart.plotting_area().dim_in_pixel().0 as i32;
    let mut row_end = [i32::MIN; 3];
    for m in marks {
        let (px, _) = chart.plotting_area().map_coordinate(&(m.at, y.1));
        let x = px + 3;
        // ~7 px a character at 12 px: enough to keep names apart without measuring text.
        let width = m.name.chars().count() as i32 * 7;
        let Some(row) = (0..row_end.len()).find(|r| row_end[*r] < x && (*r == 0 || x + width <= right)) else {
            continue;
        };
        row_end[row] = x + width + 8;
        root.draw(&Text::new(
            m.name.clone(),
            (x - rx, top - ry - (row as i32 + 1) * 11 - 2),
            ("sans-serif", 12).into_font().color(&RGBColor(110, 110, 110)).pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_reads_as_a_clock() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(45.0), "0:45");
        assert_eq!(clock(725.0), "12:05");
        assert_eq!(clock(3723.0), "1:02:03");
    }
}
