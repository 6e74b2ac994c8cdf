//! Charts of the monthly report as SVG documents, drawn with plotters' SVG backend. Pure:
//! data in, SVG text out; the same data gives the same bytes (no clocks, no randomness), so
//! reports stay reproducible. plotters escapes every label it writes, and the labels are
//! shortened here, so input-derived names cannot break the SVG or the page that inlines it.

use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::RangedCoordi32;
use plotters::coord::Shift;
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

/// A chart of the report, built once its SVG text is drawn.
impl Chart {
    fn new(file: &str, title: &str, svg: String) -> Chart {
        Chart {
            file: file.into(),
            title: title.into(),
            svg,
        }
    }
}

/// The SVG text of a drawing `WIDTH` wide and `height` high: a white canvas handed to `draw`.
fn svg_of(
    e: &impl Fn(String) -> ChartError,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        tryc!(root.fill(&WHITE), e);
        draw(&root)?;
    }
    Ok(svg)
}

/// An axis of `n` segments, one a bar or a group of bars. A range `0..k` has k + 1 of them
/// (the last would be empty); plotters cannot map a one-value range, so one segment keeps a
/// spare one.
fn segments(n: usize) -> SegmentedCoord<RangedCoordi32> {
    if n >= 2 { 0..n as i32 - 1 } else { 0..1 }.into_segmented()
}

/// The scale's top: the largest value, in the unit that keeps it readable, with `headroom`
/// above it (at least 1).
fn axis_top(max: f64, div: f64, headroom: f64) -> f64 {
    ((max / div) * headroom).max(1.0)
}

/// The legend's swatch of a series: a small square of its colour.
fn swatch(color: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
}

/// The bars of one class in the stack of each day: from the classes before it in
/// `Class::ALL` to those and its own bytes (days without its bytes get none), in `div`s.
fn stacked_bars(
    days: &[(String, ClassBytes)],
    class: Class,
    div: f64,
) -> Vec<Rectangle<(SegmentValue<i32>, f64)>> {
    let color = class_color(class);
    days.iter()
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
        .collect()
}

