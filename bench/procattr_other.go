//go:build !linux

package bench

import "os/exec"

// setProcAttr is a no-op outside Linux: the child still exits when its
// stdin closes.
func setProcAttr(*exec.Cmd) {}
