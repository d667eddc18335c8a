package load

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"time"
)

// WriteHTML writes the report as one self-contained HTML page (inline CSS
// and JavaScript, no network fetches): the counts and rates, the timeline
// as four charts drawn in the page itself as inline SVG (connections per
// second, open connections, messages per second, and the p99 of the TLS
// handshake and the echo round trip per second), the latency
// percentiles, and every error class.
func WriteHTML(w io.Writer, r *Report) error {
	p := htmlPage{R: r, OK: r.OK(), Shape: shapeLine(r), Shard: shardLine(r), Elapsed: r.Elapsed.Round(time.Millisecond).String()}
	for _, l := range []struct {
		name string
		h    *Histogram
	}{{"TCP connect", r.Latency.TCP}, {"TLS handshake", r.Latency.TLS}, {"upgrade", r.Latency.Upgrade}, {"echo round trip", r.Latency.Echo}} {
		q := l.h.Percentiles()
		p.Latency = append(p.Latency, htmlLatency{l.name, q.Count, msText(q.P50), msText(q.P90), msText(q.P99), msText(q.P999), msText(q.Max)})
	}
	for _, e := range r.Errors {
		p.Errors = append(p.Errors, htmlError{e.Count, string(e.Layer), e.Summary(), e.Example})
	}
	if m := r.Memory; m != nil && m.PerConnectionBytes > 0 {
		who := "this process"
		if m.IncludesServer {
			who = "generator and server together, one process"
		}
		p.Memory = fmt.Sprintf("%s per open connection (%s; at %d open)", bytesText(m.PerConnectionBytes), who, m.OpenAtPeak)
	}
	p.Rates = fmt.Sprintf("%.1f handshakes/s · %.1f established/s · %.1f messages/s · %s/s", r.Rates.HandshakesPerSec, r.Rates.EstablishedPerSec, r.Rates.MessagesPerSec, bytesText(r.Rates.BytesPerSec))
	p.Data = timelineData(r)
	return htmlTemplate.Execute(w, p)
}

type htmlPage struct {
	R                            *Report
	OK                           bool
	Shape, Shard, Elapsed, Rates string
	Memory                       string
	Latency                      []htmlLatency
	Errors                       []htmlError
	Data                         chartData
}

type htmlLatency struct {
	Name                     string
	Count                    int64
	P50, P90, P99, P999, Max string
}

type htmlError struct {
	Count                   int64
	Layer, Summary, Example string
}

// chartData is the timeline as the page's script reads it: one value per
// second in each series.
type chartData struct {
	Seconds     []float64 `json:"seconds"`
	Attempted   []int64   `json:"attempted"`
	Handshakes  []int64   `json:"handshakes"`
	Established []int64   `json:"established"`
	Failed      []int64   `json:"failed"`
	Open        []int64   `json:"open"`
	Messages    []int64   `json:"messages"`
	TLSp99      []float64 `json:"tls_p99_ms"`
	Echop99     []float64 `json:"echo_p99_ms"`
}

func timelineData(r *Report) chartData {
	d := chartData{}
	for i, s := range r.Timeline {
		at := float64(i + 1)
		if !r.Started.IsZero() {
			at = math.Round(float64(s.At-r.Started.UnixMilli())/100)/10 + 1
		}
		d.Seconds = append(d.Seconds, at)
		d.Attempted = append(d.Attempted, s.Attempted)
		d.Handshakes = append(d.Handshakes, s.Handshakes)
		d.Established = append(d.Established, s.Established)
		d.Failed = append(d.Failed, s.Failed)
		d.Open = append(d.Open, s.Open)
		d.Messages = append(d.Messages, s.Messages)
		d.TLSp99 = append(d.TLSp99, float64(s.TLS.Quantile(99))/1000)
		d.Echop99 = append(d.Echop99, float64(s.Echo.Quantile(99))/1000)
	}
	return d
}

