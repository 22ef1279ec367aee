package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// tree is a root with a group (item) holding a leaf that takes an id and
// one that fails, and a leaf with a flag.
func tree() *cobra.Command {
	root := NewRoot("tool", "a tool", "")
	item := &cobra.Command{Use: "item", Short: "items"}
	item.AddCommand(
		&cobra.Command{Use: "get ID", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }},
		&cobra.Command{Use: "break", RunE: func(*cobra.Command, []string) error { return errors.New("it broke\nbadly") }},
	)
	mode := &cobra.Command{Use: "mode"}
	m := mode.Flags().String("mode", "", "a mode")
	mode.RunE = func(*cobra.Command, []string) error {
		if *m != "a" {
			return Usagef("--mode must be a")
		}
		return nil
	}
	root.AddCommand(item, mode)
	return root
}

func run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Execute(context.Background(), tree(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExecute(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"item", "--help"}, {"help", "item", "get"}, {"item", "get", "-h"}} {
		code, out, errOut := run(args...)
		require.Equal(t, ExitOK, code, args)
		require.Contains(t, out, "Usage:", args)
		require.Empty(t, errOut, args)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "tool: missing command (one of item, mode)"},
		{[]string{"nope"}, `tool: unknown command "nope"`},
		{[]string{"item"}, "tool item: missing command (one of break, get)"},
		{[]string{"item", "nope"}, `tool item: unknown command "nope"`},
		{[]string{"item", "get"}, "tool item get: accepts 1 arg(s), received 0"},
		{[]string{"mode", "extra"}, `tool mode: unexpected argument "extra"`},
		{[]string{"mode", "--mode", "b"}, "tool mode: --mode must be a"},
		{[]string{"mode", "--bad"}, "tool mode: unknown flag: --bad"},
		{[]string{"help", "nope"}, `unknown help topic "nope"`},
	} {
		code, out, errOut := run(c.args...)
		require.Equal(t, ExitUsage, code, c.args)
		require.Empty(t, out, c.args)
		require.Contains(t, errOut, c.want, c.args)
		require.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
	}
	code, _, errOut := run("item", "break")
	require.Equal(t, ExitError, code)
	require.Equal(t, "tool item break: it broke badly\n", errOut)
	code, out, _ := run("mode", "--mode", "a")
	require.Equal(t, ExitOK, code)
	require.Empty(t, out)
	code, out, _ = run("--version")
	require.Equal(t, ExitOK, code)
	require.True(t, strings.HasPrefix(out, "tool "), out)
	require.Contains(t, out, "(revision ")
}