/// The label under a day's bar: its month and day (`09-03`), on every `step`th day only, so
/// that a long range's labels do not overlap.
fn day_label(days: &[String], step: usize, x: &SegmentValue<i32>) -> String {
    match x {
        SegmentValue::CenterOf(i) if *i >= 0 && (*i as usize) % step == 0 => days
            .get(*i as usize)
            .map(|d| d.get(5..).unwrap_or(d).to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// A stacked bar per day: NAT-processed bytes by destination class. `days` lists every day
/// of the report's range (days without data show as gaps), each with its class bytes.
pub fn daily_by_class(days: &[(String, ClassBytes)]) -> Result<Chart, ChartError> {
    let file = "daily-nat-bytes.svg";
    let title = "NAT-processed bytes per day (UTC), by destination class";
    let e = err(file);
    let max = days.iter().map(|(_, c)| c.total()).max().unwrap_or(0);
    let (div, unit) = unit_for(max);
    let n = days.len().max(1);
    let step = n.div_ceil(16).max(1);
    let labels: Vec<String> = days.iter().map(|(d, _)| d.clone()).collect();
    let svg = svg_of(&e, 420, |root| {
        let mut chart = tryc!(
            ChartBuilder::on(root)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(48)
                .y_label_area_size(64)
                .build_cartesian_2d(segments(n), 0f64..axis_top(max as f64, div, 1.1)),
            e
        );
        tryc!(
            chart
                .configure_mesh()
                .disable_x_mesh()
                .max_light_lines(1)
                .x_labels(n)
                .x_label_formatter(&|x| day_label(&labels, step, x))
                .y_desc(unit)
                .label_style((FONT, 12))
                .draw(),
            e
        );
        for class in Class::ALL {
            tryc!(chart.draw_series(stacked_bars(days, class, div)), e)
                .label(class.as_str())
                .legend(swatch(class_color(class)));
        }
        legend_and_present!(chart, root, e);
        Ok(())
    })?;
    Ok(Chart::new(file, title, svg))
}

/// The `top` clients sending the most S3 bytes through the NAT, most first (none without).
fn top_s3_rows(clients: &[ClientRow], top: usize) -> Vec<&ClientRow> {
    let mut rows: Vec<&ClientRow> = clients
        .iter()
        .filter(|c| c.classes.s3.total() > 0)
        .collect();
    rows.sort_by(|a, b| ClientRow::by_s3(a, b));
    rows.truncate(top.max(1));
    rows
}

/// A client's name beside its bar: its address, and its ECS service or else its subnet
/// (shortened) where the run knows one.
fn client_label(c: &ClientRow) -> String {
    let who = c
        .ecs_service
        .as_deref()
        .or(c.subnet.as_deref())
        .unwrap_or("");
    if who.is_empty() {
        c.name().into_owned()
    } else {
        format!("{} ({})", c.name(), clip(who, 24))
    }
}

/// The label at height `y` of a chart of `labels.len()` horizontal bars: row `i` is drawn
/// from the top, centred on `n - i - 0.5`; any other height has none.
fn row_label(labels: &[String], y: f64) -> String {
    let k = labels.len() as f64 - y - 0.5;
    let i = k.round();
    if i < 0.0 || (k - i).abs() > 1e-6 {
        return String::new();
    }
    labels.get(i as usize).cloned().unwrap_or_default()
}

/// Horizontal bars: the clients sending the most S3 bytes through the NAT.
pub fn top_s3_clients(clients: &[ClientRow], top: usize) -> Result<Chart, ChartError> {
    let file = "top-s3-clients.svg";
    let title = "Top clients of S3 through the NAT (bytes in the period)";
    let e = err(file);
    let rows = top_s3_rows(clients, top);
    let max = rows.first().map_or(0, |c| c.classes.s3.total());
    let (div, unit) = unit_for(max);
    let n = rows.len().max(1);
    let labels: Vec<String> = rows.iter().map(|c| client_label(c)).collect();
    let svg = svg_of(&e, 90 + 34 * n as u32, |root| {
        let mut chart = tryc!(
            ChartBuilder::on(root)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(260)
                .build_cartesian_2d(0f64..axis_top(max as f64, div, 1.1), 0f64..n as f64),
            e
        );
        tryc!(
            chart
                .configure_mesh()
                .disable_y_mesh()
                .max_light_lines(1)
                .y_labels(n * 2 + 1)
                .y_label_formatter(&|y| row_label(&labels, *y))
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
        Ok(())
    })?;
    Ok(Chart::new(file, title, svg))
}

/// The plot area's width in pixels, less the label area and the margins (64 + 2 × 12).
const PLOT_PX: f64 = WIDTH as f64 - 64.0 - 24.0;

/// The pixels left and right of series `j`'s bar, of `k` series, in each of `m` groups: a
/// group spans one segment, its bars share 80 % of it side by side.
fn bar_margins(m: usize, k: usize, j: usize) -> (u32, u32) {
    let seg_px = PLOT_PX / m as f64;
    let bar_px = seg_px * 0.8 / k as f64;
    let left = (seg_px * 0.1 + bar_px * j as f64).round() as u32;
    let right = (seg_px - seg_px * 0.1 - bar_px * (j + 1) as f64)
        .round()
        .max(0.0) as u32;
    (left, right)
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
    let m = measures.len().max(1);
    let k = series.len().max(1);
    const PALETTE: [RGBColor; 4] = [
        RGBColor(0x86, 0x8e, 0x96),
        RGBColor(0xe8, 0x59, 0x0c),
        RGBColor(0x19, 0x71, 0xc2),
        RGBColor(0x2f, 0x9e, 0x44),
    ];
    let svg = svg_of(&e, 400, |root| {
        let mut chart = tryc!(
            ChartBuilder::on(root)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(segments(m), 0f64..axis_top(max, div, 1.15)),
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
        for (j, (label, values)) in series.iter().enumerate() {
            let color = PALETTE[j % PALETTE.len()];
            let (left, right) = bar_margins(m, k, j);
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
            .legend(swatch(color));
        }
        legend_and_present!(chart, root, e);
        Ok(())
    })?;
    Ok(Chart::new(file, title, svg))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::UpDown;

    fn client(
        ip: &str,
        s3: u64,
        total: u64,
        service: Option<&str>,
        subnet: Option<&str>,
    ) -> ClientRow {
        let classes = ClassBytes {
            s3: UpDown {
                upload: 0,
                download: s3,
            },
            ..Default::default()
        };
        ClientRow {
            ip: ip.into(),
            vpc: None,
            enis: vec![],
            subnet: subnet.map(str::to_string),
            az: None,
            ecs_service: service.map(str::to_string),
            ecs_task: None,
            classes,
            total,
        }
    }

    #[test]
    fn units_keep_the_largest_value_readable_and_labels_are_bounded() {
        assert_eq!(unit_for(0), (1.0, "B"));
        assert_eq!(unit_for(2047), (1.0, "B"));
        assert_eq!(unit_for(2048), (1024.0, "KiB"));
        assert_eq!(unit_for(3 << 30), (1_073_741_824.0, "GiB"));
        assert_eq!(clip("service", 7), "service");
        assert_eq!(clip("services", 7), "servic…");
        assert_eq!(clip("ééééé", 3), "éé…");
        // a tenth above the largest value, never below one unit
        assert_eq!(axis_top(2048.0, 1024.0, 1.1), 2.2);
        assert_eq!(axis_top(0.0, 1.0, 1.1), 1.0);
    }

    #[test]
    fn day_labels_are_month_and_day_on_every_steps_day() {
        let days: Vec<String> = ["2026-09-01", "2026-09-02", "2026-09-03"]
            .map(String::from)
            .into();
        let at = |i, step| day_label(&days, step, &SegmentValue::CenterOf(i));
        assert_eq!(at(0, 1), "09-01");
        assert_eq!(at(2, 1), "09-03");
        assert_eq!(at(1, 2), "");
        assert_eq!(at(2, 2), "09-03");
        assert_eq!(at(3, 1), "", "past the last day");
        assert_eq!(at(-1, 1), "");
        assert_eq!(day_label(&days, 1, &SegmentValue::Exact(0)), "");
    }

    #[test]
    fn the_top_clients_are_those_with_most_s3_bytes_labelled_by_service_or_subnet() {
        let clients = [
            client("10.0.0.1", 5, 50, None, Some("subnet-a")),
            client("10.0.0.2", 0, 900, Some("web"), None),
            client(
                "10.0.0.3",
                7,
                7,
                Some("<script>a-very-long-service-name-indeed"),
                Some("subnet-b"),
            ),
            client("10.0.0.4", 5, 60, None, None),
        ];
        let rows = top_s3_rows(&clients, 10);
        let ips: Vec<&str> = rows.iter().map(|c| c.ip.as_str()).collect();
        assert_eq!(ips, ["10.0.0.3", "10.0.0.4", "10.0.0.1"]);
        assert_eq!(top_s3_rows(&clients, 1).len(), 1);
        assert_eq!(top_s3_rows(&clients, 0).len(), 1, "at least one row");
        let labels: Vec<String> = rows.iter().map(|c| client_label(c)).collect();
        assert_eq!(
            labels,
            [
                "10.0.0.3 (<script>a-very-long-ser…)",
                "10.0.0.4",
                "10.0.0.1 (subnet-a)"
            ]
        );
    }

    #[test]
    fn a_row_label_stands_at_its_bars_centre_only() {
        let labels: Vec<String> = ["first", "second"].map(String::from).into();
        // two rows: the first centred on 1.5, the second on 0.5
        assert_eq!(row_label(&labels, 1.5), "first");
        assert_eq!(row_label(&labels, 0.5), "second");
        assert_eq!(row_label(&labels, 1.0), "");
        assert_eq!(row_label(&labels, 2.5), "");
        assert_eq!(row_label(&labels, -0.5), "");
        assert_eq!(row_label(&[], 0.5), "");
    }

    #[test]
    fn grouped_bars_share_four_fifths_of_their_group_side_by_side() {
        // 872 px for three groups: 290.67 a group, two bars of 116.27, 29.07 px on each side
        assert_eq!(bar_margins(3, 2, 0), (29, 145));
        assert_eq!(bar_margins(3, 2, 1), (145, 29));
        // one series: its bar centred, a tenth of the group on either side
        assert_eq!(bar_margins(1, 1, 0), (87, 87));
    }

    #[test]
    fn charts_of_no_data_and_of_a_hostile_label_are_drawn() {
        let chart = daily_by_class(&[]).unwrap();
        assert!(chart.svg.starts_with("<svg"));
        let clients = [client(
            "10.0.0.9",
            3 << 40,
            3 << 40,
            Some("<script>x</script>"),
            None,
        )];
        let chart = top_s3_clients(&clients, 10).unwrap();
        assert!(chart.svg.contains("TiB"));
        assert!(!chart.svg.contains("<script>"), "labels are escaped");
        let chart = grouped_per_day("g.svg", "t", &[], &[]).unwrap();
        assert_eq!(chart.file, "g.svg");
        // the largest byte counts a record can carry, summed past 2^63: drawn, in TiB
        let huge = [client("10.0.0.8", u64::MAX / 2, u64::MAX / 2, None, None)];
        assert!(top_s3_clients(&huge, 10).unwrap().svg.contains("TiB"));
        let series = [("a".to_string(), vec![f64::MAX, 0.0])];
        assert!(grouped_per_day("g.svg", "t", &["s3", "x"], &series).is_ok());
    }
}
