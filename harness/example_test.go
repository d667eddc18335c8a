package harness_test

import (
	"context"
	"fmt"

	"github.com/mtlskit/mtlskit/harness"
)

// Run two scenarios against the reference pair and print each verdict.
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
		fmt.Printf("%s: %s refused_by=%q reason=%s pass=%v\n", r.Scenario.Name, r.Outcome, r.RefusedBy, r.Reason.ID, r.Pass)
	}
	// Output:
	// valid-client: accepted refused_by="" reason=echo-verified pass=true
	// no-client-cert: rejected-tls refused_by="server" reason=certificate-required pass=true
	// server-missing-san: rejected-tls refused_by="client" reason=legacy-cn pass=true
}
