package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// memoryAvailable is the memory this process can still use, and whether it
// is known (a variable, for tests).
var memoryAvailable = func() (int64, bool) {
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false // not Linux: unknown
	}
	read := func(path string) string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
	return parseAvailable(string(meminfo), read("/sys/fs/cgroup/memory.max"), read("/sys/fs/cgroup/memory.current"))
}

// parseAvailable is MemAvailable from /proc/meminfo, lowered to what a
// cgroup v2 limit (memory.max, memory.current) leaves.
func parseAvailable(meminfo, cgroupMax, cgroupCurrent string) (int64, bool) {
	var avail int64
	found := false
	sc := bufio.NewScanner(strings.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kb < 0 {
				return 0, false
			}
			avail, found = kb<<10, true
		}
	}
	if !found {
		return 0, false
	}
	limit, err1 := strconv.ParseInt(strings.TrimSpace(cgroupMax), 10, 64) // "max": no limit
	used, err2 := strconv.ParseInt(strings.TrimSpace(cgroupCurrent), 10, 64)
	if err1 == nil && err2 == nil && limit-used < avail {
		avail = max(0, limit-used)
	}
	return avail, true
}

// checkMemory refuses to start work on plan p whose estimated peak memory
// (plan.Summary, as fhec inspect shows it) exceeds what the machine has
// available: such a run would be killed part-way, after minutes, with no
// word of why. skip: the user asked to try anyway.
func checkMemory(p *planpb.Plan, what string, peak func(*plan.Summary) int64, skip bool) error {
	if skip {
		return nil
	}
	avail, ok := memoryAvailable()
	if !ok {
		return nil
	}
	s, err := plan.Summarize(p)
	if err != nil {
		return err
	}
	if need := peak(s); need > avail {
		return fmt.Errorf("%s needs about %s of memory (estimated peak; evaluation keys %s, see fhec inspect), and this machine has %s available: it would be killed part-way. "+
			"Use a machine with more memory, or compile the model to a plan with fewer rotation keys or a smaller ring; --skip-memory-check tries anyway",
			what, byteSize(need), byteSize(s.EvalKeyBytes), byteSize(avail))
	}
	return nil
}

func clientPeak(s *plan.Summary) int64 { return s.ClientPeakBytes }
func serverPeak(s *plan.Summary) int64 { return s.ServerPeakBytes }
