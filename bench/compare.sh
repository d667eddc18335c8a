#!/usr/bin/env bash
# Times the three-step workflow (a CA, a server certificate for
# localhost,127.0.0.1,::1, a client certificate for alice) with mtlskit and
# with its peers: the openssl CLI, mkcert, step and cfssl. Runs alternate
# between tools so drift in machine load hits all of them alike, and each
# tool's median wall time is printed with its ratio to openssl.
#
# usage: bench/compare.sh [RUNS]   (default 15)
# Needs: openssl (apt), and optionally mkcert, step, cfssl + cfssljson:
#   go install filippo.io/mkcert@latest
#   go install github.com/smallstep/cli/cmd/step@latest
#   go install github.com/cloudflare/cfssl/cmd/{cfssl,cfssljson}@v1.6.5
# mtlskit is built from this tree into a temp dir.
set -euo pipefail
runs=${1:-15}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PATH="$PATH:$(go env GOPATH)/bin"
(cd "$here/.." && go build -trimpath -tags urfave_cli_no_docs -ldflags '-s -w' -o "$work/mtlskit" ./cmd/mtlskit &&
  go build -trimpath -ldflags '-s -w' -o "$work/mtlskit-lint" ./cmd/mtlskit-lint)

wf_mtlskit() {
  "$work/mtlskit" ca init --dir "$1" >/dev/null
  "$work/mtlskit" issue server --dir "$1" --san localhost,127.0.0.1,::1 >/dev/null
  "$work/mtlskit" issue client --dir "$1" --cn alice >/dev/null
}
wf_openssl() { "$here/openssl-workflow.sh" "$1"; }
wf_mkcert() {
  mkdir -p "$1"; cd "$1"
  CAROOT="$1" mkcert >/dev/null 2>&1 || true    # creates the CA, prints usage
  CAROOT="$1" mkcert -cert-file server.pem -key-file server.key localhost 127.0.0.1 ::1 >/dev/null 2>&1
  CAROOT="$1" mkcert -client -cert-file client.pem -key-file client.key alice >/dev/null 2>&1
  cd - >/dev/null
}
wf_step() {
  mkdir -p "$1"; cd "$1"
  step certificate create "bench Root CA" ca.crt ca.key --profile root-ca --no-password --insecure >/dev/null 2>&1
  step certificate create localhost server.crt server.key --profile leaf --ca ca.crt --ca-key ca.key \
    --san localhost --san 127.0.0.1 --san ::1 --no-password --insecure >/dev/null 2>&1
  step certificate create alice client.crt client.key --profile leaf --ca ca.crt --ca-key ca.key \
    --no-password --insecure >/dev/null 2>&1
  cd - >/dev/null
}
wf_cfssl() {
  mkdir -p "$1"; cd "$1"
  echo '{"CN":"bench Root CA","key":{"algo":"ecdsa","size":256}}' > ca-csr.json
  echo '{"signing":{"profiles":{"server":{"usages":["digital signature","server auth"],"expiry":"8760h"},"client":{"usages":["digital signature","client auth"],"expiry":"8760h"}}}}' > config.json
  echo '{"CN":"localhost","hosts":["localhost","127.0.0.1","::1"],"key":{"algo":"ecdsa","size":256}}' > server-csr.json
  echo '{"CN":"alice","key":{"algo":"ecdsa","size":256}}' > client-csr.json
  cfssl gencert -initca ca-csr.json 2>/dev/null | cfssljson -bare ca
  cfssl gencert -ca ca.pem -ca-key ca-key.pem -config config.json -profile server server-csr.json 2>/dev/null | cfssljson -bare server
  cfssl gencert -ca ca.pem -ca-key ca-key.pem -config config.json -profile client client-csr.json 2>/dev/null | cfssljson -bare client
  cd - >/dev/null
}

tools=(openssl mtlskit)
command -v mkcert >/dev/null && tools+=(mkcert)
command -v step >/dev/null && tools+=(step)
command -v cfssl >/dev/null && command -v cfssljson >/dev/null && tools+=(cfssl)

declare -A times
for ((i = 0; i < runs; i++)); do
  for t in "${tools[@]}"; do
    d="$work/$t-$i"
    start=$(date +%s%N)
    "wf_$t" "$d"
    end=$(date +%s%N)
    times[$t]+="$(( (end - start) / 1000 )) "
    rm -rf "$d"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
base=$(echo "${times[openssl]}" | median)
printf '%-8s %12s %10s   (%d runs each, alternating; wall time of ca + server + client)\n' tool "median ms" "x openssl" "$runs"
for t in "${tools[@]}"; do
  m=$(echo "${times[$t]}" | median)
  awk -v t="$t" -v m="$m" -v b="$base" 'BEGIN {printf "%-8s %12.1f %10.2f\n", t, m/1000, m/b}'
done
