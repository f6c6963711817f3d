package soak

import "syscall"

// childAttr makes the kernel kill the redis-server when the test process
// dies, so a crashed run leaves nothing behind.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
