#!/usr/bin/env bash
# What one renewal costs the commands that read the whole index, as
# docs/performance.md reports it: on a store of N client identities
# (default 100000), `list`, `list --json` (hyperfine, RUNS runs, default
# 10) and `issue client --cn NAME` (ISSUES single runs, default 5, each a
# new name: every write reads and rewrites the index), before and after
# `renew` of one name, which gives the index its "superseded" section.
# With BASE=REV (a git revision, such as main) the mtlskit of that
# revision is timed on the renewed store too; with VERIFY=1 the audit
# (verify) is timed once after the renewal, by each build.
#
# usage: [BASE=REV] [STORE=DIR] [VERIFY=1] bench/renewed.sh [N] [RUNS] [ISSUES]
# The store is made under $TMPDIR (default /tmp) and removed at the end
# (400,000 files and ~50 s at 100,000), or STORE=DIR names a store of
# dev-* clients without renewals, which the script changes: it renews one
# and issues bench-* names into it.
set -euo pipefail
n=${1:-100000}
runs=${2:-10}
issues=${3:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mtlskit-renewed.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/base"

build() { # build DIR SRC: mtlskit and mtlskit-lint of the source tree SRC into DIR
  (cd "$2" && go build -trimpath -tags urfave_cli_no_docs -ldflags '-s -w' -o "$1/mtlskit" ./cmd/mtlskit &&
    go build -trimpath -ldflags '-s -w' -o "$1/mtlskit-lint" ./cmd/mtlskit-lint)
}
build "$work" "$here"
m="$work/mtlskit"
if [ -n "${BASE:-}" ]; then
  mkdir -p "$work/base/src"
  git -C "$here" archive "$BASE" | tar -x -C "$work/base/src"
  build "$work/base" "$work/base/src"
fi
s=${STORE:-$work/pki}
if [ -z "${STORE:-}" ]; then
  echo "making a store of $n clients in $s" >&2
  "$m" ca init --dir "$s" --intermediate >/dev/null
  "$m" issue client --dir "$s" --count "$n" --cn-prefix dev- >/dev/null
fi
if grep -q '"superseded":' "$s/index.json"; then
  echo "$s has renewals already: give a store without any" >&2
  exit 1
fi

# reads LABEL BIN: hyperfine's figures for list and list --json by BIN.
reads() {
  hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/read.json" \
    -n "list, $1" "$2 list --dir $s" -n "list --json, $1" "$2 list --dir $s --json" >/dev/null
  python3 - "$work/read.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    t = sorted(r["times"])
    print("%-48s %8.1f ms mean ± %.1f, median %.1f, min %.1f, user %.1f (%d runs)" % (
        r["command"], r["mean"] * 1e3, r["stddev"] * 1e3, r["median"] * 1e3, t[0] * 1e3, r["user"] * 1e3, len(t)))
EOF
}

# writes LABEL BIN: ISSUES runs of issue client --cn bench-..., wall times
# and their median.
k=0
writes() {
  local times=()
  for _ in $(seq "$issues"); do
    k=$((k + 1))
    local t0
    t0=$(date +%s%N)
    "$2" issue client --dir "$s" --cn "bench-$k" >/dev/null
    times+=("$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }')")
  done
  printf '%-48s %s s, median %s s\n' "issue client --cn NAME, $1" "${times[*]}" \
    "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((issues + 1) / 2))p")"
}

echo "store of $n clients in $s, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
reads "no renewal" "$m"
writes "no renewal" "$m"
name=$("$m" list --dir "$s" --kind client | awk -v at=$((n / 2 + 1)) 'NR == at { print $1 }')
"$m" renew --dir "$s" "$name" >/dev/null
reads "one renewal" "$m"
writes "one renewal" "$m"
if [ -n "${BASE:-}" ]; then
  reads "one renewal, $BASE" "$work/base/mtlskit"
  writes "one renewal, $BASE" "$work/base/mtlskit"
fi
if [ "${VERIFY:-0}" = 1 ]; then
  for b in "$m" ${BASE:+"$work/base/mtlskit"}; do
    rc=0
    /usr/bin/time -f "%e s wall, %U s user" -o "$work/time" "$b" verify --dir "$s" >/dev/null 2>&1 || rc=$?
    printf '%-48s %s, exit %d\n' "verify (audit), one renewal$([ "$b" = "$m" ] || echo ", $BASE")" "$(tail -1 "$work/time")" "$rc"
  done
fi
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