var htmlTemplate = template.Must(template.New("load").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mtlskit load: {{.R.Target}}</title>
<style>
:root { --pass:#1a7f37; --pass-bg:#dafbe1; --fail:#cf222e; --fail-bg:#ffebe9; --ink:#1f2328; --muted:#59636e; --line:#d1d9e0; --panel:#f6f8fa;
  --c1:#0969da; --c2:#1a7f37; --c3:#cf222e; --c4:#8250df; --c5:#bc4c00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
header { padding: 18px 28px 14px; border-bottom: 1px solid var(--line); background: var(--panel); display: flex; align-items: center; gap: 18px; flex-wrap: wrap; }
header h1 { font-size: 20px; margin: 0; font-weight: 600; }
header .target { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
main { padding: 8px 28px 40px; max-width: 1400px; }
.badge { display: inline-block; font-weight: 600; font-size: 13px; padding: 3px 12px; border-radius: 999px; }
.badge.pass { color: var(--pass); background: var(--pass-bg); }
.badge.fail { color: var(--fail); background: var(--fail-bg); }
h2 { font-size: 17px; margin: 24px 0 8px; font-weight: 600; }
.facts { color: var(--muted); margin: 10px 0 4px; }
.cards { display: flex; gap: 10px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.card .n { font-size: 22px; font-weight: 600; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.bad .n { color: var(--fail); }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px 4px; }
figcaption { font-weight: 600; font-size: 13px; }
figcaption .legend span { font-weight: 400; margin-left: 12px; white-space: nowrap; }
figcaption .legend i { display: inline-block; width: 12px; height: 3px; vertical-align: middle; margin-right: 4px; }
svg.chart { width: 100%; height: 210px; display: block; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .axis { fill: var(--muted); font-size: 11px; }
svg.chart path.series { fill: none; stroke-width: 2; stroke-linejoin: round; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: right; }
th { background: var(--panel); font-weight: 600; }
td.l, th.l { text-align: left; }
table.errors td.example { color: var(--muted); text-align: left; max-width: 760px; }
.none { color: var(--pass); font-weight: 600; }
</style>
</head>
<body>
<header>
<h1>mtlskit load</h1>
<span class="target">{{.R.Target}}</span>
{{if .OK}}<span class="badge pass" id="status">every connection completed</span>{{else}}<span class="badge fail" id="status">{{.R.Counts.Failed}} of {{.R.Counts.Attempted}} connections failed{{if .R.Interrupted}} (interrupted){{end}}</span>{{end}}
</header>
<main>
<p class="facts">{{.Shape}}<br>{{.Shard}}, {{.Elapsed}}, started {{.R.Started.Format "2006-01-02 15:04:05 MST"}}, dialled {{.R.Dialled}}{{if .R.Settings.InProcessServer}}, reference server in the same process{{end}}</p>
<div class="cards">
<div class="card"><div class="n">{{.R.Counts.Attempted}}</div><div class="k">attempted</div></div>
<div class="card"><div class="n">{{.R.Counts.Handshakes}}</div><div class="k">TLS accepted</div></div>
<div class="card"><div class="n">{{.R.Counts.Established}}</div><div class="k">established</div></div>
<div class="card"><div class="n">{{.R.Counts.Completed}}</div><div class="k">completed</div></div>
<div class="card{{if .R.Counts.Failed}} bad{{end}}"><div class="n">{{.R.Counts.Failed}}</div><div class="k">failed</div></div>
<div class="card"><div class="n">{{.R.Counts.PeakOpen}}</div><div class="k">peak open</div></div>
<div class="card"><div class="n">{{.R.Rates.HandshakesPerSec}}</div><div class="k">handshakes/s</div></div>
<div class="card"><div class="n">{{.R.Rates.MessagesPerSec}}</div><div class="k">messages/s</div></div>
</div>
<p class="facts">{{.Rates}}{{if .Memory}}<br>memory: {{.Memory}}{{end}}</p>

<h2>Timeline</h2>
<div class="charts">
<figure><figcaption>connections per second <span class="legend" data-for="rates"></span></figcaption><svg class="chart" id="chart-rates" data-series="attempted established failed"></svg></figure>
<figure><figcaption>open connections <span class="legend" data-for="open"></span></figcaption><svg class="chart" id="chart-open" data-series="open"></svg></figure>
<figure><figcaption>messages echoed per second <span class="legend" data-for="messages"></span></figcaption><svg class="chart" id="chart-messages" data-series="messages"></svg></figure>
<figure><figcaption>p99 per second, ms <span class="legend" data-for="latency"></span></figcaption><svg class="chart" id="chart-latency" data-series="tls_p99_ms echo_p99_ms"></svg></figure>
</div>

<h2>Latency</h2>
<table class="latency">
<thead><tr><th class="l">phase</th><th>count</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr></thead>
<tbody>{{range .Latency}}<tr><td class="l">{{.Name}}</td><td>{{.Count}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.P999}}</td><td>{{.Max}}</td></tr>
{{end}}</tbody>
</table>

<h2>Errors</h2>
{{if .Errors}}<table class="errors">
<thead><tr><th>count</th><th class="l">layer</th><th class="l">ended</th><th class="l">example</th></tr></thead>
<tbody>{{range .Errors}}<tr class="error"><td>{{.Count}}</td><td class="l">{{.Layer}}</td><td class="l">{{.Summary}}</td><td class="example">{{.Example}}</td></tr>
{{end}}</tbody>
</table>{{else}}<p class="none" id="no-errors">none: every connection that was attempted completed</p>{{end}}
</main>
<script>
(function () {
  "use strict";
  var data = {{.Data}};
  var names = { attempted: "attempted", established: "established", failed: "failed", open: "open", messages: "messages",
    tls_p99_ms: "TLS handshake p99", echo_p99_ms: "echo round trip p99" };
  var colours = { attempted: "var(--c1)", established: "var(--c2)", failed: "var(--c3)", open: "var(--c4)", messages: "var(--c1)",
    tls_p99_ms: "var(--c5)", echo_p99_ms: "var(--c4)" };
  var NS = "http://www.w3.org/2000/svg";
  function el(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function nice(v) {
    if (v <= 0) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function draw(svg) {
    var keys = svg.getAttribute("data-series").split(" ");
    var W = svg.clientWidth || 600, H = svg.clientHeight || 210, L = 48, R = 10, T = 8, B = 22;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    var xs = data.seconds || [], n = xs.length, top = 0;
    keys.forEach(function (k) { (data[k] || []).forEach(function (v) { top = Math.max(top, v); }); });
    top = nice(top);
    var x0 = n ? xs[0] : 0, x1 = n ? xs[n - 1] : 1;
    if (x1 <= x0) { x1 = x0 + 1; }
    function X(v) { return L + (v - x0) / (x1 - x0) * (W - L - R); }
    function Y(v) { return H - B - v / top * (H - T - B); }
    for (var i = 0; i <= 4; i++) {
      var v = top * i / 4, y = Y(v);
      svg.appendChild(el("line", { "class": "grid", x1: L, x2: W - R, y1: y, y2: y }));
      svg.appendChild(el("text", { "class": "axis", x: L - 6, y: y + 4, "text-anchor": "end" }, +v.toPrecision(3)));
    }
    [x0, (x0 + x1) / 2, x1].forEach(function (v, i) {
      svg.appendChild(el("text", { "class": "axis", x: X(v), y: H - 6, "text-anchor": ["start", "middle", "end"][i] }, (x1 - x0 < 10 ? Math.round(v * 10) / 10 : Math.round(v)) + " s"));
    });
    var legend = svg.parentNode.querySelector(".legend");
    keys.forEach(function (k) {
      var vals = data[k] || [], d = "";
      vals.forEach(function (v, i) { d += (i ? "L" : "M") + X(xs[i]).toFixed(1) + " " + Y(v).toFixed(1); });
      if (n === 1) { d += "L" + (X(xs[0]) + 2).toFixed(1) + " " + Y(vals[0]).toFixed(1); }
      svg.appendChild(el("path", { "class": "series", "data-name": k, "data-points": vals.length, d: d, stroke: colours[k] }));
      var s = document.createElement("span");
      s.innerHTML = '<i style="background:' + colours[k] + '"></i>';
      s.appendChild(document.createTextNode(names[k]));
      legend.appendChild(s);
    });
    svg.setAttribute("data-drawn", "yes");
  }
  document.querySelectorAll("svg.chart").forEach(draw);
})();
</script>
</body>
</html>
`))
