package buildinfo

import (
	"runtime"
	"testing"
)

// TestRead: a version set at build time wins; without one the version is
// never empty; the Go version is the running one.
func TestRead(t *testing.T) {
	if in := Read("v1.2.3"); in.Version != "v1.2.3" || in.GoVersion != runtime.Version() || in.Revision == "" {
		t.Fatalf("%+v", in)
	}
	if in := Read(""); in.Version == "" {
		t.Fatalf("%+v", in)
	}
}
