// Package sysmem compares a plan's estimated peak memory with what the
// machine has available, so that key generation and evaluation refuse at
// once, saying both, rather than being killed part-way after minutes.
package sysmem

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/fhec/fhec/plan"
	"github.com/fhec/fhec/plan/planpb"
)

// Available is the memory this process can still use, and whether it is
// known (Linux: MemAvailable, lowered to a cgroup v2 limit). A variable,
// for tests.
var Available = func() (int64, bool) {
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false // not Linux: unknown
	}
	read := func(path string) string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
	return Parse(string(meminfo), read("/sys/fs/cgroup/memory.max"), read("/sys/fs/cgroup/memory.current"))
}

// Parse is MemAvailable from /proc/meminfo, lowered to what a cgroup v2
// limit (memory.max, memory.current) leaves.
func Parse(meminfo, cgroupMax, cgroupCurrent string) (int64, bool) {
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

// ClientPeak and ServerPeak pick a plan summary's peak estimates: key
// generation (and encryption), evaluation.
func ClientPeak(s *plan.Summary) int64 { return s.ClientPeakBytes }
func ServerPeak(s *plan.Summary) int64 { return s.ServerPeakBytes }

// Check refuses work (what) on plan p whose estimated peak memory
// (plan.Summary, as fhec inspect shows it) exceeds the available memory;
// override names how the caller can go ahead anyway. Unknown available
// memory passes.
func Check(p *planpb.Plan, what string, peak func(*plan.Summary) int64, override string) error {
	avail, ok := Available()
	if !ok {
		return nil
	}
	s, err := plan.Summarize(p)
	if err != nil {
		return err
	}
	if need := peak(s); need > avail {
		return fmt.Errorf("%s needs about %s of memory (estimated peak; evaluation keys %s, see fhec inspect), and this machine has %s available: it would be killed part-way. "+
			"Use a machine with more memory, or compile the model to a plan with fewer rotation keys or a smaller ring; %s",
			what, Bytes(need), Bytes(s.EvalKeyBytes), Bytes(avail), override)
	}
	return nil
}

// Bytes writes a size as people read it: 364.26 GiB, 8.6 MiB, 448.1 KiB.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
