package redisproc

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill the server if its parent (a test binary, a bench command)
// dies without stopping it.
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
