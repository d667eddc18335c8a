package report_test

import (
	"context"
	"os"
	"regexp"
	"strings"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/harness/report"
)

// Run two scenarios against the reference pair and print the table a
// person reads (timings masked so the output is stable).
func ExampleWriteTable() {
	scenarios, _ := harness.Lookup("valid-client", "expired-client")
	rep, err := harness.Run(context.Background(), scenarios, harness.Options{})
	if err != nil {
		panic(err)
	}
	var b strings.Builder
	_ = report.WriteTable(&b, rep, report.TableOptions{})
	out := regexp.MustCompile(`in [0-9.]+m?s`).ReplaceAllString(b.String(), "in T")
	out = regexp.MustCompile(`expired on [0-9-]+ [0-9:]+ UTC`).ReplaceAllString(out, "expired on DATE")
	os.Stdout.WriteString(out)
	// Output:
	// RESULT  SCENARIO        SIDE    EXPECTED  OBSERVED      LAYER: REASON
	// PASS    valid-client    server  accept    accepted      ws: 2 of 2 messages (299 bytes) echoed byte-exact
	// PASS    expired-client  server  reject    rejected-tls  tls: refused by server: certificate "mtlskit harness client" expired on DATE (alert 45 certificate_expired) [expired]
	// 2 of 2 scenarios passed, 0 failed, in T (server: reference, client: reference, timeout 5s, TLS negotiated)
}
