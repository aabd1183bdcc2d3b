package main

import (
	"github.com/fhec/fhec/internal/sysmem"
	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// checkMemory refuses to start work on plan p whose estimated peak memory
// exceeds what the machine has available (sysmem.Check); skip: the user
// asked to try anyway (--skip-memory-check).
func checkMemory(p *planpb.Plan, what string, peak func(*plan.Summary) int64, skip bool) error {
	if skip {
		return nil
	}
	return sysmem.Check(p, what, peak, "--skip-memory-check tries anyway")
}
