package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/klagx/klagx/internal/buildinfo"
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

// buildInfo is buildinfo.Read with the revision set at build time, if any.
func buildInfo() buildinfo.Info {
	bi := buildinfo.Read(version)
	if revision != "" {
		bi.Revision = revision
	}
	return bi
}

// buildRevision is the git revision of this binary, "" when unknown: what
// server.Options.Revision takes.
func buildRevision() string {
	if rev := buildInfo().Revision; rev != "unknown" {
		return rev
	}
	return ""
}

// versionString is e.g. "klagx version v1.2.3 (revision 0123abcd, modified) go1.26.0 linux/amd64".
func versionString() string {
	bi := buildInfo()
	var b strings.Builder
	fmt.Fprintf(&b, "klagx version %s (revision %s", bi.Version, bi.Revision)
	if bi.Modified {
		b.WriteString(", modified")
	}
	fmt.Fprintf(&b, ") %s %s/%s", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
