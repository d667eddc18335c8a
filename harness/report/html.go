package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/harness"
)

// WriteHTML writes one self-contained HTML page for one or more runs: no
// network fetches (inline CSS and a few lines of inline JavaScript), a
// matrix of scenarios × subject runs when several scenario runs are
// given, then each run's rows, colour-coded, each expandable (<details>)
// to its layer-by-layer evidence. Failed rows start expanded. A
// negative-control report gets one group per control.
func WriteHTML(w io.Writer, reps ...*harness.Report) error {
	if len(reps) == 0 {
		return fmt.Errorf("WriteHTML needs at least one report")
	}
	page := htmlPage{OK: true}
	for i, rep := range reps {
		run := htmlRunOf(fmt.Sprintf("run%d", i+1), rep)
		page.OK = page.OK && run.OK
		page.Runs = append(page.Runs, run)
		if page.Started.IsZero() || rep.Started.Before(page.Started) {
			page.Started = rep.Started
		}
	}
	page.Matrix = htmlMatrixOf(page.Runs)
	return htmlTemplate.Execute(w, page)
}

type htmlPage struct {
	OK      bool
	Started time.Time
	Runs    []htmlRun
	Matrix  *htmlMatrix
}

type htmlRun struct {
	ID, Kind      string
	Title         string
	OK            bool
	Summary       string
	Facts         [][2]string
	Groups        []htmlGroup
	SubjectErrors []string
	byScenario    map[string]*htmlRow
}

type htmlGroup struct {
	Title, Note string
	// Mark and Class are the control's CAUGHT/MISSED, "" for a scenario run.
	Mark, Class string
	Rows        []htmlRow
}

type htmlRow struct {
	ID                                                     string
	Scenario, Side, Expected, Outcome                      string
	Description, Reason, Mismatch, Above, Mark, Importance string
	// Class is pass, fail or skip.
	Class    string
	Open     bool
	Duration string
	Layers   []htmlLayer
	Server   []string
	Client   []string
}

type htmlLayer struct {
	Name, Status, Detail, Error string
	Facts                       []string
}

type htmlMatrix struct {
	Runs []htmlRun
	Rows []htmlMatrixRow
}

type htmlMatrixRow struct {
	Scenario, Side, Expected string
	Cells                    []*htmlRow // nil: not run in that column
}

func htmlRunOf(id string, rep *harness.Report) htmlRun {
	run := htmlRun{ID: id, Kind: rep.Kind, OK: rep.OK(), SubjectErrors: rep.SubjectErrors, byScenario: map[string]*htmlRow{}}
	run.Facts = [][2]string{
		{"server", rep.ServerSubject}, {"client", rep.ClientSubject},
		{"TLS", harness.TLSVersionName(rep.TLSVersion)}, {"timeout", rep.Timeout.String()},
		{"started", rep.Started.UTC().Format("2006-01-02 15:04:05 UTC")},
		{"duration", rep.Duration.Round(time.Millisecond).String()},
	}
	if rep.StrictTLS {
		run.Facts = append(run.Facts, [2]string{"strict TLS", "yes"})
	}
	if rep.AcceptOnUpgrade {
		run.Facts = append(run.Facts, [2]string{"accept on", "upgrade"})
	}
	if rep.Kind == harness.KindControls {
		run.Title = "negative controls"
		run.Facts = run.Facts[2:] // the subjects vary by control
		caught := 0
		for _, c := range rep.Controls {
			g := htmlGroup{Title: c.Control.Name, Note: c.Control.Description + " (subject: " + c.Control.Subject + ")", Mark: "MISSED", Class: "fail"}
			if c.Caught {
				caught++
				g.Mark, g.Class = "CAUGHT", "pass"
			} else if c.Why != "" {
				g.Note += ". Missed: " + c.Why
			}
			for _, r := range c.Results {
				row := htmlRowOf(id+"-"+c.Control.Name+"-"+r.Scenario.Name, r)
				// Within a control, a failed scenario is the point.
				row.Mark, row.Class, row.Open = g.Mark, g.Class, !c.Caught
				g.Rows = append(g.Rows, row)
			}
			run.Groups = append(run.Groups, g)
		}
		run.Summary = fmt.Sprintf("%d of %d negative controls caught (%d encounters)", caught, len(rep.Controls), len(rep.Results))
		return run
	}
	run.Title = "server: " + rep.ServerSubject + " · client: " + rep.ClientSubject
	run.Summary = Counts(rep)
	if rep.Subject != "" {
		run.Title = rep.Subject
		run.Summary = subjectLine(rep)
	} else if rep.RunError != "" {
		run.Summary += ": " + rep.RunError
	}
	for _, side := range []harness.Side{harness.ServerSide, harness.ClientSide} {
		g := htmlGroup{Title: string(side) + "-side scenarios", Note: "judge the " + string(side)}
		if side == harness.ServerSide {
			g.Note += ": the reference client varies its certificate"
		} else {
			g.Note += ": the reference server varies its certificate"
		}
		for _, r := range rep.Results {
			if r.Scenario.Side == side {
				g.Rows = append(g.Rows, htmlRowOf(id+"-"+r.Scenario.Name, r))
			}
		}
		if len(g.Rows) > 0 {
			run.Groups = append(run.Groups, g)
		}
	}
	for gi := range run.Groups {
		for ri := range run.Groups[gi].Rows {
			row := &run.Groups[gi].Rows[ri]
			run.byScenario[row.Scenario] = row
		}
	}
	return run
}

