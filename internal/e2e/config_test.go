package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/testenv"
)

// TestEveryBinaryHidesPasswordsOfBadURLs starts each binary (built by
// TestMain) with each URL-valued variable set to a bad value holding a
// password: it exits non-zero with one line naming the variable and never
// prints the password.
func TestEveryBinaryHidesPasswordsOfBadURLs(t *testing.T) {
	const password = "s3cr3t-pw"
	commands := [][]string{
		{"api"}, {"worker"}, {"scheduler"},
		{"reactivation", "migrate"}, {"reactivation", "run"}, {"reactivation", "apikey", "list"},
		{"reactivation", "sync", "--mode", "full"},
	}
	variables := []string{"DATABASE_URL", "SOURCE_DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL"}
	values := []string{
		"mysql://admin:" + password + "@db.internal/x",    // wrong scheme
		"http://admin:" + password + "@db.internal:port/", // does not parse
	}
	for _, name := range variables {
		for _, value := range values {
			for _, argv := range commands {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				cmd := exec.CommandContext(ctx, filepath.Join(binDir, argv[0]), argv[1:]...)
				cmd.Env = append(withoutURLs(os.Environ(), variables), name+"="+value)
				out, err := cmd.CombinedOutput()
				cancel()
				keepOutput(t, argv[0], out)
				what := strings.Join(argv, " ") + " with " + name
				require.Error(t, err, "%s started: %s", what, out)
				require.NotEqual(t, 0, cmd.ProcessState.ExitCode(), what)
				require.Contains(t, string(out), name, what)
				require.NotContains(t, string(out), password, what)
				require.NotContains(t, string(out), "3cr3t", what)
				require.Equal(t, 1, strings.Count(strings.TrimSpace(string(out)), "\n")+1, "%s: one line, got %q", what, out)
			}
		}
	}
}

// TestUnreachableServicesAreNamedWithoutTheirPassword: well-formed URLs
// with a password, pointing where nothing listens, stop the API with a
// line that names the service and hides the password.
func TestUnreachableServicesAreNamedWithoutTheirPassword(t *testing.T) {
	const password = "s3cr3t-pw"
	dbURL := testenv.DatabaseURL()
	for _, c := range []struct{ name, value, says string }{
		{"DATABASE_URL", "postgres://admin:" + password + "@127.0.0.1:1/x?sslmode=disable", "postgres"},
		{"REDIS_URL", "redis://admin:" + password + "@127.0.0.1:1/0", "redis"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "api"))
		cmd.Env = append(withoutURLs(os.Environ(), []string{"DATABASE_URL", "REDIS_URL"}), "DATABASE_URL="+dbURL, c.name+"="+c.value)
		out, err := cmd.CombinedOutput()
		cancel()
		keepOutput(t, "api", out)
		require.Error(t, err, "%s: %s", c.name, out)
		require.Contains(t, string(out), c.says, c.name)
		require.NotContains(t, string(out), password, c.name)
	}
}

func withoutURLs(environ, names []string) []string {
	var out []string
	for _, kv := range environ {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}
