package e2e

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// cliResult is what a run of a binary printed and how it exited.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs binary with args and env (nil: the test's environment) to
// the end.
func runCLI(t *testing.T, env []string, binary string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, binary), args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	stdoutCopy, stderrCopy := captureOutput(t, binary)
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, stdoutCopy), io.MultiWriter(&stderr, stderrCopy)
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// availableCommands reads the subcommand names from a help text.
func availableCommands(help string) []string {
	_, list, ok := strings.Cut(help, "Available Commands:\n")
	if !ok {
		return nil
	}
	var names []string
	for _, line := range strings.Split(list, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		if name := strings.Fields(line)[0]; name != "help" {
			names = append(names, name)
		}
	}
	return names
}

// takesArgument reports whether a help text's usage line has a positional
// placeholder: an upper-case word not after a flag ("revoke ID_OR_PREFIX",
// not "--mode MODE").
func takesArgument(help string) bool {
	_, usage, _ := strings.Cut(help, "Usage:\n")
	line, _, _ := strings.Cut(usage, "\n")
	fields := strings.Fields(line)
	placeholder := regexp.MustCompile(`^[A-Z][A-Z_]*$`)
	for i := 1; i < len(fields); i++ {
		if placeholder.MatchString(fields[i]) && !strings.HasPrefix(strings.TrimLeft(fields[i-1], "[("), "-") {
			return true
		}
	}
	return false
}

// TestCLIHelp walks every binary and every subcommand its help lists:
// --help, -h and `help PATH` print the same help on stdout with exit 0 and
// nothing on stderr; an unknown flag, an unknown subcommand and a stray
// argument exit 2 with one line on stderr.
func TestCLIHelp(t *testing.T) {
	var walk func(binary string, path []string)
	seen := 0
	walk = func(binary string, path []string) {
		name := strings.Join(append([]string{binary}, path...), " ")
		help := runCLI(t, nil, binary, append(path, "--help")...)
		require.Equal(t, 0, help.code, "%s --help: %s", name, help.stderr)
		require.Empty(t, help.stderr, name+" --help")
		require.Contains(t, help.stdout, "Usage:", name+" --help")
		seen++

		short := runCLI(t, nil, binary, append(path, "-h")...)
		require.Equal(t, cliResult{stdout: help.stdout}, short, name+" -h")
		viaHelp := runCLI(t, nil, binary, append([]string{"help"}, path...)...)
		require.Equal(t, cliResult{stdout: help.stdout}, viaHelp, name+" via help")

		bad := runCLI(t, nil, binary, append(path, "--no-such-flag")...)
		requireUsageError(t, bad, name+" --no-such-flag", "unknown flag: --no-such-flag")

		subs := availableCommands(help.stdout)
		stray := runCLI(t, nil, binary, append(path, "no-such-command")...)
		if len(subs) > 0 {
			requireUsageError(t, stray, name+" no-such-command", `unknown command "no-such-command"`)
		} else if !takesArgument(help.stdout) {
			// A leaf command that takes no argument rejects one. (Those
			// taking an id look the bad id up instead.)
			requireUsageError(t, stray, name+" no-such-command", `unexpected argument "no-such-command"`)
		}
		for _, sub := range subs {
			walk(binary, append(append([]string{}, path...), sub))
		}
	}
	for _, binary := range []string{"api", "worker", "scheduler", "reactivation"} {
		walk(binary, nil)
	}
	// The four roots, then at least migrate, demo seed, apikey create/list/
	// revoke, sync, run, bench.
	require.GreaterOrEqual(t, seen, 4+10)

	help := runCLI(t, nil, "reactivation", "help", "no-such-command")
	requireUsageError(t, help, "help no-such-command", `unknown help topic "no-such-command"`)
	missing := runCLI(t, nil, "reactivation")
	requireUsageError(t, missing, "reactivation without a command", "missing command")
	missing = runCLI(t, nil, "reactivation", "apikey", "revoke")
	requireUsageError(t, missing, "apikey revoke without an id", "accepts 1 arg")
	badMode := runCLI(t, nil, "reactivation", "sync", "--mode", "sideways")
	requireUsageError(t, badMode, "sync --mode sideways", "--mode must be one of")
}

func requireUsageError(t *testing.T, r cliResult, what, want string) {
	t.Helper()
	require.Equal(t, 2, r.code, "%s: exit code (stderr %q)", what, r.stderr)
	require.Empty(t, r.stdout, what+": stdout")
	require.Equal(t, 1, strings.Count(r.stderr, "\n"), "%s: one line on stderr, got %q", what, r.stderr)
	require.Contains(t, r.stderr, want, what)
}

// TestCLIVersion: --version of every binary prints the module version,
// the commit it was built from and the Go version, on stdout, exit 0.
func TestCLIVersion(t *testing.T) {
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	want := regexp.MustCompile(`^(api|worker|scheduler|reactivation) \S+ \(revision ` + strings.TrimSpace(string(rev)) + `(, modified)?, go1\.[0-9.]+\)\n$`)
	for _, binary := range []string{"api", "worker", "scheduler", "reactivation"} {
		r := runCLI(t, nil, binary, "--version")
		require.Equal(t, 0, r.code, r.stderr)
		require.Empty(t, r.stderr)
		require.Regexp(t, want, r.stdout, binary)
		require.True(t, strings.HasPrefix(r.stdout, binary+" "), r.stdout)
	}
}
