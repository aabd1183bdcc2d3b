#!/usr/bin/env bash
# Short fuzz runs of the plan, cost table, key and ciphertext decoders, as CI runs them
# (.ci/run). Each target starts from its committed seed corpus
# (plan/testdata/fuzz, runtime/testdata/fuzz); a crasher is written under
# testdata/fuzz/<target>/ and fails the run. FUZZTIME per target (default
# 50000x): a count of executions, because a duration makes Go 1.26's fuzz
# coordinator fail now and then with a bare "context deadline exceeded" at
# the deadline, no input at fault (go.dev/issue/75804, fixed in Go 1.27).
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZTIME:-50000x}"
par="${FUZZPARALLEL:-2}"
go test ./plan -run '^$' -fuzz '^FuzzUnmarshal$' -fuzztime "$t" -parallel "$par"
go test ./costmodel -run '^$' -fuzz '^FuzzParse$' -fuzztime "$t" -parallel "$par"
for f in FuzzUnmarshalSecretKey FuzzUnmarshalEvaluationKeys FuzzUnmarshalCiphertexts FuzzUnmarshalCiphertextsFeatureMajor; do
	go test ./runtime -run '^$' -fuzz "^${f}\$" -fuzztime "$t" -parallel "$par"
done
# The independent plan reader is its own module: vet and build it too (its
# test against the golden plan runs in the main module, plan/planreader_test.go).
(cd tools/planreader && GOWORK=off go vet ./... && GOWORK=off go build -o /dev/null .)
