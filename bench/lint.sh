#!/usr/bin/env bash
# `mtlskit lint NAME` on stores of N client identities (default 1,000,
# 10,000 and 100,000), as docs/performance.md reports it: the findings the
# index keeps (cached), the same with --relint (zlint runs), and the same
# store with its index as an older mtlskit wrote it (no layout stamp: read
# in full), next to a Go hello-world and `mtlskit --version`. With
# BASE=REV (a git revision, such as main) the mtlskit of that revision is
# timed on the same stores too. hyperfine runs every command RUNS times
# (default 10) per round, ROUNDS rounds (default 3), one round after the
# other so that machine drift hits every command alike; the medians are
# over all runs.
#
# usage: [BASE=REV] [STORES=DIR] bench/lint.sh [ROUNDS] [RUNS] [N ...]
# The stores are made once under $STORES (default $TMPDIR/mtlskit-lint-
# bench, 400,000 files for 100,000: ~50 s) and kept for the next run;
# remove the directory when done.
set -euo pipefail
rounds=${1:-3}
runs=${2:-10}
shift $(($# < 2 ? $# : 2))
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 100000)
here=$(cd "$(dirname "$0")/.." && pwd)
stores=${STORES:-${TMPDIR:-/tmp}/mtlskit-lint-bench}
work=$(mktemp -d "${TMPDIR:-/tmp}/mtlskit-lint.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$stores" "$work/hello" "$work/base"

build() { # build DIR SRC: mtlskit and mtlskit-lint of the source tree SRC into DIR
  (cd "$2" && go build -trimpath -tags urfave_cli_no_docs -ldflags '-s -w' -o "$1/mtlskit" ./cmd/mtlskit &&
    go build -trimpath -ldflags '-s -w' -o "$1/mtlskit-lint" ./cmd/mtlskit-lint)
}
build "$work" "$here"
m="$work/mtlskit"
printf 'package main\n\nimport "os"\n\nfunc main() { os.Stdout.WriteString("hello\\n") }\n' >"$work/hello/main.go"
(cd "$work/hello" && go mod init hello >/dev/null 2>&1 && go build -trimpath -ldflags '-s -w' -o "$work/hello-world" .)
if [ -n "${BASE:-}" ]; then
  mkdir -p "$work/base/src"
  git -C "$here" archive "$BASE" | tar -x -C "$work/base/src"
  build "$work/base" "$work/base/src"
fi

cmds=(-n "Go hello-world" "$work/hello-world" -n "mtlskit --version" "$m --version")
for n in "${sizes[@]}"; do
  s="$stores/$n"
  if [ ! -f "$s/index.json" ]; then
    echo "making a store of $n clients in $s" >&2
    rm -rf "$s"
    "$m" ca init --dir "$s" --intermediate >/dev/null
    "$m" issue client --dir "$s" --count "$n" --cn-prefix dev- >/dev/null
  fi
  name=$(printf "dev-%0${#n}d" $((n / 2)))
  # The same store, its index without the stamp (as mtlskit before the
  # stamp wrote it): ca/ and issued/ linked, index.json a copy.
  old="$work/old-$n"
  mkdir -p "$old"
  ln -s "$s/ca" "$s/issued" "$old/"
  sed '1s/,"crc32c":"[0-9a-f]*"//' "$s/index.json" >"$old/index.json"
  cmds+=(-n "lint $name ($n)" "$m lint --dir $s $name"
    -n "lint $name --relint ($n)" "$m lint --dir $s $name --relint"
    -n "lint $name, unstamped index ($n)" "$m lint --dir $old $name")
  if [ -n "${BASE:-}" ]; then
    cmds+=(-n "lint $name, $BASE ($n)" "$work/base/mtlskit lint --dir $s $name")
  fi
done
echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$rounds"); do
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/round-$i.json" "${cmds[@]}" >/dev/null
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work"/round-*.json <<'EOF'
import json, statistics, sys
times = {}
for path in sys.argv[1:]:
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
for name, t in times.items():
    t = sorted(x * 1e3 for x in t)
    print("%-44s median %7.2f ms, mean %7.2f, min %7.2f, max %7.2f (%d runs)" % (
        name, statistics.median(t), statistics.mean(t), t[0], t[-1], len(t)))
EOF
