package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is the release version, set at build time with
// -ldflags "-X main.version=v1.2.3". "dev" otherwise.
var version = "dev"

// revision is the git commit, set at build time with
// -ldflags "-X main.revision=..." (make build, make install, the
// Dockerfile's REVISION argument). When empty, the revision Go stamped into
// the binary is used; Go stamps none with -buildvcs=false or outside a git
// checkout.
var revision = ""

// versionCmd prints version information.
type versionCmd struct{}

// Run prints the version, git revision and Go version to g.Stdout.
func (versionCmd) Run(g *globals) error {
	_, err := fmt.Fprintln(g.Stdout, versionString())
	return err
}

// buildRevision is the git revision of this binary (see revision), and
// whether Go recorded uncommitted changes; "" when unknown.
func buildRevision() (rev string, modified bool) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if revision != "" {
		rev = revision
	}
	return rev, modified
}

// versionString is e.g. "klagx version v1.2.3 (revision 0123abcd, modified) go1.26.0 linux/amd64".
func versionString() string {
	v, goVersion := version, runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version // go install ...@vX.Y.Z
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
	}
	rev, modified := buildRevision()
	if rev == "" {
		rev = "unknown"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "klagx version %s (revision %s", v, rev)
	if modified {
		b.WriteString(", modified")
	}
	fmt.Fprintf(&b, ") %s %s/%s", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
