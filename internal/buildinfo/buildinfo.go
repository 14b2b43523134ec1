// Package buildinfo reads what the Go toolchain recorded in the klagx
// binary: module version, VCS revision and whether the tree was modified,
// and the Go version. `klagx version` prints it and klagx_build_info
// carries it as labels.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info describes the running binary.
type Info struct {
	// Version is the release version: the one set at build time when
	// there is one, else the module version of `go install …@vX.Y.Z`,
	// else "dev".
	Version string
	// Revision is the VCS revision ("unknown" when not recorded);
	// Modified is true when the tree had local changes.
	Revision string
	Modified bool
	// GoVersion is the Go version the binary was built with.
	GoVersion string
}

// Read returns the binary's Info. version is the release version set at
// build time (-ldflags "-X main.version=…"); "" or "dev" means none.
func Read(version string) Info {
	if version == "" {
		version = "dev"
	}
	in := Info{Version: version, Revision: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	if in.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		in.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		in.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}
