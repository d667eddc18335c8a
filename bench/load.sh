#!/usr/bin/env bash
# The figures of docs/load.md, on this machine: generator and reference
# server share it, so every figure is a 2-core figure for both together.
#
#   1. in one process (go test -bench, one benchmark at a time, the
#      floor and mtlskit load interleaved): the floor (bare full mTLS
#      handshakes, ECDSA P-256, X25519; bare 32-byte round trips over
#      mTLS) and mtlskit load against the reference server;
#   2. the reference server in its own process (mtlskit harness serve),
#      loaded by mtlskit load (full handshakes, then messages) and by
#      openssl s_time -new with the same server's one client identity;
#   3. HELD connections held open at once, each with its own identity:
#      the time to establish them and the memory per connection of the
#      generator and of the server (RSS sampled from /proc every 0.5 s).
#
# usage: bench/load.sh [HELD [SECONDS]]    (defaults 5000 and 10)
# Run nothing else heavy meanwhile: one benchmark at a time, by design.
set -euo pipefail
cd "$(dirname "$0")/.."
HELD=${1:-5000}
SECS=${2:-10}
COUNT=${COUNT:-5}
export PATH="$PATH:/usr/local/go/bin"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

need=$((HELD * 2 + 200))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || { echo "bench/load.sh: ulimit -n is $(ulimit -n); $HELD held connections need $need (ulimit -n $need)"; exit 1; }
fi

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3), $(openssl version | cut -d' ' -f1-2); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
go build -o "$work/mtlskit" ./cmd/mtlskit
M="$work/mtlskit"

echo
echo "== 1. in one process: the floor and mtlskit load, interleaved ($COUNT rounds of go test -bench, one benchmark at a time)"
# Each round runs the four benchmarks one after the other, so a floor
# and the load figure next to it saw the same machine; the ratios are
# per round, then their median.
go test -c -o "$work/load.test" ./load/
for i in $(seq "$COUNT"); do
  (cd load && "$work/load.test" -test.run '^$' -test.bench '^Benchmark(FloorHandshake|LoadReference|FloorEcho|LoadMessages)$' -test.benchtime 3s) | grep -E '^Benchmark' | tee -a "$work/bench.out"
done
awk '/^BenchmarkFloorHandshake-/ {f[++nf]=$5} /^BenchmarkLoadReference-/ {l[++nl]=$5}
     /^BenchmarkFloorEcho-/ {e[++ne]=$5} /^BenchmarkLoadMessages-/ {m[++nm]=$5}
     function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
     END { for (i = 1; i <= nl; i++) { rh[i] = l[i] / f[i]; rm[i] = m[i] / e[i] }
           printf "median per round: floor %.0f handshakes/s, mtlskit load %.0f handshakes/s, ratio %.2f; floor %.0f messages/s, mtlskit load %.0f messages/s, ratio %.2f\n",
             median(f, nf), median(l, nl), median(rh, nl), median(e, ne), median(m, nm), median(rm, nm) }' "$work/bench.out"

# rss PID: resident set of a process in KiB.
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# peak_rss PID FILE: sample the RSS every 0.5 s until the process ends, keep the largest.
peak_rss() {
  local max=0 r
  while kill -0 "$1" 2>/dev/null; do
    r=$(rss "$1"); [ "${r:-0}" -gt "$max" ] && max=$r && echo "$max" > "$2"
    sleep 0.5
  done
}

