// Package web is the operator dashboard: server-rendered html/template pages
// embedded in the binary, enhanced with htmx and a server-sent event stream,
// served at the same address as the REST API.
//
// Its edges: it reads the store through the Store interface it declares,
// signs operators in with the API's accounts and password rules (package
// api), and keeps its sessions in memory, so a restart signs everyone out.
// It never calls the REST API over HTTP; both read the same store.
//
// Every page renders fully without JavaScript. With JavaScript, filters and
// pagination swap fragments in place (htmx, vendored under static/) and
// live parts update from GET /ui/stream (static/app.js); recorded shells
// play back in the page (static/replay.js, reading internal/recording).
//
// Pages answer in a bounded time on a large store: lists read one page by
// an index, filtered counts stop at a cap, and the overview's chart and top
// lists come from counters kept in memory and advanced with the newest
// events (counts.go) rather than from scans of the events table.
package web
