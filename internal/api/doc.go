// Package api serves DECNET-Go's REST API under /api/v1: login and the
// forced password change, read-only views of what the store holds (events
// and their histogram, attackers, sessions, credentials, deckies, stats), a
// health report, a live event stream over server-sent events, the admin
// routes (accounts, settings, live operations and deploys), Prometheus
// metrics at /metrics and its own OpenAPI 3.1 document.
//
// Paths, payloads and error bodies follow DECNET's contract (spec/data-api.md
// §3 and §4) where it exists: bearer JWTs (HS256) with DECNET's claim set,
// roles viewer and admin, pagination envelopes {total, limit, offset, data}
// and errors {"detail": …}.
//
// The package owns HTTP only. It reads and writes through the Store
// interface it defines (a subset of *store.Store), never opens a database,
// and knows nothing about the bus or the engine beyond the health checks the
// caller hands it in Config.
package api
