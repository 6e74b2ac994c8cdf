//! Charts of the monthly report as SVG documents, drawn with plotters' SVG backend. Pure:
//! data in, SVG text out; the same data gives the same bytes (no clocks, no randomness), so
//! reports stay reproducible. plotters escapes every label it writes, and the labels are
//! shortened here, so input-derived names cannot break the SVG or the page that inlines it.

use plotters::prelude::*;

use crate::analysis::{Analysis, ClassBytes, ClientRow};
use crate::classify::Class;

/// One chart: its file name in the report folder, its title and its SVG text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    pub file: String,
    pub title: String,
    pub svg: String,
}

/// A chart could not be drawn (plotters reported an error; a bug, never the data's fault).
#[derive(Debug, thiserror::Error)]
#[error("drawing the chart `{chart}`: {message}")]
pub struct ChartError {
    pub chart: String,
    pub message: String,
}

/// The colour of each class, the same in every chart and in the HTML legend.
pub fn class_color(c: Class) -> RGBColor {
    match c {
        Class::S3 => RGBColor(0xe8, 0x59, 0x0c),
        Class::Dynamodb => RGBColor(0x19, 0x71, 0xc2),
        Class::S3OtherRegion => RGBColor(0xf5, 0x9f, 0x00),
        Class::AwsOther => RGBColor(0x70, 0x48, 0xe8),
        Class::Internet => RGBColor(0x86, 0x8e, 0x96),
    }
}

const WIDTH: u32 = 960;
const FONT: &str = "sans-serif";

/// The binary unit that keeps the largest value readable.
fn unit_for(max: u64) -> (f64, &'static str) {
    const UNITS: [(&str, f64); 5] = [
        ("TiB", 1_099_511_627_776.0),
        ("GiB", 1_073_741_824.0),
        ("MiB", 1_048_576.0),
        ("KiB", 1024.0),
        ("B", 1.0),
    ];
    for (name, div) in UNITS {
        if max as f64 >= div * 2.0 {
            return (div, name);
        }
    }
    (1.0, "B")
}

/// Shorten a label to `n` characters (labels come from the input: keep them bounded).
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn err(chart: &str) -> impl Fn(String) -> ChartError + '_ {
    move |message| ChartError {
        chart: chart.to_string(),
        message,
    }
}

macro_rules! tryc {
    ($e:expr, $f:expr) => {
        $e.map_err(|e| $f(e.to_string()))?
    };
}

/// The legend box (upper right) and the final write of the drawing.
macro_rules! legend_and_present {
    ($chart:expr, $root:expr, $e:expr) => {
        tryc!(
            $chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font((FONT, 12))
                .draw(),
            $e
        );
        tryc!($root.present(), $e);
    };
}

