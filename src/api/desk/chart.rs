//! The dashboard's chart, drawn as SVG on the server: requests received per week as bars, and
//! the share of them answered within one month as a line on a 0–100 % scale. No script, no
//! external library; a table beside it holds the same figures for screen readers.

use super::Lang;
use crate::requests::overview::WeekFigures;
use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 48.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

pub fn weekly(weeks: &[WeekFigures], lang: Lang) -> String {
    let (title, received_label, share_label) = match lang {
        Lang::Nl => (
            "Verzoeken per week en aandeel binnen een maand beantwoord",
            "ontvangen",
            "binnen een maand",
        ),
        Lang::En => (
            "Requests per week and share answered within one month",
            "received",
            "within one month",
        ),
    };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let max = weeks.iter().map(|w| w.received).max().unwrap_or(0).max(1);
    // A round top for the count axis that divides into quarters: 4, 8, 20, 40, 80, 200, …
    let top = nice_ceiling(max);
    let slot = plot_w / weeks.len().max(1) as f64;
    let y_of_count = |n: i64| TOP + plot_h - plot_h * n as f64 / top as f64;
    let y_of_share = |share: f64| TOP + plot_h - plot_h * share;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-labelledby="chart-title" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title id="chart-title">{title}</title>"#
    );
    for step in 0..=4 {
        let y = TOP + plot_h * f64::from(step) / 4.0;
        let count = top - top * i64::from(step) / 4;
        let percent = 100 - 25 * step;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#d0d4da"/><text x="{lx}" y="{ty:.1}" text-anchor="end" class="axis">{count}</text><text x="{rx}" y="{ty:.1}" class="axis">{percent}%</text>"##,
            x2 = WIDTH - RIGHT,
            lx = LEFT - 6.0,
            rx = WIDTH - RIGHT + 6.0,
            ty = y + 4.0,
        );
    }
    let mut line = Vec::new();
    for (i, week) in weeks.iter().enumerate() {
        let x = LEFT + slot * i as f64;
        let bar_y = y_of_count(week.received);
        let _ = write!(
            svg,
            r##"<rect class="bar" x="{bx:.1}" y="{bar_y:.1}" width="{bw:.1}" height="{bh:.1}" fill="#2f6fb3"><title>{start}: {n} {received_label}</title></rect><text x="{cx:.1}" y="{ly}" text-anchor="middle" class="axis">{label}</text>"##,
            bx = x + slot * 0.15,
            bw = slot * 0.7,
            bh = TOP + plot_h - bar_y,
            start = super::spell_day(week.week_start, lang == Lang::En),
            n = week.received,
            cx = x + slot / 2.0,
            ly = HEIGHT - BOTTOM + 16.0,
            label = week.week_start.format("%d-%m"),
        );
        if let Some(share) = week.share_within_one_month {
            line.push((x + slot / 2.0, y_of_share(share), share));
        }
    }
    if line.len() > 1 {
        let points: Vec<String> = line
            .iter()
            .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#c0392b" stroke-width="2.5"/>"##,
            points.join(" ")
        );
    }
    for (x, y, share) in &line {
        let _ = write!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="#c0392b"><title>{:.0}% {share_label}</title></circle>"##,
            share * 100.0
        );
    }
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{ly}" width="12" height="12" fill="#2f6fb3"/><text x="{tx}" y="{ty}" class="axis">{received_label}</text><rect x="{lx2}" y="{ly}" width="12" height="12" fill="#c0392b"/><text x="{tx2}" y="{ty}" class="axis">{share_label}</text></svg>"##,
        ly = HEIGHT - 16.0,
        tx = LEFT + 16.0,
        ty = HEIGHT - 6.0,
        lx2 = LEFT + 120.0,
        tx2 = LEFT + 136.0,
    );
    svg
}

fn nice_ceiling(n: i64) -> i64 {
    let mut magnitude = 1;
    loop {
        for step in [4, 8, 20] {
            if step * magnitude >= n {
                return step * magnitude;
            }
        }
        magnitude *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn week(day: u32, received: i64, share: Option<f64>) -> WeekFigures {
        WeekFigures {
            week_start: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            received,
            answered: 0,
            answered_within_one_month: 0,
            share_within_one_month: share,
        }
    }

    #[test]
    fn bars_follow_the_counts_and_the_line_the_shares() {
        let svg = weekly(
            &[
                week(9, 2, Some(1.0)),
                week(16, 8, Some(0.5)),
                week(23, 0, None),
            ],
            Lang::En,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches(r#"class="bar""#).count(), 3);
        assert!(
            svg.contains("16 November 2026: 8 received"),
            "a week named by its day"
        );
        assert!(svg.contains("50% within one month"));
        assert_eq!(
            svg.matches("<circle").count(),
            2,
            "no point for a week without answers"
        );
        assert!(svg.contains("<polyline"));
        assert!(
            svg.contains(">8</text>"),
            "8 requests make a count axis up to 8"
        );
    }

    #[test]
    fn the_count_axis_is_round() {
        assert_eq!(nice_ceiling(0), 4);
        assert_eq!(nice_ceiling(3), 4);
        assert_eq!(nice_ceiling(7), 8);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(21), 40);
        assert_eq!(nice_ceiling(260), 400);
    }
}
