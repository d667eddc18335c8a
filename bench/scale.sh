#!/usr/bin/env bash
# The cost of a store of N client identities (default 10000), as
# docs/performance.md's scale table reports it for 1,000, 10,000 and
# 100,000: `issue client --count N` into a store with an intermediate,
# then list (table, --json, --kind client, --expiring 30d), lint NAME,
# the store audit (verify), and crl after revoking a tenth of them. Every
# write is durable (fsync + rename), as always. hyperfine times the
# read-only commands (RUNS runs, default 10); issue, revoke and the audit
# are timed once each (the audit RUNS_AUDIT times, default 3; with
# RELINT=1 also verify --relint, which lints every certificate afresh).
#
# usage: [RELINT=1] bench/scale.sh [N] [RUNS] [RUNS_AUDIT]
# The store is made under $TMPDIR (default /tmp) and removed at the end.
# Run one at a time: a 100,000-certificate store is 400,000 files.
set -euo pipefail
n=${1:-10000}
runs=${2:-10}
audit_runs=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mtlskit-scale.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$here/.." && go build -trimpath -tags urfave_cli_no_docs -ldflags '-s -w' -o "$work/mtlskit" ./cmd/mtlskit &&
  go build -trimpath -ldflags '-s -w' -o "$work/mtlskit-lint" ./cmd/mtlskit-lint)
m="$work/mtlskit"
s="$work/pki"
"$m" ca init --dir "$s" --intermediate >/dev/null

# once prints "LABEL: S s (wall), U s user, Y s sys" for one run of a command.
once() {
  local label=$1
  shift
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr"; exit 1; }
  read -r wall user sys <"$work/time"
  printf '%-34s %8.2f s wall, %7.2f s user, %7.2f s sys\n' "$label" "$wall" "$user" "$sys"
}

echo "store of $n clients (an intermediate signs them) in $s, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
once "issue client --count $n" "$m" issue client --dir "$s" --count "$n" --cn-prefix dev-
printf '%-34s %8d bytes, %d a certificate\n' "index.json" "$(stat -c %s "$s/index.json")" "$(($(stat -c %s "$s/index.json") / (n + 2)))"
first=$("$m" list --dir "$s" --kind client --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["certificates"][0]["name"])')
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/read.json" \
  -n list "$m list --dir $s" \
  -n "list --json" "$m list --dir $s --json" \
  -n "list --kind client" "$m list --dir $s --kind client" \
  -n "list --expiring 30d" "$m list --dir $s --expiring 30d" \
  -n "lint $first" "$m lint --dir $s $first" >/dev/null
python3 - "$work/read.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    t = sorted(r["times"])
    print("%-34s %8.1f ms mean ± %.1f, median %.1f, min %.1f, max %.1f (%d runs)" % (
        r["command"], r["mean"] * 1e3, r["stddev"] * 1e3, r["median"] * 1e3, t[0] * 1e3, t[-1] * 1e3, len(t)))
EOF
for i in $(seq "$audit_runs"); do
  once "verify (audit) run $i" "$m" verify --dir "$s"
done
# --relint: zlint on every certificate, as the audit did before its cache
# (the eMudhra lint's eight P-384 verifications each): RELINT=1 to run it.
if [ "${RELINT:-0}" = 1 ]; then
  once "verify --relint (no cache)" "$m" verify --dir "$s" --relint
fi
printf '%-34s %s\n' "verify progress on stderr" "$(grep -c '^verify: ' "$work/stderr") line(s), the last: $(tail -1 "$work/stderr")"
names=$("$m" list --dir "$s" --kind client --json | python3 -c 'import json, sys; c = json.load(sys.stdin)["certificates"]; print(" ".join(x["name"] for x in c[::10]))')
# shellcheck disable=SC2086
once "revoke $((n / 10)) names at once" "$m" revoke --dir "$s" --reason superseded $names
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/crl.json" -n "crl ($((n / 10)) revoked)" "$m crl --dir $s" >/dev/null
python3 - "$work/crl.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    t = sorted(r["times"])
    print("%-34s %8.1f ms mean ± %.1f, median %.1f, min %.1f, max %.1f (%d runs)" % (
        r["command"], r["mean"] * 1e3, r["stddev"] * 1e3, r["median"] * 1e3, t[0] * 1e3, t[-1] * 1e3, len(t)))
EOF
once "verify (audit, with the CRL)" "$m" verify --dir "$s"
