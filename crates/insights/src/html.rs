//! The report as one self-contained HTML page: tables of the figures, and three charts drawn by
//! the page's own script from the report embedded in it (volume per week, on-time rate, share of
//! business). No external file, font or URL: it opens from disk in any browser.
//!
//! The script marks its work in the page: each chart is an `<svg class="chart" id=…>` whose
//! bars and points carry `data-partner` and `data-value`, and `<body data-charts-drawn="3">` once
//! all three are drawn, so a headless browser's DOM shows what was drawn.

use crate::report::{Keeping, Report};

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn rate(k: &Keeping) -> String {
    k.on_time_rate
        .map_or_else(|| "–".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}\
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}\
th:first-child,td:first-child{text-align:left}.warn{color:#a00}\
svg.chart{border:1px solid #ddd;background:#fff;margin:.5em 0}\
svg text{font-size:11px;fill:#333}";

const SCRIPT: &str = r#"
(function () {
  var NS = 'http://www.w3.org/2000/svg';
  var COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  var report = JSON.parse(document.getElementById('report-data').textContent);
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function svg(id, width, height) {
    var s = el('svg', { id: id, 'class': 'chart', width: width, height: height, viewBox: '0 0 ' + width + ' ' + height });
    document.getElementById(id + '-box').appendChild(s);
    return s;
  }
  // Volume: documents per week, one line per partner.
  (function () {
    var W = 900, H = 300, L = 50, R = 160, T = 20, B = 40;
    var s = svg('volume', W, H);
    var weeks = report.partners.length ? report.partners[0].volume.weekly.length : 0;
    var max = 1;
    report.partners.forEach(function (p) { p.volume.weekly.forEach(function (w) { max = Math.max(max, w.documents); }); });
    var x = function (i) { return L + (weeks > 1 ? i * (W - L - R) / (weeks - 1) : 0); };
    var y = function (v) { return H - B - v * (H - T - B) / max; };
    s.appendChild(el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#999' }));
    s.appendChild(el('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#999' }));
    s.appendChild(el('text', { x: L - 6, y: T + 4, 'text-anchor': 'end', 'class': 'axis' }, String(max)));
    s.appendChild(el('text', { x: L - 6, y: H - B, 'text-anchor': 'end', 'class': 'axis' }, '0'));
    if (weeks) {
      var weekly = report.partners[0].volume.weekly;
      s.appendChild(el('text', { x: L, y: H - B + 16, 'class': 'axis' }, weekly[0].start));
      s.appendChild(el('text', { x: W - R, y: H - B + 16, 'text-anchor': 'end', 'class': 'axis' }, weekly[weeks - 1].start));
    }
    report.partners.forEach(function (p, n) {
      var colour = COLOURS[n % COLOURS.length];
      var points = p.volume.weekly.map(function (w, i) { return x(i) + ',' + y(w.documents); }).join(' ');
      s.appendChild(el('polyline', { points: points, fill: 'none', stroke: colour, 'stroke-width': 1.5, 'class': 'series', 'data-partner': p.partner }));
      p.volume.weekly.forEach(function (w, i) {
        s.appendChild(el('circle', { cx: x(i), cy: y(w.documents), r: 2, fill: colour, 'class': 'point', 'data-partner': p.partner, 'data-week': w.start, 'data-value': w.documents }));
      });
      s.appendChild(el('text', { x: W - R + 10, y: T + 14 * n + 4, fill: colour, 'class': 'legend' }, p.partner));
    });
  })();
  // Horizontal bars, one per row, labelled with the partner and a value.
  function bars(id, rows, label) {
    var W = 900, rowH = 22, L = 160, R = 80, T = 10;
    var s = svg(id, W, T * 2 + rowH * Math.max(rows.length, 1));
    rows.forEach(function (row, i) {
      var y = T + i * rowH;
      var width = Math.max(0, row.value) * (W - L - R);
      s.appendChild(el('text', { x: L - 6, y: y + 14, 'text-anchor': 'end', 'class': 'label' }, row.partner));
      s.appendChild(el('rect', { x: L, y: y + 3, width: width, height: rowH - 6, fill: row.colour || COLOURS[0], 'class': 'bar', 'data-partner': row.partner, 'data-value': row.value }));
      s.appendChild(el('text', { x: L + width + 6, y: y + 14, 'class': 'value' }, label(row)));
    });
  }
  // On-time rate against the promised date, partners with judged shipments.
  bars('ontime', report.partners.filter(function (p) { return p.promises.promised.on_time_rate !== null; }).map(function (p) {
    return { partner: p.partner, value: p.promises.promised.on_time_rate, colour: '#2ca02c' };
  }), function (row) { return (row.value * 100).toFixed(1) + '%'; });
  // Share of business in the first currency, largest first, with the cumulative share.
  var share = report.share.length ? report.share[0] : { currency: '', ranking: [] };
  document.getElementById('share-currency').textContent = share.currency;
  bars('share', share.ranking.map(function (r) {
    return { partner: r.partner, value: r.share, cumulative: r.cumulative, colour: '#1f77b4' };
  }), function (row) { return (row.value * 100).toFixed(1) + '% (cumulative ' + (row.cumulative * 100).toFixed(1) + '%)'; });
  document.body.setAttribute('data-charts-drawn', document.querySelectorAll('svg.chart').length);
})();
"#;

/// The page.
pub fn render(report: &Report) -> String {
    let mut html = String::with_capacity(16 * 1024);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    html.push_str(&format!(
        "<title>Partner report {} – {}</title><style>{STYLE}</style></head><body>\n",
        escape(&report.since),
        escape(&report.until)
    ));
    html.push_str(&format!(
        "<h1>Partner report, {} to {} ({} days)</h1>\n",
        escape(&report.since),
        escape(&report.until),
        report.days
    ));
    if !report.warnings.is_empty() {
        html.push_str("<h2>Early warnings</h2><ul class=\"warnings\">");
        for w in &report.warnings {
            html.push_str(&format!(
                "<li class=\"warn\" data-partner=\"{}\">{}</li>",
                escape(&w.partner),
                escape(&w.message)
            ));
        }
        html.push_str("</ul>\n");
    }
    html.push_str("<h2>Documents per week</h2><div id=\"volume-box\"></div>\n");
    html.push_str(
        "<h2>On-time rate (shipment against the promised date)</h2><div id=\"ontime-box\"></div>\n",
    );
    html.push_str(
        "<h2>Share of business (<span id=\"share-currency\"></span>)</h2><div id=\"share-box\"></div>\n",
    );
    html.push_str(
        "<h2>Figures</h2><table><tr><th>partner</th><th>documents</th><th>orders</th>\
         <th>lines</th><th>order value</th><th>trend</th><th>on time (promised)</th>\
         <th>on time (requested)</th><th>avg days late</th><th>response h</th>\
         <th>shipment h</th><th>ack s</th><th>acks late</th><th>acks overdue</th><th>files</th>\
         <th>rejected</th><th>with errors</th></tr>\n",
    );
    for p in &report.partners {
        let value: Vec<String> = p
            .volume
            .order_value
            .iter()
            .map(|(c, v)| format!("{v} {c}"))
            .collect();
        let r = &p.responsiveness;
        html.push_str(&format!(
            "<tr data-partner=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&p.partner),
            escape(&p.partner),
            p.volume.documents,
            p.volume.orders,
            p.volume.order_lines,
            escape(&value.join(", ")),
            p.volume
                .trend
                .change
                .map_or_else(|| "–".to_owned(), |c| format!("{:+.0}%", c * 100.0)),
            rate(&p.promises.promised),
            rate(&p.promises.requested),
            opt(p.promises.promised.avg_days_late, 1),
            opt(r.avg_response_hours, 1),
            opt(r.avg_shipment_hours, 1),
            opt(r.avg_ack_seconds, 1),
            r.acks_late,
            r.acks_overdue,
            p.quality.files,
            p.quality.rejected,
            p.quality.with_errors,
        ));
    }
    html.push_str("</table>\n");
    // The report itself, for the script; `</` cannot end the script element early.
    let json = serde_json::to_string(report)
        .unwrap_or_else(|_| "{\"partners\":[],\"share\":[]}".to_owned())
        .replace("</", "<\\/");
    html.push_str(&format!(
        "<script type=\"application/json\" id=\"report-data\">{json}</script>\n<script>{SCRIPT}</script>\n</body></html>\n"
    ));
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Context, History, report};
    use std::collections::BTreeMap;

    #[test]
    fn the_page_holds_its_data_and_nothing_external() {
        let mut names = BTreeMap::new();
        names.insert("a</script><b>".to_owned(), "A".to_owned());
        let ctx = Context {
            today: 20_000,
            since: 20_000 - 27,
            names,
            ..Context::default()
        };
        let page = render(&report(&BTreeMap::<String, History>::new(), &ctx));
        // The one URL is the SVG namespace the script creates elements in: nothing is fetched.
        assert_eq!(
            page.matches("http").count(),
            page.matches("http://www.w3.org/2000/svg").count()
        );
        assert!(!page.contains("src=") && !page.contains("href="));
        assert!(page.contains("a&lt;/script&gt;&lt;b&gt;"));
        assert_eq!(page.matches("</script>").count(), 2);
        assert!(page.contains("id=\"report-data\""));
    }
}
