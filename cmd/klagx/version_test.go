package main

import (
	"strings"
	"testing"
)

// TestVersionRevision: the revision make build passes with -ldflags
// (main.revision) is printed even when Go stamped none (-buildvcs=false, a
// worktree or tarball): never "(revision unknown)" from make build.
func TestVersionRevision(t *testing.T) {
	old := revision
	t.Cleanup(func() { revision = old })
	revision = "0123456789abcdef"
	code, out, _ := runCLI(t, "version")
	if code != exitOK || !strings.Contains(out, "(revision 0123456789abcdef") {
		t.Errorf("klagx version = %q (exit %d), want the -ldflags revision", out, code)
	}
}
