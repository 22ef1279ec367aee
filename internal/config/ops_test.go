package config

import (
	"strings"
	"testing"
)

func TestOpsSettingsAreValidated(t *testing.T) {
	c := Defaults()
	if c.SchedulerMetricsAddr != ":9092" || c.PrometheusURL != "" {
		t.Fatalf("unexpected defaults: %q %q", c.SchedulerMetricsAddr, c.PrometheusURL)
	}
	for name, set := range map[string]func(*Config){
		"SCHEDULER_METRICS_ADDR": func(c *Config) { c.SchedulerMetricsAddr = "9092" },
		"PROMETHEUS_URL":         func(c *Config) { c.PrometheusURL = "prometheus:9090" },
	} {
		c := Defaults()
		set(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s: want an error naming it, got %v", name, err)
		}
	}
	c.PrometheusURL = "http://prometheus:9090"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
