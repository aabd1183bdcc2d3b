// Package plan reads, writes and checks fhec plan files: a compiled CKKS
// encrypted-inference program (see plan.proto) framed with a magic, a format
// version, a length and a SHA-256 checksum.
package plan

//go:generate protoc --go_out=. --go_opt=module=github.com/fhec/fhec/plan plan.proto