/// A stacked bar per day: NAT-processed bytes by destination class. `days` lists every day
/// of the report's range (days without data show as gaps), each with its class bytes.
pub fn daily_by_class(days: &[(String, ClassBytes)]) -> Result<Chart, ChartError> {
    let file = "daily-nat-bytes.svg";
    let title = "NAT-processed bytes per day (UTC), by destination class";
    let e = err(file);
    let max = days.iter().map(|(_, c)| c.total()).max().unwrap_or(0);
    let (div, unit) = unit_for(max);
    let ymax = ((max as f64 / div) * 1.1).max(1.0);
    let n = days.len().max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 420)).into_drawing_area();
        tryc!(root.fill(&WHITE), e);
        let mut chart = tryc!(
            ChartBuilder::on(&root)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(48)
                .y_label_area_size(64)
                // n segments (a range `0..k` has k + 1 of them: the last one would be empty);
                // plotters cannot map a one-value range, so one day keeps a spare segment
                .build_cartesian_2d(
                    if n >= 2 { 0..n as i32 - 1 } else { 0..1 }.into_segmented(),
                    0f64..ymax,
                ),
            e
        );
        let step = n.div_ceil(16).max(1);
        let labels: Vec<String> = days.iter().map(|(d, _)| d.clone()).collect();
        tryc!(
            chart
                .configure_mesh()
                .disable_x_mesh()
                .max_light_lines(1)
                .x_labels(n)
                .x_label_formatter(&|x| match x {
                    SegmentValue::CenterOf(i) if *i >= 0 && (*i as usize) % step == 0 => labels
                        .get(*i as usize)
                        .map(|d| d.get(5..).unwrap_or(d).to_string())
                        .unwrap_or_default(),
                    _ => String::new(),
                })
                .y_desc(unit)
                .label_style((FONT, 12))
                .draw(),
            e
        );
        for class in Class::ALL {
            let color = class_color(class);
            let bars: Vec<Rectangle<(SegmentValue<i32>, f64)>> = days
                .iter()
                .enumerate()
                .filter(|(_, (_, c))| c.get(class).total() > 0)
                .map(|(i, (_, c))| {
                    let below: u64 = Class::ALL
                        .iter()
                        .take_while(|k| **k != class)
                        .map(|k| c.get(*k).total())
                        .sum();
                    let y0 = below as f64 / div;
                    let y1 = (below + c.get(class).total()) as f64 / div;
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(i as i32), y0),
                            (SegmentValue::Exact(i as i32 + 1), y1),
                        ],
                        color.filled(),
                    );
                    r.set_margin(0, 0, 2, 2);
                    r
                })
                .collect();
            tryc!(chart.draw_series(bars), e)
                .label(class.name())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        legend_and_present!(chart, root, e);
    }
    Ok(Chart {
        file: file.into(),
        title: title.into(),
        svg,
    })
}

/// Horizontal bars: the clients sending the most S3 bytes through the NAT.
pub fn top_s3_clients(clients: &[ClientRow], top: usize) -> Result<Chart, ChartError> {
    let file = "top-s3-clients.svg";
    let title = "Top clients of S3 through the NAT (bytes in the period)";
    let e = err(file);
    let mut rows: Vec<&ClientRow> = clients
        .iter()
        .filter(|c| c.classes.s3.total() > 0)
        .collect();
    rows.sort_by(|a, b| ClientRow::by_s3(a, b));
    rows.truncate(top.max(1));
    let max = rows.first().map_or(0, |c| c.classes.s3.total());
    let (div, unit) = unit_for(max);
    let xmax = ((max as f64 / div) * 1.1).max(1.0);
    let n = rows.len().max(1);
    let labels: Vec<String> = rows
        .iter()
        .map(|c| {
            let who = c
                .ecs_service
                .as_deref()
                .or(c.subnet.as_deref())
                .unwrap_or("");
            if who.is_empty() {
                c.ip.clone()
            } else {
                format!("{} ({})", c.ip, clip(who, 24))
            }
        })
        .collect();
    let height = 90 + 34 * n as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        tryc!(root.fill(&WHITE), e);
        let mut chart = tryc!(
            ChartBuilder::on(&root)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(260)
                .build_cartesian_2d(0f64..xmax, 0f64..n as f64),
            e
        );
        tryc!(
            chart
                .configure_mesh()
                .disable_y_mesh()
                .max_light_lines(1)
                .y_labels(n * 2 + 1)
                .y_label_formatter(&|y| {
                    // Row i is drawn from the top, centred on n - i - 0.5.
                    let k = n as f64 - *y - 0.5;
                    let i = k.round();
                    if i < 0.0 || (k - i).abs() > 1e-6 {
                        return String::new();
                    }
                    labels.get(i as usize).cloned().unwrap_or_default()
                })
                .x_desc(unit)
                .label_style((FONT, 12))
                .draw(),
            e
        );
        let color = class_color(Class::S3);
        tryc!(
            chart.draw_series(rows.iter().enumerate().map(|(i, c)| {
                let y = (n - i) as f64;
                Rectangle::new(
                    [
                        (0.0, y - 0.85),
                        (c.classes.s3.total() as f64 / div, y - 0.15),
                    ],
                    color.filled(),
                )
            })),
            e
        );
        tryc!(root.present(), e);
    }
    Ok(Chart {
        file: file.into(),
        title: title.into(),
        svg,
    })
}

