package buildinfo

import (
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	info := Read()
	require.Equal(t, runtime.Version(), info.GoVersion)
	require.NotEmpty(t, info.Version)
	require.NotEmpty(t, info.Revision)
	s := info.String()
	require.True(t, strings.HasPrefix(s, info.Version+" (revision "+info.Revision), s)
	require.Contains(t, s, runtime.Version())
}