echo
echo "== 2. the reference server in its own process (mtlskit harness serve)"
"$M" --dir "$work/pki" ca init >/dev/null
mkdir -p "$work/files"
"$M" harness serve --pki "$work/pki" --files "$work/files" --timeout 600s --json > "$work/serve.json" 2>/dev/null &
serve=$!
pids+=("$serve")
for _ in $(seq 100); do [ -s "$work/serve.json" ] && jq -e . "$work/serve.json" >/dev/null 2>&1 && break; sleep 0.1; done
url=$(jq -r '.scenarios[] | select(.name == "valid-server") | .url' "$work/serve.json")
port=${url##*:}; port=${port%%/*}
echo "server: $url (pid $serve, RSS $(rss "$serve") KiB idle)"

rates() { jq -r '"attempted \(.counts.attempted), failed \(.counts.failed): \(.rates.handshakes_per_s) handshakes/s, \(.rates.messages_per_s) messages/s; tls p50 \(.latency.tls_handshake.p50_us/1000) ms p99 \(.latency.tls_handshake.p99_us/1000) ms; echo p50 \(.latency.echo_rtt.p50_us/1000) ms p99 \(.latency.echo_rtt.p99_us/1000) ms"' "$1"; }

for i in $(seq "$COUNT"); do
  "$M" load --target "$url" --pki "$work/pki" --identities 1000 --connections 64 --reconnect --duration "${SECS}s" \
    --messages 1 --curve x25519 --json > "$work/hs$i.json" || true
  echo "mtlskit load, full handshakes, 1000 identities, 64 at a time, 1 echo each, ${SECS}s: $(rates "$work/hs$i.json")"
done
for i in $(seq "$COUNT"); do
  "$M" load --target "$url" --pki "$work/pki" --identities 8 --connections 8 --messages 20000 --json > "$work/msg$i.json" || true
  echo "mtlskit load, messages, 8 connections x 20000 echoes of 32 bytes: $(rates "$work/msg$i.json")"
done
st() {
  openssl s_time -connect "127.0.0.1:$port" -new -time "$SECS" -cert "$work/files/cert.pem" -key "$work/files/key.pem" \
    -CAfile "$work/files/ca.pem" 2>/dev/null | awk '/connections in .* real seconds/ {printf "%d %s\n", $1, $4}'
}
for i in $(seq "$COUNT"); do
  read -r n s < <(st)
  echo "openssl s_time -new, one process, one identity, TLS only, ${SECS}s: $n connections in $s s = $(awk -v n="$n" -v s="$s" 'BEGIN {printf "%.1f", n/s}') handshakes/s"
done
st > "$work/st1" & a=$!
st > "$work/st2" & b=$!
wait "$a" "$b"
read -r n1 s1 < "$work/st1"; read -r n2 s2 < "$work/st2"
echo "openssl s_time -new, two processes at once: $((n1 + n2)) connections = $(awk -v a="$n1" -v b="$n2" -v s="$s1" -v t="$s2" 'BEGIN {printf "%.1f", a/s + b/t}') handshakes/s"

echo
echo "== 3. $HELD connections held at once, each with its own identity"
before=$(rss "$serve")
"$M" load --target "$url" --pki "$work/pki" --identities "$HELD" --connections "$HELD" --rate 1000 \
  --hold 20s --messages 1 --curve x25519 --timeout 10s --json > "$work/held.json" &
gen=$!
pids+=("$gen")
echo 0 > "$work/gen.rss"; echo 0 > "$work/serve.rss"
peak_rss "$gen" "$work/gen.rss" &
( while kill -0 "$gen" 2>/dev/null; do r=$(rss "$serve"); [ "$r" -gt "$(cat "$work/serve.rss")" ] && echo "$r" > "$work/serve.rss"; sleep 0.5; done ) &
wait "$gen" || true
sleep 1
jq -r --argjson n "$HELD" '"attempted \(.counts.attempted), established \(.counts.established), failed \(.counts.failed), peak open \(.counts.peak_open); all \($n) open after \((.timeline | map(.open >= $n) | index(true)) + 1) s; generator heap+stacks per connection \(.memory.per_connection_bytes / 1024 | floor) KiB (at \(.memory.open_at_peak) open)"' "$work/held.json"
gen_rss=$(cat "$work/gen.rss"); serve_rss=$(cat "$work/serve.rss")
echo "generator peak RSS $((gen_rss / 1024)) MiB = $(awk -v r="$gen_rss" -v n="$HELD" 'BEGIN {printf "%.1f", r/n}') KiB per connection (RSS includes the $HELD minted identities and the runtime)"
echo "server RSS $((before / 1024)) MiB idle, $((serve_rss / 1024)) MiB at peak = $(awk -v a="$before" -v b="$serve_rss" -v n="$HELD" 'BEGIN {printf "%.1f", (b-a)/n}') KiB per connection"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
