package snippet_test

import (
	"fmt"
	"strings"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/mtlskit/mtlskit/snippet"
)

// Render the nginx snippet for a server certificate: the store's files by
// absolute path, the client CA, and ssl_verify_client on.
func ExampleRender() {
	root, err := pki.NewRootCA(pki.Request{CommonName: "Example Root CA", KeyType: pki.ECDSAP256, Validity: pki.Day})
	if err != nil {
		panic(err)
	}
	issuer, _ := root.Issuer()
	leaf, err := issuer.Issue(pki.Request{Kind: pki.KindServer, CommonName: "localhost", SANs: pki.SANs{DNS: []string{"localhost"}}, KeyType: pki.ECDSAP256, Validity: pki.Day})
	if err != nil {
		panic(err)
	}
	p := snippet.Params{Name: "localhost", Files: snippet.Files{CA: "/pki/ca/root.pem", Cert: "/pki/issued/localhost/cert.pem",
		Chain: "/pki/issued/localhost/chain.pem", Key: "/pki/issued/localhost/key.pem"}}
	out, err := snippet.Render("nginx", p, leaf.Cert)
	if err != nil {
		panic(err)
	}
	for _, line := range strings.Split(out.Text, "\n") {
		if strings.Contains(line, "ssl_verify_client") || strings.Contains(line, "ssl_client_certificate") {
			fmt.Println(strings.TrimSpace(line))
		}
	}
	// Output:
	// ssl_client_certificate /pki/ca/root.pem;  # the CA client certificates must chain to
	// ssl_verify_client      on;     # not "optional": that lets clients without a certificate in
}
