package load

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// brokenRun is a real run of two seconds or so (30 starts at 15/s), a
// third of its identities from an unrelated CA, so the page has a
// timeline of several seconds and an error class.
func brokenRun(t *testing.T) *Report {
	t.Helper()
	srv := startReference(t, 0, 5*time.Second)
	cfg := baseConfig(t, srv.Addr(), mint(t, 30, 10))
	cfg.Rate, cfg.Messages = 15, 3
	rep := run(t, cfg)
	if rep.Counts.Failed != 10 || len(rep.Timeline) < 2 {
		t.Fatalf("counts %+v, %d seconds", rep.Counts, len(rep.Timeline))
	}
	return rep
}

func nodes(n *html.Node, match func(*html.Node) bool) []*html.Node {
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

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func elem(tag, class string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		return n.Data == tag && (class == "" || strings.Contains(" "+attrOf(n, "class")+" ", " "+class+" "))
	}
}

// selfContained fails on anything the page would fetch.
func selfContained(t *testing.T, doc *html.Node, raw []byte) {
	t.Helper()
	for _, n := range nodes(doc, func(*html.Node) bool { return true }) {
		switch n.Data {
		case "link", "img", "iframe", "object", "embed", "base":
			t.Errorf("the page has a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			switch a.Key {
			case "src", "href", "action", "srcset", "poster", "data":
				t.Errorf("<%s %s=%q>: the page must fetch nothing", n.Data, a.Key, a.Val)
			}
		}
	}
	// The SVG namespace is a name, not a fetch; anything else is.
	text := strings.ReplaceAll(string(raw), "http://www.w3.org/2000/svg", "")
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`).FindString(text); m != "" {
		t.Errorf("the page names a network URL: %s", m)
	}
	if strings.Contains(text, "@import") || strings.Contains(text, "url(") || strings.Contains(text, "fetch(") || strings.Contains(text, "XMLHttpRequest") {
		t.Error("the page imports or fetches something")
	}
}

// TestLoadHTML renders the page of a real run in headless Chromium and
// checks what its script drew: every chart, one path per series with a
// point per second of the run, and a legend; and the tables.
func TestLoadHTML(t *testing.T) {
	rep := brokenRun(t)
	var b bytes.Buffer
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	doc, err := html.Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	selfContained(t, doc, raw)
	if rows := nodes(doc, elem("tr", "error")); len(rows) != len(rep.Errors) {
		t.Errorf("%d error rows, want %d", len(rows), len(rep.Errors))
	}
	if !bytes.Contains(raw, []byte("refused in TLS by the server: unknown-ca (alert 48 unknown_ca)")) {
		t.Error("the error class is not on the page")
	}

	browser := chromiumPath(t)
	dom := dumpDOM(t, browser, raw)
	rendered, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"chart-rates": {"attempted", "established", "failed"}, "chart-open": {"open"},
		"chart-messages": {"messages"}, "chart-latency": {"tls_p99_ms", "echo_p99_ms"}}
	charts := nodes(rendered, elem("svg", "chart"))
	if len(charts) != len(want) {
		t.Fatalf("%d charts, want %d", len(charts), len(want))
	}
	for _, svg := range charts {
		id := attrOf(svg, "id")
		if attrOf(svg, "data-drawn") != "yes" {
			t.Errorf("%s was not drawn: the page's script did not run", id)
			continue
		}
		paths := nodes(svg, elem("path", "series"))
		if len(paths) != len(want[id]) {
			t.Errorf("%s has %d series, want %v", id, len(paths), want[id])
			continue
		}
		for i, p := range paths {
			if name := attrOf(p, "data-name"); name != want[id][i] {
				t.Errorf("%s series %d is %q, want %q", id, i, name, want[id][i])
			}
			if n, _ := strconv.Atoi(attrOf(p, "data-points")); n != len(rep.Timeline) {
				t.Errorf("%s %s has %d points, want one per second: %d", id, attrOf(p, "data-name"), n, len(rep.Timeline))
			}
			if d := attrOf(p, "d"); !strings.HasPrefix(d, "M") || strings.Contains(d, "NaN") || strings.Count(d, "L") < len(rep.Timeline)-1 {
				t.Errorf("%s %s path %q", id, attrOf(p, "data-name"), d)
			}
		}
		if labels := nodes(svg, elem("text", "axis")); len(labels) < 8 {
			t.Errorf("%s has %d axis labels", id, len(labels))
		}
	}
	if spans := nodes(rendered, func(n *html.Node) bool {
		return n.Data == "span" && n.Parent != nil && elem("span", "legend")(n.Parent)
	}); len(spans) != 7 {
		t.Errorf("%d legend entries, want 7", len(spans))
	}
}

// chromiumPath finds Debian's chromium (or Chrome); the test is skipped
// only when none is installed (.ci/run installs chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium): the HTML page is not rendered")
	return ""
}

func chromiumArgs(dir string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--hide-scrollbars", "--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1400,1000"}
}

// dumpDOM loads page offline in headless Chromium and returns the DOM
// after its script ran.
func dumpDOM(t *testing.T, browser string, page []byte) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "load.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, browser, append(chromiumArgs(dir), "--dump-dom", "file://"+file)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "<svg") {
		t.Fatalf("chromium dumped no page:\n%s\n%s", out.String(), errb.String())
	}
	return out.String()
}
