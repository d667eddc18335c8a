// Package harness is a conformance harness for mutual-TLS WebSockets
// (wss:// with client certificates): it judges a server or a client it did
// not write, scenario by scenario, and says at which layer each one ended.
//
// It holds:
//   - the scenarios (Scenarios, Lookup): one row each, naming the side
//     judged, the expectation, and the encounter's certificates (Setup,
//     from the run's Materials, minted fresh with package pki or from a
//     store's CA with MaterialsFromCA). Server-side scenarios judge the
//     server (the client varies and the server must refuse the bad ones);
//     client-side scenarios judge the client;
//   - the reference pair (ReferenceServer, ReferenceClient, on crypto/tls
//     and gorilla/websocket): a strict server that requires and verifies
//     client certificates and echoes every message, and a strict client
//     that verifies the server's chain and name and checks each echo byte
//     for byte. The client's encounter is a state with one method per
//     phase: tcp, tls, the upgrade, the echo, the close;
//   - verdicts (Verdict, Result): the outcome, who refused and why (a
//     stable ReasonID, classified from typed x509 errors and TLS alerts
//     only, never guessed), and the evidence of every layer on both ends;
//   - the runner (Run, RunScenario): scenarios in parallel on loopback
//     ports, each side's valid-* control first, whose result decides
//     whether a refusal says anything about the certificate;
//   - the negative controls (NegativeControls, RunNegativeControls): seven
//     broken subjects (an insecure client, a lax server, a server and a
//     client that refuse everyone, a server whose handler never runs, one
//     that never answers the upgrade, one that answers 500), each of which
//     the harness must catch;
//   - third-party subjects: a running server (TargetServer), a server
//     command (StartServerCommand) and a client command (ClientCommand),
//     with their placeholder templates (ParseTemplate);
//   - subjects files (ParseSubjects, RunSubjects): many third-party
//     servers and clients from one YAML file, judged in parallel, each
//     with its own CA, ports and processes, one Report each;
//   - scenario servers for manual testing (Serve) and a plain ws:// echo
//     backend to put behind a TLS front (ServeEcho).
//
// It does not hold the report writers (package harness/report), the live
// diagnosis of one endpoint (package probe), the configuration snippets
// (package snippet), or the wire helpers it shares with the probe
// (internal/wire: alerts, dialling, the upgrade).
package harness
