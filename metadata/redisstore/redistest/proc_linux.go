package redistest

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill the server if the test binary dies without cleanup.
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
