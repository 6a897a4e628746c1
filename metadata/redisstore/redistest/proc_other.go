//go:build !linux

package redistest

import "os/exec"

// setParentDeath does nothing outside Linux: the test's cleanup is the only way servers end.
func setParentDeath(*exec.Cmd) {}
