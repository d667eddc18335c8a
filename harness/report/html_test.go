package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"golang.org/x/net/html"
)

// matrixReports runs every scenario twice: against the reference pair,
// and against the lax server and the insecure client of the negative
// controls, so the page has a two-column matrix with passes and failures.
func matrixReports(t *testing.T) []*harness.Report {
	t.Helper()
	m := testMaterials()
	good, err := harness.Run(context.Background(), nil, harness.Options{Materials: m, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := harness.Run(context.Background(), nil, harness.Options{Materials: m, Timeout: 2 * time.Second,
		Server: harness.NegativeControlLaxServer(), Client: harness.NegativeControlInsecureClient()})
	if err != nil {
		t.Fatal(err)
	}
	if !good.OK() || bad.OK() {
		t.Fatalf("reference run ok=%v, lax run ok=%v", good.OK(), bad.OK())
	}
	return []*harness.Report{good, bad}
}

// renderHTML writes the page for reps.
func renderHTML(t *testing.T, reps ...*harness.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, reps...); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	return strings.Contains(" "+v+" ", " "+class+" ")
}

// find returns every element below n (n included) that matches.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func isElem(tag string, classes ...string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		if n.Data != tag {
			return false
		}
		for _, c := range classes {
			if !hasClass(n, c) {
				return false
			}
		}
		return true
	}
}

