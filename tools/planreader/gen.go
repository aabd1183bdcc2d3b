// Command planreader reads an fhec plan file and prints its summary. It is
// built only from the published schema (plan.proto, a verbatim copy of
// fhec's plan/plan.proto) and the documented framing (docs/plan-format.md),
// and imports nothing from fhec: proof that other programs can load plans.
//
//	go run . model.plan
//
// Regenerate planpb after copying a new plan.proto here:
//
//	go generate
package main

//go:generate protoc --go_out=. --go_opt=Mplan.proto=planreader/planpb --go_opt=module=planreader plan.proto
