//go:build !linux

package redisproc

import "os/exec"

// setParentDeath does nothing outside Linux: Stop (a test's cleanup, a bench's defer) is the only
// way servers end.
func setParentDeath(*exec.Cmd) {}
