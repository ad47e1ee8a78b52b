// Package ttp maps what attackers do on the deckies to MITRE ATT&CK
// techniques, with the evidence that justifies each mapping.
//
// Rules are YAML documents (rules/*.yaml, embedded in the binary; an operator
// directory may add rules or replace embedded ones by id). A rule either
// matches regular expressions over event fields (command text, request path,
// user agent, email subject, …) or names a lifter: Go code for logic that a
// regex cannot express, such as counting failed logins over a window or
// asking an intel source about a file hash. Rules are validated when loaded:
// techniques resolve in the embedded ATT&CK catalogue and are not revoked or
// deprecated, tactics belong to their technique, regexes compile as Go RE2,
// unknown YAML keys are refused, rule ids are unique; every error names the
// file, the line and the field.
//
// The Engine tags single events (Engine.Tag); a Tracker adds the windowed
// lifters over a stream of events (Tracker.Observe). Both return Tag values
// whose ids are the UUIDv5 of DECNET's ttp_tag table, so that tagging the
// same event twice yields the same rows and an insert-or-ignore store keeps
// one. The package depends on the event envelope and the ATT&CK catalogue
// only: storing tags, publishing ttp.tagged and serving the API are the
// pipeline's and the API's business.
package ttp
