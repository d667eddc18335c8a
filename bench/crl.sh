#!/usr/bin/env bash
# The cost of revocation at fleet scale: a store with N client
# certificates (default 10000), all revoked in one `mtlskit revoke`, then
# `mtlskit crl` timed over RUNS runs (hyperfine when installed, else a
# loop of `date`), and the CRL's size. Every write is durable (fsync +
# rename), as always.
#
# usage: bench/crl.sh [N] [RUNS]
set -euo pipefail
n=${1:-10000}
runs=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$here/.." && go build -trimpath -tags urfave_cli_no_docs -ldflags '-s -w' -o "$work/mtlskit" ./cmd/mtlskit &&
  go build -trimpath -ldflags '-s -w' -o "$work/mtlskit-lint" ./cmd/mtlskit-lint)
m="$work/mtlskit"
store="$work/pki"
"$m" ca init --dir "$store" --intermediate >/dev/null
t0=$(date +%s.%N)
"$m" issue client --dir "$store" --count "$n" --cn-prefix dev- >/dev/null
t1=$(date +%s.%N)
names=$("$m" list --dir "$store" --json | python3 -c 'import json, sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["certificates"] if c["kind"] == "client"))')
# shellcheck disable=SC2086
"$m" revoke --dir "$store" --reason cessationOfOperation $names >/dev/null
t2=$(date +%s.%N)
printf 'issue client --count %d: %.2f s\n' "$n" "$(echo "$t1 - $t0" | bc)"
printf 'revoke %d names at once: %.2f s\n' "$n" "$(echo "$t2 - $t1" | bc)"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs "$runs" --export-markdown "$work/crl.md" "$m crl --dir $store" >/dev/null
  cat "$work/crl.md"
else
  start=$(date +%s.%N)
  for _ in $(seq "$runs"); do "$m" crl --dir "$store" >/dev/null; done
  end=$(date +%s.%N)
  printf 'mtlskit crl with %d revoked: %.1f ms a run (mean of %d)\n' "$n" "$(echo "($end - $start) * 1000 / $runs" | bc -l)" "$runs"
fi
printf 'ca/crl.der: %d bytes; openssl crl -noout reads it: ' "$(stat -c %s "$store/ca/crl.der")"
openssl crl -inform DER -in "$store/ca/crl.der" -noout -text | grep -c 'Serial Number:' | tr -d '\n'
echo ' entries'
