package config

import "fmt"

// validateOps checks the settings of the operations endpoints: the
// scheduler's metrics address and the Prometheus server Asynqmon charts.
func (c *Config) validateOps() error {
	if c.SchedulerMetricsAddr != "" {
		if _, _, err := splitHostPort(c.SchedulerMetricsAddr); err != nil {
			return fmt.Errorf("config: SCHEDULER_METRICS_ADDR: %v", err)
		}
	}
	if c.PrometheusURL != "" {
		if err := checkURL(c.PrometheusURL, "http", "https"); err != nil {
			return fmt.Errorf("config: PROMETHEUS_URL: %v", err)
		}
	}
	return nil
}
