package config

import (
	"fmt"
	"strings"
)

// Sentinels are the addresses of REDIS_SENTINEL_ADDRS; none when Redis is
// reached at REDIS_URL's host.
func (c *Config) Sentinels() []string {
	var out []string
	for _, a := range strings.Split(c.RedisSentinelAddrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// validateSentinel checks that the sentinel variables come together and
// name host:port addresses. Passwords are never shown.
func (c *Config) validateSentinel() error {
	addrs := c.Sentinels()
	switch {
	case len(addrs) == 0 && c.RedisSentinelAddrs != "":
		return fmt.Errorf("config: REDIS_SENTINEL_ADDRS: want host:port addresses separated by commas, got %q", c.RedisSentinelAddrs)
	case len(addrs) == 0 && c.RedisSentinelMaster != "":
		return fmt.Errorf("config: REDIS_SENTINEL_MASTER: needs REDIS_SENTINEL_ADDRS")
	case len(addrs) == 0:
		return nil
	case c.RedisSentinelMaster == "":
		return fmt.Errorf("config: REDIS_SENTINEL_MASTER: required with REDIS_SENTINEL_ADDRS (the master's name in the sentinels' configuration)")
	}
	for _, a := range addrs {
		if host, _, err := splitHostPort(a); err != nil || host == "" {
			return fmt.Errorf("config: REDIS_SENTINEL_ADDRS: want host:port, got %q", a)
		}
	}
	return nil
}
