package app

import "testing"

func TestGCSettings(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	for _, c := range []struct {
		name      string
		vars      map[string]string
		memoryMax string
		percent   int
		limit     int64
	}{
		{"no environment, no cgroup limit", nil, "", WorkerGCPercent, 0},
		{"an unlimited cgroup", nil, "max\n", WorkerGCPercent, 0},
		{"a 1 GiB cgroup", nil, "1073741824\n", WorkerGCPercent, 858993459},
		{"GOGC set: the runtime's", map[string]string{"GOGC": "100"}, "1073741824\n", -1, 858993459},
		{"GOMEMLIMIT set: the runtime's", map[string]string{"GOMEMLIMIT": "512MiB"}, "1073741824\n", WorkerGCPercent, 0},
		{"both set", map[string]string{"GOGC": "off", "GOMEMLIMIT": "512MiB"}, "1073741824\n", -1, 0},
		{"garbage in memory.max", nil, "lots", WorkerGCPercent, 0},
	} {
		percent, limit := gcSettings(env(c.vars), c.memoryMax)
		if percent != c.percent || limit != c.limit {
			t.Errorf("%s: got (%d, %d), want (%d, %d)", c.name, percent, limit, c.percent, c.limit)
		}
	}
}
