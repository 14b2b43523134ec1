package bench

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the kfake child if the parent dies.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
