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

// versionCmd prints version information.
type versionCmd struct{}

// Run prints the version, git revision and Go version to g.Stdout.
func (versionCmd) Run(g *globals) error {
	_, err := fmt.Fprintln(g.Stdout, versionString())
	return err
}

// versionString is e.g. "klagx version v1.2.3 (revision 0123abcd, modified) go1.26.0 linux/amd64".
func versionString() string {
	bi := buildinfo.Read(version)
	var b strings.Builder
	fmt.Fprintf(&b, "klagx version %s (revision %s", bi.Version, bi.Revision)
	if bi.Modified {
		b.WriteString(", modified")
	}
	fmt.Fprintf(&b, ") %s %s/%s", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
