package pki_test

import (
	"crypto/x509"
	"fmt"
	"log"

	"github.com/mtlskit/mtlskit/pki"
)

// A private CA for mutual TLS: a root, a server certificate for
// localhost and 127.0.0.1, and a client certificate, each verified the
// way a TLS peer verifies it.
func Example() {
	root, err := pki.NewRootCA(pki.Request{CommonName: "Example Root CA"})
	if err != nil {
		log.Fatal(err)
	}
	ca, err := root.Issuer()
	if err != nil {
		log.Fatal(err)
	}

	sans, err := pki.ParseSANs("localhost,127.0.0.1")
	if err != nil {
		log.Fatal(err)
	}
	server, err := ca.Issue(pki.Request{Kind: pki.KindServer, SANs: sans})
	if err != nil {
		log.Fatal(err)
	}
	client, err := ca.Issue(pki.Request{Kind: pki.KindClient, CommonName: "alice"})
	if err != nil {
		log.Fatal(err)
	}

	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)
	verify := func(c *x509.Certificate, usage x509.ExtKeyUsage, host string) error {
		_, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}

	fmt.Println("root is a CA:", root.Cert.IsCA, "path length", root.Cert.MaxPathLen)
	fmt.Println("server:", server.Cert.Subject.CommonName, server.Cert.DNSNames, server.Cert.IPAddresses)
	fmt.Println("server for localhost:", verify(server.Cert, x509.ExtKeyUsageServerAuth, "localhost"))
	fmt.Println("server for 127.0.0.1:", verify(server.Cert, x509.ExtKeyUsageServerAuth, "127.0.0.1"))
	fmt.Println("server for example.com:", verify(server.Cert, x509.ExtKeyUsageServerAuth, "example.com"))
	fmt.Println("client alice:", verify(client.Cert, x509.ExtKeyUsageClientAuth, ""))
	fmt.Println("client as a server:", verify(client.Cert, x509.ExtKeyUsageServerAuth, ""))
	fmt.Println("zlint findings:", len(pki.Lint(root.Cert))+len(pki.Lint(server.Cert))+len(pki.Lint(client.Cert)))
	// Output:
	// root is a CA: true path length 0
	// server: localhost [localhost] [127.0.0.1]
	// server for localhost: <nil>
	// server for 127.0.0.1: <nil>
	// server for example.com: x509: certificate is valid for localhost, not example.com
	// client alice: <nil>
	// client as a server: x509: certificate specifies an incompatible key usage
	// zlint findings: 0
}

// An invalid SAN is refused with an error naming the entry and why.
func ExampleParseSANs() {
	sans, err := pki.ParseSANs("localhost, ::1, spiffe://corp/alice, alice@example.com")
	fmt.Println(sans.Strings(), err)
	_, err = pki.ParseSANs("localhost,foo_bar.example")
	fmt.Println(err)
	// Output:
	// [localhost ::1 alice@example.com spiffe://corp/alice] <nil>
	// SAN "foo_bar.example" is not a valid DNS name: label "foo_bar" contains an underscore, which host names may not have
}

// A leaf may not outlive its issuer: Issue refuses rather than clamp.
func ExampleIssuer_Issue_outliveIssuer() {
	root, _ := pki.NewRootCA(pki.Request{Validity: 30 * pki.Day})
	ca, _ := root.Issuer()
	sans, _ := pki.ParseSANs("localhost")
	_, err := ca.Issue(pki.Request{Kind: pki.KindServer, SANs: sans, Validity: 90 * pki.Day})
	fmt.Println(err != nil)
	// Output:
	// true
}

// Export a certificate, its key and its chain for a browser or a Java key
// store.
func ExampleEncodePKCS12() {
	root, _ := pki.NewRootCA(pki.Request{})
	ca, _ := root.Issuer()
	client, _ := ca.Issue(pki.Request{Kind: pki.KindClient, CommonName: "alice"})

	p12, err := pki.EncodePKCS12(client, root.Cert, "a long random password", false)
	if err != nil {
		log.Fatal(err)
	}
	back, backRoot, err := pki.DecodePKCS12(p12, "a long random password")
	fmt.Println(err, back.Cert.Subject.CommonName, backRoot.Subject.CommonName)
	_, _, err = pki.DecodePKCS12(p12, "guess")
	fmt.Println(err)
	// Output:
	// <nil> alice mtlskit Root CA
	// the password does not open the PKCS#12 file
}
