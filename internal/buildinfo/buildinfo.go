// Package buildinfo reports what binary is running: the module version and
// the VCS revision the Go toolchain stamped into it. It imports nothing of
// the project, so every process (and its --version flag and build_info
// metric) reads the same facts.
package buildinfo

import (
	"cmp"
	"runtime"
	"runtime/debug"
)

// Info is what the toolchain recorded about the running binary.
type Info struct {
	// Version is the main module's version ("(devel)" for a local build).
	Version string
	// Revision is the VCS commit the binary was built from, "unknown" when
	// the build carried no VCS stamp; Modified is true when the work tree
	// had uncommitted changes.
	Revision string
	Modified bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// linkedRevision is the VCS revision given at link time, for builds the
// toolchain stamps none into (a git worktree, -buildvcs=false):
//
//	go build -ldflags "-X github.com/reactivation/reactivation/internal/buildinfo.linkedRevision=$(git rev-parse HEAD)"
//
// The Makefile's build does this. A stamped vcs.revision wins over it.
var linkedRevision string

// Read returns the running binary's Info. It never fails: fields the build
// did not record read "unknown".
func Read() Info {
	info := Info{Version: "unknown", Revision: cmp.Or(linkedRevision, "unknown"), GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if bi.Main.Version != "" {
		info.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one-line form printed by --version:
// "<version> (revision <rev>[, modified], <go version>)".
func (i Info) String() string {
	rev := i.Revision
	if i.Modified {
		rev += ", modified"
	}
	return i.Version + " (revision " + rev + ", " + i.GoVersion + ")"
}