// markClass is the CSS class of each mark.
var markClass = map[Mark]string{MarkPass: "pass", MarkSkip: "skip", MarkInconclusive: "fail", MarkFail: "fail", MarkObserved: "observed"}

func htmlRowOf(id string, r harness.Result) htmlRow {
	row := htmlRow{
		ID: id, Scenario: r.Scenario.Name, Side: string(r.Scenario.Side), Expected: string(r.Scenario.Expect),
		Outcome: string(r.Outcome), Description: r.Scenario.Description, Reason: plainReason(r),
		Mismatch: r.Mismatch, Above: r.Above, Importance: r.Scenario.Importance.String(), Duration: r.Duration.Round(time.Millisecond / 10).String(),
	}
	row.Mark, row.Scenario = string(MarkOf(r)), NameOf(r)
	row.Class, row.Open = markClass[MarkOf(r)], !r.Pass
	L := r.Layers
	layer := func(name string, l harness.Layer, facts ...string) {
		if l.Status == "" && l.Detail == "" && l.Error == "" {
			return
		}
		hl := htmlLayer{Name: name, Status: string(l.Status), Detail: l.Detail, Facts: facts}
		if l.Error != "" && !strings.Contains(l.Detail, l.Error) {
			hl.Error = l.Error
		}
		if l.Millis > 0 {
			hl.Facts = append(hl.Facts, fmt.Sprintf("%.1f ms", l.Millis))
		}
		row.Layers = append(row.Layers, hl)
	}
	var tcpFacts []string
	if !strings.Contains(L.TCP.Detail, L.TCP.Addr) {
		tcpFacts = nonEmpty(L.TCP.Addr)
	}
	layer("tcp", L.TCP.Layer, tcpFacts...)
	tlsFacts := nonEmpty(L.TLS.Version, L.TLS.CipherSuite)
	if L.TLS.ServerName != "" {
		tlsFacts = append(tlsFacts, "verified as "+L.TLS.ServerName)
	}
	if len(L.TLS.PeerChain) > 0 {
		tlsFacts = append(tlsFacts, "server chain: "+strings.Join(L.TLS.PeerChain, " → "))
	}
	tlsFacts = append(tlsFacts, fmt.Sprintf("client cert requested=%v sent=%v", L.TLS.ClientCertRequested, L.TLS.ClientCertSent))
	if L.TLS.Alert != nil {
		tlsFacts = append(tlsFacts, L.TLS.Alert.String())
	}
	if L.TLS.LateAlert {
		tlsFacts = append(tlsFacts, "refusal arrived after the client's handshake (TLS 1.3)")
	}
	if L.TLS.RefusedBy != "" {
		tlsFacts = append(tlsFacts, "refused by the "+string(L.TLS.RefusedBy))
	}
	layer("tls", L.TLS.Layer, tlsFacts...)
	var httpFacts []string
	if L.HTTP.StatusCode != 0 {
		httpFacts = append(httpFacts, fmt.Sprintf("status %d", L.HTTP.StatusCode))
	}
	if L.HTTP.BodyPrefix != "" {
		httpFacts = append(httpFacts, "body: "+L.HTTP.BodyPrefix)
	}
	layer("http", L.HTTP.Layer, httpFacts...)
	var wsFacts []string
	if L.WS.Sent > 0 {
		wsFacts = append(wsFacts, fmt.Sprintf("%d sent, %d echoed, %d/%d bytes, byte-exact=%v", L.WS.Sent, L.WS.Echoed, L.WS.BytesEchoed, L.WS.BytesSent, L.WS.ByteExact))
	}
	layer("ws", L.WS.Layer, wsFacts...)
	var closeFacts []string
	if L.Close.Code != 0 {
		closeFacts = append(closeFacts, fmt.Sprintf("code %d", L.Close.Code))
	}
	layer("close", L.Close.Layer, closeFacts...)
	if s := r.Server; s != nil {
		line := fmt.Sprintf("tls %s, client cert %s", s.TLS.Status, s.TLS.ClientCert)
		if s.TLS.Version != "" {
			line += ", " + s.TLS.Version
		}
		if s.TLS.Detail != "" {
			line += ": " + s.TLS.Detail
		}
		row.Server = append(row.Server, line)
		if s.TLS.Error != "" && !strings.Contains(s.TLS.Detail, s.TLS.Error) {
			row.Server = append(row.Server, "tls error: "+s.TLS.Error)
		}
		http := fmt.Sprintf("http request received=%v", s.HTTP.RequestReceived)
		if s.HTTP.Method != "" {
			http += fmt.Sprintf(" (%s %s)", s.HTTP.Method, s.HTTP.Path)
		}
		if s.HTTP.Detail != "" {
			http += ": " + s.HTTP.Detail
		} else if s.HTTP.StatusSent != 0 {
			http += fmt.Sprintf(", answered %d", s.HTTP.StatusSent)
		}
		row.Server = append(row.Server, http, fmt.Sprintf("ws handler ran=%v, echoed %d message(s)", s.WS.HandlerRan, s.WS.Echoed))
	}
	if c := r.Client; c != nil {
		row.Client = append(row.Client, fmt.Sprintf("$ %s  (exit %d)", strings.Join(c.Argv, " "), c.ExitCode))
		if c.Error != "" {
			row.Client = append(row.Client, "error: "+c.Error)
		}
		row.Client = append(row.Client, c.Output...)
	}
	return row
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// htmlMatrixOf builds scenarios × runs for two or more scenario runs.
func htmlMatrixOf(runs []htmlRun) *htmlMatrix {
	var cols []htmlRun
	for _, r := range runs {
		if r.Kind == harness.KindScenarios {
			cols = append(cols, r)
		}
	}
	if len(cols) < 2 {
		return nil
	}
	m := &htmlMatrix{Runs: cols}
	seen := map[string]bool{}
	for _, s := range harness.AllScenarios() {
		for _, c := range cols {
			if _, ok := c.byScenario[s.Name]; ok && !seen[s.Name] {
				seen[s.Name] = true
				row := htmlMatrixRow{Scenario: s.Name, Side: string(s.Side), Expected: string(s.Expect)}
				for _, c := range cols {
					row.Cells = append(row.Cells, c.byScenario[s.Name])
				}
				m.Rows = append(m.Rows, row)
			}
		}
	}
	return m
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{}).Parse(htmlSource))

const htmlSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mtlskit harness report{{if .OK}}: all passed{{else}}: failures{{end}}</title>
<style>
:root { --pass:#1a7f37; --pass-bg:#dafbe1; --fail:#cf222e; --fail-bg:#ffebe9; --skip:#6e7781; --skip-bg:#eaeef2; --observed:#0969da; --observed-bg:#ddf4ff;
  --ink:#1f2328; --muted:#59636e; --line:#d1d9e0; --panel:#f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
header { padding: 18px 28px 14px; border-bottom: 1px solid var(--line); background: var(--panel); display: flex; align-items: center; gap: 18px; flex-wrap: wrap; }
header h1 { font-size: 20px; margin: 0; font-weight: 600; }
header .when { color: var(--muted); }
header .tools { margin-left: auto; display: flex; gap: 8px; }
button { font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; cursor: pointer; }
button:hover { background: var(--panel); }
main { padding: 8px 28px 40px; }
.badge { display: inline-block; min-width: 52px; text-align: center; font-weight: 600; font-size: 12px; letter-spacing: .03em; padding: 2px 8px; border-radius: 999px; }
.badge.pass { color: var(--pass); background: var(--pass-bg); }
.badge.fail { color: var(--fail); background: var(--fail-bg); }
.badge.skip { color: var(--skip); background: var(--skip-bg); }
.badge.observed { color: var(--observed); background: var(--observed-bg); }
.verdict { font-size: 15px; padding: 4px 14px; }
h2 { font-size: 17px; margin: 26px 0 4px; font-weight: 600; }
h3 { font-size: 14px; margin: 18px 0 6px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
h3 .note { text-transform: none; letter-spacing: 0; font-weight: 400; }
.facts { color: var(--muted); margin: 0 0 6px; }
.facts b { color: var(--ink); font-weight: 500; }
.facts span::before { content: " · "; }
table.matrix { border-collapse: collapse; margin: 10px 0 4px; }
table.matrix th, table.matrix td { border: 1px solid var(--line); padding: 3px 10px; text-align: left; }
table.matrix thead th { background: var(--panel); font-weight: 600; vertical-align: bottom; max-width: 260px; }
table.matrix td.cell { text-align: center; }
table.matrix td.cell a { text-decoration: none; }
table.matrix td.cell.pass { background: var(--pass-bg); }
table.matrix td.cell.fail { background: var(--fail-bg); }
table.matrix td.cell.skip { background: var(--skip-bg); }
table.matrix td.cell.observed { background: var(--observed-bg); }
table.matrix td.cell.none { color: var(--skip); }
.outcome { color: var(--muted); font-size: 12px; margin-left: 6px; }
.side, .expect { color: var(--muted); }
.rows { border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
details.result { border-top: 1px solid var(--line); border-left: 4px solid var(--skip); }
details.result:first-child { border-top: 0; }
details.result.pass { border-left-color: var(--pass); }
details.result.observed { border-left-color: var(--observed); }
details.result.fail { border-left-color: var(--fail); background: #fffafa; }
details.result > summary { display: grid; grid-template-columns: 230px 60px 64px 118px 1fr 64px; gap: 10px; align-items: baseline; padding: 6px 12px; cursor: pointer; list-style: none; }
details.result > summary::-webkit-details-marker { display: none; }
details.result > summary::before { content: "▸"; position: absolute; margin-left: -10px; color: var(--muted); }
details.result[open] > summary::before { content: "▾"; }
details.result > summary:hover { background: var(--panel); }
.scenario { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-weight: 600; font-size: 13px; }
.reason { color: var(--ink); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
details[open] .reason { white-space: normal; }
.evidence { padding: 4px 14px 12px 26px; }
.evidence p { margin: 4px 0 8px; color: var(--muted); }
.evidence .why { color: var(--fail); font-weight: 500; }
table.layers { border-collapse: collapse; width: 100%; font-size: 13px; }
table.layers td { border-top: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
table.layers td.layer { width: 60px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-weight: 600; }
table.layers td.status { width: 70px; }
.st-ok { color: var(--pass); } .st-failed { color: var(--fail); font-weight: 600; } .st-skipped { color: var(--skip); }
.fact { display: inline-block; margin: 2px 6px 0 0; padding: 0 6px; border-radius: 4px; background: var(--panel); color: var(--muted); font-size: 12px; }
.err { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; color: var(--fail); }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; margin: 6px 0; font-size: 12px; white-space: pre-wrap; }
.group-mark { margin-left: 8px; vertical-align: 1px; }
.subject-errors { color: var(--fail); }
body.only-failures details.result:not(.fail), body.only-failures .group.ok { display: none; }
</style>
</head>
<body>
<header>
  <h1>mtlskit harness report</h1>
  <span class="badge verdict {{if .OK}}pass{{else}}fail{{end}}">{{if .OK}}ALL PASSED{{else}}FAILURES{{end}}</span>
  <span class="when">{{.Started.UTC.Format "2006-01-02 15:04 UTC"}} · {{len .Runs}} run{{if gt (len .Runs) 1}}s{{end}}</span>
  <span class="tools">
    <button type="button" id="expand">Expand all</button>
    <button type="button" id="collapse">Collapse all</button>
    <button type="button" id="failures">Failures only</button>
  </span>
</header>
<main>
{{with .Matrix}}
<h2>Scenario matrix</h2>
<table class="matrix">
  <thead><tr><th>scenario</th><th>judges</th><th>expected</th>{{range .Runs}}<th>{{.Title}}</th>{{end}}</tr></thead>
  <tbody>
  {{range .Rows}}<tr><th class="scenario">{{.Scenario}}</th><td class="side">{{.Side}}</td><td class="expect">{{.Expected}}</td>
    {{range .Cells}}{{if .}}<td class="cell {{.Class}}"><a href="#{{.ID}}"><span class="badge {{.Class}}">{{.Mark}}</span><span class="outcome">{{.Outcome}}</span></a></td>{{else}}<td class="cell none">not run</td>{{end}}{{end}}</tr>
  {{end}}</tbody>
</table>
{{end}}
{{range .Runs}}
<section class="run" id="{{.ID}}" data-kind="{{.Kind}}">
  <h2>{{.Title}} <span class="badge {{if .OK}}pass{{else}}fail{{end}} group-mark">{{if .OK}}OK{{else}}FAILED{{end}}</span></h2>
  <p class="facts"><b>{{.Summary}}</b>{{range .Facts}}<span>{{index . 0}} {{index . 1}}</span>{{end}}</p>
  {{range .SubjectErrors}}<p class="subject-errors">subject error: {{.}}</p>{{end}}
  {{range .Groups}}
  <div class="group{{if eq .Class "pass"}} ok{{end}}">
  <h3>{{.Title}}{{if .Mark}}<span class="badge {{.Class}} group-mark">{{.Mark}}</span>{{end}} <span class="note">— {{.Note}}</span></h3>
  <div class="rows">
  {{range .Rows}}<details class="result {{.Class}}" id="{{.ID}}" data-scenario="{{.Scenario}}"{{if .Open}} open{{end}}>
    <summary><span class="scenario">{{.Scenario}}</span><span class="side">{{.Side}}</span><span class="expect">{{.Expected}}</span><span>{{.Outcome}}</span><span class="reason" title="{{.Reason}}">{{.Reason}}</span><span class="badge {{.Class}}">{{.Mark}}</span></summary>
    <div class="evidence">
      <p>{{.Description}} · {{.Duration}}</p>
      {{if .Mismatch}}<p class="why">why ({{.Importance}}): {{.Mismatch}}</p>{{end}}
      {{if .Above}}<p class="why">above: {{.Above}}</p>{{end}}
      <table class="layers">
      {{range .Layers}}<tr><td class="layer">{{.Name}}</td><td class="status st-{{.Status}}">{{.Status}}</td><td>{{.Detail}}{{if .Error}} <span class="err">{{.Error}}</span>{{end}}<br>{{range .Facts}}<span class="fact">{{.}}</span>{{end}}</td></tr>
      {{end}}{{if .Server}}<tr><td class="layer">server</td><td class="status">saw</td><td>{{range $i, $l := .Server}}{{if $i}}<br>{{end}}{{$l}}{{end}}</td></tr>{{end}}
      </table>
      {{if .Client}}<pre>{{range .Client}}{{.}}
{{end}}</pre>{{end}}
    </div>
  </details>
  {{end}}</div>
  </div>
  {{end}}
</section>
{{end}}
</main>
<script>
(function () {
  var all = function () { return document.querySelectorAll("details.result"); };
  document.getElementById("expand").onclick = function () { all().forEach(function (d) { d.open = true; }); };
  document.getElementById("collapse").onclick = function () { all().forEach(function (d) { d.open = false; }); };
  document.getElementById("failures").onclick = function () {
    var on = document.body.classList.toggle("only-failures");
    this.textContent = on ? "Show all" : "Failures only";
  };
})();
</script>
</body>
</html>
`
