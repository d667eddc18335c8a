package main

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "readable dump of a certificate, chain, CSR, key or PKCS#12 file",
		UsageText: "mtlskit inspect FILE [--json] [--password-file F]",
		Flags: []cli.Flag{jsonFlag,
			&cli.StringFlag{Name: "password-file", Usage: "PKCS#12 password file (default: empty password)"},
		},
		Action: inspect,
	}
}

// inspected is the --json form of inspect.
type inspected struct {
	File         string         `json:"file"`
	Format       string         `json:"format"`
	Certificates []pki.CertInfo `json:"certificates,omitempty"`
	Request      *csrInfo       `json:"request,omitempty"`
	Key          *keyInfo       `json:"key,omitempty"`
}

type csrInfo struct {
	Subject            string      `json:"subject"`
	KeyType            pki.KeyType `json:"key_type"`
	SignatureAlgorithm string      `json:"signature_algorithm"`
	SANs               []string    `json:"sans"`
}

type keyInfo struct {
	KeyType   pki.KeyType `json:"key_type"`
	Encrypted bool        `json:"encrypted"`
}

func inspect(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("inspect needs exactly one FILE argument, got %d", c.NArg())
	}
	path := c.Args().First()
	data, err := os.ReadFile(path)
	if err != nil {
		return failf("%s cannot be read (%s): check the path", path, errText(err))
	}
	res, err := inspectData(c, path, data)
	if err != nil {
		return failf("%s: %v", path, err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
	}
	printInspected(c.App.Writer, res, time.Now())
	return nil
}

func inspectData(c *cli.Context, path string, data []byte) (*inspected, error) {
	res := &inspected{File: path}
	block, _ := pem.Decode(data)
	switch {
	case block != nil && strings.Contains(block.Type, "PRIVATE KEY"):
		res.Format = "pem-private-key"
		if block.Type == "ENCRYPTED PRIVATE KEY" {
			res.Key = &keyInfo{KeyType: "unknown (encrypted)", Encrypted: true}
			return res, nil
		}
		k, err := pki.ParseKey(data, nil)
		if err != nil {
			return nil, err
		}
		res.Key = &keyInfo{KeyType: pki.KeyTypeOf(k.Public())}
		return res, nil
	case block != nil && strings.Contains(block.Type, "CERTIFICATE REQUEST"):
		csr, err := pki.ParseCSR(data)
		if err != nil {
			return nil, err
		}
		res.Format = "pem-csr"
		res.Request = &csrInfo{
			Subject: csr.Subject.String(), KeyType: pki.KeyTypeOf(csr.PublicKey),
			SignatureAlgorithm: csr.SignatureAlgorithm.String(),
			SANs:               pki.SANsOf(csr.DNSNames, csr.IPAddresses, csr.EmailAddresses, csr.URIs).Strings(),
		}
		return res, nil
	}
	certs, certErr := pki.ParseCerts(data)
	if certErr == nil {
		res.Format = "pem-certificates"
		if block == nil {
			res.Format = "der-certificate"
		}
		for _, crt := range certs {
			res.Certificates = append(res.Certificates, pki.InfoOf(crt))
		}
		return res, nil
	}
	if block == nil && len(data) > 0 && data[0] == 0x30 {
		certs, err := p12Certs(c, data)
		if err == nil {
			res.Format = "pkcs12"
			for _, crt := range certs {
				res.Certificates = append(res.Certificates, pki.InfoOf(crt))
			}
			return res, nil
		}
		// A PKCS#12 file it could not open: say so rather than that it
		// is no certificate. Any other failure means it is not PKCS#12.
		var ce *cmdError
		switch {
		case errors.Is(err, pki.ErrWrongPKCS12Password):
			return nil, errors.New("PKCS#12 password is wrong or missing: pass --password-file")
		case errors.As(err, &ce): // --password-file cannot be read
			return nil, err
		}
	}
	return nil, certErr
}

func printInspected(w io.Writer, res *inspected, now time.Time) {
	switch {
	case res.Key != nil:
		enc := ""
		if res.Key.Encrypted {
			enc = ", encrypted"
		}
		fmt.Fprintf(w, "%s: private key (%s%s)\n", res.File, res.Key.KeyType, enc)
	case res.Request != nil:
		r := res.Request
		fmt.Fprintf(w, "%s: certificate request\n  Subject:    %s\n  Key:        %s\n  Signature:  %s\n  SANs:       %s\n",
			res.File, r.Subject, r.KeyType, r.SignatureAlgorithm, orDash(joinComma(r.SANs)))
	}
	for i, ci := range res.Certificates {
		if len(res.Certificates) > 1 {
			fmt.Fprintf(w, "Certificate %d of %d (%s)\n", i+1, len(res.Certificates), res.Format)
		} else {
			fmt.Fprintf(w, "Certificate (%s)\n", res.Format)
		}
		kind := "leaf"
		if ci.IsCA {
			kind = "CA"
			if ci.MaxPathLen != nil {
				kind += fmt.Sprintf(", path length %d", *ci.MaxPathLen)
			}
		}
		if ci.SelfSigned {
			kind += ", self-signed"
		}
		rows := [][2]string{
			{"Subject", ci.Subject}, {"Issuer", ci.Issuer}, {"Serial", ci.Serial},
			{"Valid from", ci.NotBefore.Format(time.RFC3339)},
			{"Valid until", ci.NotAfter.Format(time.RFC3339) + " (" + relative(ci.NotAfter, now) + ")"},
			{"Key", string(ci.KeyType)}, {"Signature", ci.SignatureAlgorithm}, {"Type", kind},
			{"SANs", orDash(joinComma(ci.SANs))},
			{"Key usage", orDash(joinComma(ci.KeyUsage))}, {"Ext key usage", orDash(joinComma(ci.ExtKeyUsage))},
			{"Subject key id", orDash(ci.SubjectKeyID)}, {"Authority key id", orDash(ci.AuthorityKeyID)},
		}
		if len(ci.PermittedDNS)+len(ci.ExcludedDNS)+len(ci.PermittedIPs) > 0 {
			rows = append(rows, [2]string{"Name constraints", fmt.Sprintf("permitted DNS %s; excluded DNS %s; permitted IP %s",
				orDash(joinComma(ci.PermittedDNS)), orDash(joinComma(ci.ExcludedDNS)), orDash(joinComma(ci.PermittedIPs)))})
		}
		rows = append(rows, [2]string{"SHA-256", ci.SHA256})
		for _, r := range rows {
			fmt.Fprintf(w, "  %-17s %s\n", r[0]+":", r[1])
		}
	}
}

func relative(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d < 0:
		return "expired " + humanDuration(-d) + " ago"
	default:
		return "in " + humanDuration(d)
	}
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 2*pki.Year:
		return fmt.Sprintf("%d years", d/pki.Year)
	case d >= 2*pki.Day:
		return fmt.Sprintf("%d days", d/pki.Day)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.Round(time.Minute).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
