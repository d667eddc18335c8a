package harness_test

import (
	"context"
	"fmt"

	"github.com/mtlskit/mtlskit/harness"
)

// Run three scenarios against the reference pair and print each verdict.
// The run adds valid-server, the control of the client-side reject
// scenario: a refusal only counts from a client that accepts a valid
// server.
func ExampleRun() {
	scenarios, err := harness.Lookup("valid-client", "no-client-cert", "server-missing-san")
	if err != nil {
		panic(err)
	}
	rep, err := harness.Run(context.Background(), scenarios, harness.Options{})
	if err != nil {
		panic(err)
	}
	for _, r := range rep.Results {
		fmt.Printf("%s: %s refused_by=%q reason=%s pass=%v control=%v\n", r.Scenario.Name, r.Outcome, r.RefusedBy, r.Reason.ID, r.Pass, r.Control)
	}
	// Output:
	// valid-client: accepted refused_by="" reason=echo-verified pass=true control=false
	// no-client-cert: rejected-tls refused_by="server" reason=certificate-required pass=true control=false
	// valid-server: accepted refused_by="" reason=echo-verified pass=true control=true
	// server-missing-san: rejected-tls refused_by="client" reason=legacy-cn pass=true control=false
}