/// Grouped bars, one group per measure: bytes per day in two or more periods (before and
/// after a change, or month over month). `series` are (label, values per measure).
pub fn grouped_per_day(
    file: &str,
    title: &str,
    measures: &[&str],
    series: &[(String, Vec<f64>)],
) -> Result<Chart, ChartError> {
    let e = err(file);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0f64, f64::max);
    let (div, unit) = unit_for(max as u64);
    let ymax = ((max / div) * 1.15).max(1.0);
    let m = measures.len().max(1);
    let k = series.len().max(1);
    const PALETTE: [RGBColor; 4] = [
        RGBColor(0x86, 0x8e, 0x96),
        RGBColor(0xe8, 0x59, 0x0c),
        RGBColor(0x19, 0x71, 0xc2),
        RGBColor(0x2f, 0x9e, 0x44),
    ];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 400)).into_drawing_area();
        tryc!(root.fill(&WHITE), e);
        let mut chart = tryc!(
            ChartBuilder::on(&root)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(64)
                // m segments (a range `0..k` has k + 1 of them: the last one would be empty)
                .build_cartesian_2d(
                    if m >= 2 { 0..m as i32 - 1 } else { 0..1 }.into_segmented(),
                    0f64..ymax,
                ),
            e
        );
        tryc!(
            chart
                .configure_mesh()
                .disable_x_mesh()
                .max_light_lines(1)
                .x_labels(m)
                .x_label_formatter(&|x| match x {
                    SegmentValue::CenterOf(i) if *i >= 0 => measures
                        .get(*i as usize)
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    _ => String::new(),
                })
                .y_desc(format!("{unit} per day"))
                .label_style((FONT, 12))
                .draw(),
            e
        );
        // Each group spans one segment; its bars share 80% of it, drawn in pixels by margin.
        let seg_px = (WIDTH as f64 - 64.0 - 24.0) / m as f64;
        let bar_px = seg_px * 0.8 / k as f64;
        for (j, (label, values)) in series.iter().enumerate() {
            let color = PALETTE[j % PALETTE.len()];
            let left = (seg_px * 0.1 + bar_px * j as f64).round() as u32;
            let right = (seg_px - seg_px * 0.1 - bar_px * (j + 1) as f64)
                .round()
                .max(0.0) as u32;
            tryc!(
                chart.draw_series(values.iter().enumerate().map(|(i, v)| {
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(i as i32), 0.0),
                            (SegmentValue::Exact(i as i32 + 1), v / div),
                        ],
                        color.filled(),
                    );
                    r.set_margin(0, 0, left, right + 2);
                    r
                })),
                e
            )
            .label(clip(label, 40))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        }
        legend_and_present!(chart, root, e);
    }
    Ok(Chart {
        file: file.into(),
        title: title.into(),
        svg,
    })
}

/// Every day of the analysed period with its class bytes (zero where no data).
pub fn days_of(a: &Analysis) -> Vec<(String, ClassBytes)> {
    let (Some(from), Some(to)) = (a.period.from, a.period.to) else {
        return a
            .by_day
            .iter()
            .map(|d| (d.day.clone(), d.classes))
            .collect();
    };
    let first = from.div_euclid(86_400);
    let last = (to - 1).div_euclid(86_400);
    // A range reaching past a year of days is not a chart anybody reads day by day.
    let last = last.min(first + 400);
    (first..=last)
        .map(|d| {
            let (y, m, dd) = crate::time::civil_from_days(d);
            let day = format!("{y:04}-{m:02}-{dd:02}");
            let classes = a
                .by_day
                .iter()
                .find(|r| r.day == day)
                .map(|r| r.classes)
                .unwrap_or_default();
            (day, classes)
        })
        .collect()
}
