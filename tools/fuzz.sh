#!/usr/bin/env bash
# Short fuzz runs of the plan, key and ciphertext decoders, as CI runs them
# (.ci/run). Each target starts from its committed seed corpus
# (plan/testdata/fuzz, runtime/testdata/fuzz); a crasher is written under
# testdata/fuzz/<target>/ and fails the run. FUZZTIME (default 10s) per target.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZTIME:-10s}"
par="${FUZZPARALLEL:-2}"
go test ./plan -run '^$' -fuzz '^FuzzUnmarshal$' -fuzztime "$t" -parallel "$par"
for f in FuzzUnmarshalSecretKey FuzzUnmarshalEvaluationKeys FuzzUnmarshalCiphertexts; do
	go test ./runtime -run '^$' -fuzz "^${f}\$" -fuzztime "$t" -parallel "$par"
done
# The independent plan reader is its own module: vet and build it too (its
# test against the golden plan runs in the main module, plan/planreader_test.go).
(cd tools/planreader && GOWORK=off go vet ./... && GOWORK=off go build -o /dev/null .)
