package load_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/load"
)

// Load the reference server with 20 identities of their own, 5 of them
// from a CA the server does not trust: the report counts every
// connection and names every refusal as the harness would.
func Example() {
	m, err := harness.NewMaterials()
	if err != nil {
		panic(err)
	}
	srv, err := harness.ReferenceServer().Start(context.Background(), harness.ServerConfig{
		Encounter: harness.Encounter{Server: m.Server, ServerSendsChain: true, ClientCAs: []*x509.Certificate{m.Root.Cert}}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ca, _ := m.Root.Issuer()
	ids, err := load.Mint(ca, 20, load.MintOptions{Untrusted: 5})
	if err != nil {
		panic(err)
	}
	rep, err := load.Run(context.Background(), load.Config{
		Target:      load.Target{URL: "wss://" + srv.Addr() + "/", RootCAs: []*x509.Certificate{m.Root.Cert}},
		Identities:  ids,
		Connections: 20, Messages: 3, MessageSize: 128, Timeout: 5 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	c := rep.Counts
	fmt.Printf("attempted %d, established %d, failed %d, messages echoed %d\n", c.Attempted, c.Established, c.Failed, c.MessagesEchoed)
	fmt.Printf("TLS handshakes timed: %d, echo round trips timed: %d\n", rep.Latency.TLS.Count(), rep.Latency.Echo.Count())
	for _, e := range rep.Errors {
		fmt.Printf("%d %s\n", e.Count, e.Summary())
	}
	// Output:
	// attempted 20, established 15, failed 5, messages echoed 45
	// TLS handshakes timed: 15, echo round trips timed: 45
	// 5 refused in TLS by the server: unknown-ca (alert 48 unknown_ca)
}
