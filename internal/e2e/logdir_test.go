package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// logSeq numbers the processes a test run starts, so their log files never
// collide.
var logSeq atomic.Int64

// captureOutput returns where a started binary's stdout and stderr also
// go: files under $E2E_LOG_DIR (named after the test, the binary and a
// sequence number) when that variable is set, for checks from outside the
// suite (deploy/local/leakcheck.sh); io.Discard otherwise. The files are
// closed when the test ends.
func captureOutput(t *testing.T, binary string) (stdout, stderr io.Writer) {
	t.Helper()
	dir := os.Getenv("E2E_LOG_DIR")
	if dir == "" {
		return io.Discard, io.Discard
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	name := fmt.Sprintf("%s-%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), binary, logSeq.Add(1))
	open := func(stream string) io.Writer {
		f, err := os.Create(filepath.Join(dir, name+"."+stream))
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return f
	}
	return open("stdout"), open("stderr")
}

// keepOutput saves the combined output of a binary run to completion
// under $E2E_LOG_DIR, like captureOutput.
func keepOutput(t *testing.T, binary string, out []byte) {
	t.Helper()
	_, w := captureOutput(t, binary)
	_, err := w.Write(out)
	require.NoError(t, err)
}
