// Package cli is the command-line convention every binary of the project
// follows, on top of cobra commands:
//
//   - --help, -h and `help [command]` print to stdout and exit 0, for the
//     binary and every subcommand;
//   - a usage error (unknown command or flag, missing or extra argument, a
//     bad flag value) is one line on stderr and exit 2;
//   - any other error is one line on stderr and exit 1;
//   - --version prints buildinfo.Read().String() and exits 0.
//
// A command only declares its flags and its RunE; Execute applies the rest
// to the whole tree, so a subcommand added anywhere gets it for free.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reactivation/reactivation/internal/buildinfo"
)

// Exit codes of every binary.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// UsageError is a mistake in the command line; Execute exits 2 for it.
type UsageError struct{ msg string }

func (e UsageError) Error() string { return e.msg }

// Usagef returns a UsageError. Commands return it for what their flags
// cannot check themselves ("--mode must be full or incremental").
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Sprintf(format, args...)}
}

// IsUsage reports whether err is (or wraps) a UsageError.
func IsUsage(err error) bool {
	var ue UsageError
	return errors.As(err, &ue)
}

// NewRoot returns the root command of the binary name: short is its one
// line summary, long the text --help shows under it.
func NewRoot(name, short, long string) *cobra.Command {
	root := &cobra.Command{
		Use:   name,
		Short: short,
		Long:  strings.TrimSpace(short + "\n\n" + long),
		// Execute prints errors itself, as one line, and never the usage
		// after an error: the line says what to run for it.
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       buildinfo.Read().String(),
	}
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	// Subcommands inherit the flag error function of their root.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return UsageError{err.Error()} })
	return root
}

// Execute runs root with args (os.Args[1:]) and returns the exit code,
// having printed any error as one line on stderr. stdout and stderr are
// where help and errors go (os.Stdout and os.Stderr in a binary).
func Execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// cobra adds its help command only to a root with subcommands; a server
	// binary has none but answers `help` too.
	help := helpCommand(root)
	root.SetHelpCommand(help)
	root.AddCommand(help)
	prepare(root)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if cmd == nil {
		cmd = root
	}
	line := strings.Join(strings.Fields(err.Error()), " ")
	if IsUsage(err) || cobraUsage(err) {
		fmt.Fprintf(stderr, "%s: %s (see %s --help)\n", cmd.CommandPath(), line, cmd.CommandPath())
		return ExitUsage
	}
	fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), line)
	return ExitError
}

// cobraUsage recognises the usage errors cobra returns as plain errors:
// those of MarkFlagRequired and of flag groups.
func cobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "required flag(s)") || strings.HasPrefix(msg, "if any flags in the group") ||
		strings.HasPrefix(msg, "at least one of the flags")
}

// prepare walks the tree: a command that holds only subcommands rejects a
// missing or unknown one as a usage error (cobra would print its help and
// exit 0), a command that runs takes no positional arguments unless it
// says otherwise, and every argument check fails as a usage error.
func prepare(cmd *cobra.Command) {
	switch {
	case cmd.Name() == "help":
	case !cmd.Runnable() && cmd.HasSubCommands():
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return Usagef("missing command (one of %s)", subcommandNames(c))
			}
			return Usagef("unknown command %q (one of %s)", args[0], subcommandNames(c))
		}
	case cmd.Args == nil:
		cmd.Args = noArgs
	default:
		cmd.Args = usageArgs(cmd.Args)
	}
	for _, sub := range cmd.Commands() {
		prepare(sub)
	}
}

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("unexpected argument %q", args[0])
	}
	return nil
}

func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			if IsUsage(err) {
				return err
			}
			return UsageError{err.Error()}
		}
		return nil
	}
}

func subcommandNames(cmd *cobra.Command) string {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() && sub.Name() != "help" {
			names = append(names, sub.Name())
		}
	}
	return strings.Join(names, ", ")
}

// helpCommand is `help [command...]`: cobra's own answers an unknown topic
// with exit 0, this one with a usage error.
func helpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help prints the help of any command, the same as its --help.",
		Args:  cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 || target == nil {
				return Usagef("unknown help topic %q", strings.Join(args, " "))
			}
			// Flags --help and --version are added when a command runs:
			// add them here so the help shows them, as --help does.
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}
