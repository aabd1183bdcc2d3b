package sysmem

import "testing"

func TestParse(t *testing.T) {
	const meminfo = "MemTotal:       24683928 kB\nMemFree:        22414108 kB\nMemAvailable:   24102356 kB\n"
	for name, tc := range map[string]struct {
		meminfo, max, cur string
		want              int64
		ok                bool
	}{
		"meminfo":           {meminfo, "", "", 24102356 << 10, true},
		"no cgroup limit":   {meminfo, "max\n", "1000\n", 24102356 << 10, true},
		"cgroup limit":      {meminfo, "4294967296\n", "1073741824\n", 3 << 30, true},
		"cgroup over limit": {meminfo, "1000\n", "2000\n", 0, true},
		"cgroup above":      {meminfo, "1099511627776\n", "0\n", 24102356 << 10, true},
		"no MemAvailable":   {"MemTotal: 1 kB\n", "", "", 0, false},
		"garbage":           {"MemAvailable: lots kB\n", "", "", 0, false},
	} {
		got, ok := Parse(tc.meminfo, tc.max, tc.cur)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %d, %v; want %d, %v", name, got, ok, tc.want, tc.ok)
		}
	}
}
