// Command mtlskit-lint is mtlskit's zlint, behind a pipe: mtlskit starts
// it when a command lints (lint, verify, issue --count), so that mtlskit
// itself does not link zlint, zcrypto and the public suffix list, whose
// package initialisation would cost every mtlskit process start about
// 2 ms. It is installed next to mtlskit (make build, go install ./cmd/...)
// and is not meant to be run by hand. The protocol is in pki/lint_proc.go.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/mtlskit/mtlskit/pki/zlinter"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "mtlskit-lint lints for mtlskit over its standard input and output; run mtlskit lint instead")
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	r := bufio.NewReaderSize(os.Stdin, 64<<10)
	fmt.Fprintf(w, "mtlskit-lint 1 %s\n", zlinter.Key())
	for {
		if err := w.Flush(); err != nil {
			os.Exit(1)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return // mtlskit is done
		}
		op, b64, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		var fs []zlinter.Finding
		switch op {
		case "C":
			flag, b64c, _ := strings.Cut(b64, " ")
			fs = zlinter.LintCert(decode(b64c), flag == "1")
		case "R":
			fs = zlinter.LintCRL(decode(b64))
		default:
			fs = []zlinter.Finding{{ID: "mtlskit_lint_request", Status: "fatal", Details: fmt.Sprintf("unknown request %q", op)}}
		}
		if fs == nil {
			fs = []zlinter.Finding{}
		}
		data, _ := json.Marshal(fs)
		w.Write(data)
		w.WriteByte('\n')
	}
}

func decode(s string) []byte {
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil // zcrypto_parse says so
	}
	return der
}