// checkSelfContained fails on anything the page would fetch: external
// scripts, stylesheets, images, frames, and absolute URLs in src or href.
func checkSelfContained(t *testing.T, doc *html.Node, raw []byte) {
	t.Helper()
	for _, n := range find(doc, func(*html.Node) bool { return true }) {
		switch n.Data {
		case "link", "img", "iframe", "object", "embed", "base":
			t.Errorf("the page has a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			switch a.Key {
			case "src", "href", "action", "srcset", "poster", "data":
				if !strings.HasPrefix(a.Val, "#") {
					t.Errorf("<%s %s=%q>: only in-page links are allowed", n.Data, a.Key, a.Val)
				}
			}
		}
	}
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`).Find(raw); m != nil {
		t.Errorf("the page names a network URL: %s", m)
	}
	if bytes.Contains(raw, []byte("@import")) || bytes.Contains(raw, []byte("url(")) {
		t.Error("the CSS imports or fetches something")
	}
}

func TestHTMLReportStructure(t *testing.T) {
	reps := matrixReports(t)
	controls, err := harness.RunNegativeControls(context.Background(), harness.Options{Materials: testMaterials(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	reps = append(reps, controls)
	raw := renderHTML(t, reps...)
	doc, err := html.Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, doc, raw)

	runs := find(doc, isElem("section", "run"))
	if len(runs) != len(reps) {
		t.Fatalf("%d run sections, want %d", len(runs), len(reps))
	}
	for i, rep := range reps {
		rows := find(runs[i], isElem("details", "result"))
		var want []harness.Result
		if rep.Kind == harness.KindControls {
			want = rep.Results
			if len(rows) != len(want) {
				t.Fatalf("controls: %d rows, want %d encounters", len(rows), len(want))
			}
			if marks := find(runs[i], isElem("span", "group-mark", "pass")); len(marks) != len(rep.Controls)+1 {
				t.Errorf("controls: %d CAUGHT/OK marks, want %d", len(marks), len(rep.Controls)+1)
			}
			continue
		}
		want = rep.Results
		if len(rows) != len(want) {
			t.Fatalf("run %d: %d rows, want one per scenario (%d)", i+1, len(rows), len(want))
		}
		for j, r := range want {
			row := rows[j]
			name, _ := attr(row, "data-scenario")
			class := "fail"
			if r.Pass {
				class = "pass"
			}
			if name != r.Scenario.Name || !hasClass(row, class) {
				t.Errorf("run %d row %d: scenario %q class %q, want %q %q", i+1, j, name, mustAttr(row, "class"), r.Scenario.Name, class)
			}
			if _, open := attr(row, "open"); open != !r.Pass {
				t.Errorf("run %d %s: open=%v; failed rows start expanded, passed ones collapsed", i+1, name, open)
			}
			if len(find(row, isElem("summary"))) != 1 || len(find(row, isElem("td", "layer"))) < 3 {
				t.Errorf("run %d %s: a row needs a summary and its layers' evidence", i+1, name)
			}
		}
	}

	// The matrix: one row per scenario, one column per scenario run,
	// each cell linking to its row.
	tables := find(doc, isElem("table", "matrix"))
	if len(tables) != 1 {
		t.Fatalf("%d matrix tables, want 1", len(tables))
	}
	body := find(tables[0], isElem("tbody"))[0]
	trs := find(body, isElem("tr"))
	if len(trs) != len(harness.Scenarios()) {
		t.Fatalf("matrix: %d rows, want %d", len(trs), len(harness.Scenarios()))
	}
	ids := map[string]bool{}
	for _, n := range find(doc, isElem("details")) {
		id, _ := attr(n, "id")
		ids[id] = true
	}
	for _, tr := range trs {
		cells := find(tr, isElem("td", "cell"))
		if len(cells) != 2 {
			t.Fatalf("matrix row has %d cells, want 2", len(cells))
		}
		for _, a := range find(tr, isElem("a")) {
			href, _ := attr(a, "href")
			if !ids[strings.TrimPrefix(href, "#")] {
				t.Errorf("matrix link %s points nowhere", href)
			}
		}
	}
	if n := len(find(tables[0], isElem("td", "cell", "fail"))); n != len(reps[1].Results)-reps[1].Passed() {
		t.Errorf("matrix: %d failed cells, want %d", n, len(reps[1].Results)-reps[1].Passed())
	}
}

func mustAttr(n *html.Node, key string) string { v, _ := attr(n, key); return v }

func TestHTMLReportEscapes(t *testing.T) {
	s, _ := harness.Lookup("valid-client")
	rep := &harness.Report{Kind: harness.KindScenarios, ServerSubject: `<script>alert(1)</script>`, ClientSubject: "reference",
		Results: []harness.Result{{Scenario: s[0], Verdict: harness.Verdict{Outcome: harness.RejectedHTTP, Layer: "http",
			Reason: harness.Reason{ID: harness.ReasonHTTPStatus, Text: `"400 <b>No required SSL certificate was sent</b>"`}}, Mismatch: "x < y & z"}}}
	raw := renderHTML(t, rep)
	if bytes.Contains(raw, []byte("<script>alert")) || bytes.Contains(raw, []byte("<b>No required")) {
		t.Fatalf("subject text reached the page unescaped:\n%s", raw)
	}
	if !bytes.Contains(raw, []byte("x &lt; y &amp; z")) {
		t.Error("the mismatch is missing or double-escaped")
	}
}

// chromium finds Debian's chromium (or Chrome); the screenshot test is
// skipped only when none is installed (.ci/run installs chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium): the HTML report is not rendered")
	return ""
}

// screenshot renders page in headless Chromium, offline, and returns the PNG.
func screenshot(t *testing.T, browser string, page []byte) image.Image {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--screenshot="+shot, "--window-size=1400,1000", "file://"+file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v\n%s", err, out)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// colourShare is the fraction of pixels close to the given colour.
func colourShare(img image.Image, r0, g0, b0 int) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bb, _ := img.At(x, y).RGBA()
			d := abs(int(r>>8)-r0) + abs(int(g>>8)-g0) + abs(int(bb>>8)-b0)
			if d < 24 {
				n++
			}
		}
	}
	return float64(n) / float64((b.Dx()/2)*(b.Dy()/2))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestHTMLReportScreenshot renders the two-run page in headless Chromium
// and checks the picture: the window's size, not blank, the pass and fail
// colours present, and the same size as docs/report-screenshot.png. With
// MTLSKIT_UPDATE_SCREENSHOT=1 it rewrites that file.
func TestHTMLReportScreenshot(t *testing.T) {
	browser := chromium(t)
	page := renderHTML(t, matrixReports(t)...)
	img := screenshot(t, browser, page)
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 1000 {
		t.Fatalf("screenshot is %dx%d, want 1400x1000", b.Dx(), b.Dy())
	}
	white := colourShare(img, 255, 255, 255)
	if white > 0.97 || white < 0.3 {
		t.Errorf("screenshot is %.0f%% white: blank or unstyled", 100*white)
	}
	if g := colourShare(img, 0xda, 0xfb, 0xe1); g < 0.002 {
		t.Errorf("no pass colour in the screenshot (%.4f)", g)
	}
	if r := colourShare(img, 0xff, 0xeb, 0xe9); r < 0.002 {
		t.Errorf("no fail colour in the screenshot (%.4f)", r)
	}
	docPath := filepath.Join("..", "..", "docs", "report-screenshot.png")
	if os.Getenv("MTLSKIT_UPDATE_SCREENSHOT") == "1" {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(docPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", docPath)
	}
	f, err := os.Open(docPath)
	if err != nil {
		t.Fatalf("%v: regenerate it with MTLSKIT_UPDATE_SCREENSHOT=1 go test -run TestHTMLReportScreenshot ./harness/report/", err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 1400 || cfg.Height != 1000 {
		t.Errorf("%s is %dx%d, want 1400x1000 like a fresh screenshot", docPath, cfg.Width, cfg.Height)
	}
}
