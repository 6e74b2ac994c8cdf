//! The monthly report as one self-contained HTML page: the report's Markdown rendered with
//! pulldown-cmark, the SVG charts inlined, the style sheet inline, no scripts and no external
//! assets (it works offline and from an e-mail attachment).
//!
//! Everything that comes from the input (ENI ids, ECS names, S3 keys) reaches the page as
//! Markdown text, so it is escaped here: raw HTML in the Markdown is turned into text, links
//! into their text, and images other than our own charts into their alt text. A strict
//! Content-Security-Policy forbids scripts and remote loads as a second line of defence.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

use super::charts::Chart;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#212529;margin:0;background:#f8f9fa}\
main{max-width:1040px;margin:0 auto;padding:24px 32px;background:#fff}\
h1{font-size:1.7em;border-bottom:2px solid #e8590c;padding-bottom:6px}\
h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #dee2e6;padding-bottom:4px}\
h3{font-size:1.1em;margin-top:1.4em}\
table{border-collapse:collapse;margin:8px 0 16px;font-size:.9em;display:block;max-width:100%;overflow-x:auto}\
th,td{border:1px solid #dee2e6;padding:4px 8px;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left;white-space:normal;overflow-wrap:anywhere;min-width:8em}\
li,p{overflow-wrap:anywhere}\
th{background:#f1f3f5}\
tr:nth-child(even) td{background:#fafbfc}\
code{font-size:.9em;background:#f1f3f5;padding:1px 4px;border-radius:3px;word-break:break-all}\
pre{background:#f1f3f5;padding:8px;overflow-x:auto}\
figure{margin:12px 0 20px}\
figure svg{max-width:100%;height:auto;border:1px solid #e9ecef}\
figcaption{font-size:.85em;color:#495057}\
li{margin:2px 0}\
@media print{body{background:#fff}main{padding:0}}";

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The SVG element of a chart, without any XML prologue, ready to inline.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

/// Render the Markdown body to HTML with input-derived text escaped and the charts inlined.
pub fn body(markdown: &str, charts: &[Chart]) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    let mut events: Vec<Event> = Vec::new();
    // Inside an image: Some(true) when it is one of our charts (its alt text is dropped,
    // the figure carries the title), Some(false) for any other image (alt text kept).
    let mut in_image: Option<bool> = None;
    for ev in Parser::new_ext(markdown, opts) {
        match ev {
            Event::Html(h) | Event::InlineHtml(h) => events.push(Event::Text(h)),
            Event::Start(Tag::Link { .. }) | Event::End(TagEnd::Link) => {}
            Event::Start(Tag::Image { dest_url, .. }) => {
                match charts.iter().find(|c| c.file == dest_url.as_ref()) {
                    Some(c) => {
                        let html = format!(
                            "<figure id=\"{}\">{}<figcaption>{} ({})</figcaption></figure>",
                            escape(c.file.trim_end_matches(".svg")),
                            inline_svg(&c.svg),
                            escape(&c.title),
                            escape(&c.file)
                        );
                        events.push(Event::Html(CowStr::from(html)));
                        in_image = Some(true);
                    }
                    None => in_image = Some(false),
                }
            }
            Event::End(TagEnd::Image) => in_image = None,
            _ if in_image == Some(true) => {}
            other => events.push(other),
        }
    }
    // A chart alone in its paragraph stands as a figure, not inside a <p>.
    let mut tidy: Vec<Event> = Vec::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        if let (
            Event::Start(Tag::Paragraph),
            Some(Event::Html(h)),
            Some(Event::End(TagEnd::Paragraph)),
        ) = (&events[i], events.get(i + 1), events.get(i + 2))
        {
            if h.starts_with("<figure") {
                tidy.push(events[i + 1].clone());
                i += 3;
                continue;
            }
        }
        tidy.push(events[i].clone());
        i += 1;
    }
    let mut out = String::new();
    html::push_html(&mut out, tidy.into_iter());
    out
}

/// The whole page.
pub fn page(title: &str, markdown: &str, charts: &[Chart]) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "{}{}\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
        super::own::GENERATOR,
        env!("CARGO_PKG_VERSION"),
        escape(title),
        STYLE
    ));
    out.push_str(&body(markdown, charts));
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_text_cannot_become_markup() {
        let md = "# t\n\n- ecs <script>alert(1)</script> and <img src=x onerror=alert(2)>\n- [x](javascript:alert(3)) <javascript:alert(4)>\n\n| a | b |\n|---|---:|\n| <b>eni</b> | 1 |\n\n![other](http://example.com/x.png)\n";
        let h = body(md, &[]);
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<img"), "{h}");
        assert!(!h.contains("<a "), "{h}");
        assert!(!h.contains("<b>"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{h}");
        assert!(h.contains("<table>"), "{h}");
    }

    #[test]
    fn charts_are_inlined_and_titled() {
        let c = Chart {
            file: "daily-nat-bytes.svg".into(),
            title: "Daily <bytes>".into(),
            svg: "<?xml version=\"1.0\"?>\n<svg width=\"10\" height=\"10\"><rect/></svg>".into(),
        };
        let h = body("![Daily](daily-nat-bytes.svg)\n", &[c]);
        assert!(h.contains("<figure id=\"daily-nat-bytes\"><svg"), "{h}");
        assert!(!h.contains("<?xml"), "{h}");
        assert!(h.contains("Daily &lt;bytes&gt;"), "{h}");
        assert!(!h.contains("<img"), "{h}");
    }
}
