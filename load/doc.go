// Package load puts a mutual-TLS WebSocket server under load with real
// identities: thousands of virtual clients, each presenting its own
// client certificate, connecting at a given rate, exchanging messages,
// holding their connections open and reconnecting, and says what
// happened layer by layer.
//
// It holds:
//   - the run (Run, Config): virtual clients (Connections) that connect
//     once, or again until Duration (Reconnect); new connections paced
//     (Rate, Ramp); Messages of MessageSize echoed one at a time and
//     checked byte for byte; Hold; full or resumed handshakes (Resume),
//     each identity with its own session cache. Every dial, handshake,
//     upgrade, echo and close has a timeout, and only the target's one
//     address is ever dialled;
//   - the identities (Mint, FromStore, FromDir): minted in memory from a
//     CA (optionally some from an unrelated CA, for a deliberately
//     broken run), a store's issued client certificates, or a directory
//     of certificate and key pairs;
//   - the report (Report): counts, rates, HDR-histogram percentiles of
//     TCP connect, TLS handshake, upgrade and echo round trip (Histogram,
//     github.com/HdrHistogram/hdrhistogram-go), a timeline per second,
//     the generator's memory per connection, and every failed connection
//     classified (ErrorClass) by layer, outcome, refusing side and reason
//     exactly as the harness's reference client names an encounter's end
//     (harness.Failure runs that client's own classification);
//   - its writers: WriteTable, WriteJSON/ReadJSON, WriteHTML (one
//     self-contained page whose timeline chart is drawn in the page);
//   - sharding (Shard, ParseShard, ShardFromEnv) and Merge: N generators
//     split the identities, connections and rate, and their JSON reports
//     merge exactly (histograms bucket by bucket);
//   - the descriptor check (CheckFDLimit), made before any connection.
//
// It does not start servers: the command (mtlskit load) points it at a
// reference server in the same process (harness.ReferenceServer), a
// server command (harness.StartServerCommand) or a running target, and
// waits for readiness with harness.WaitReady. See docs/load.md.
package load
