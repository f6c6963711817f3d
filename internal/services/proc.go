package services

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// progress is where the progress lines of a start go: w, or nowhere when
// w is nil.
func progress(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("services: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		return procState(b) != 'Z'
	}
	return syscall.Kill(pid, 0) == nil
}

// procState returns the state letter of a /proc/<pid>/stat line.
func procState(stat []byte) byte {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

// groupAlive reports whether any live process belongs to process group pgid.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		// fields after the command: state ppid pgrp ...
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid || pid == pgid {
			return true
		}
	}
	return false
}

// cmdlineContains reports whether the command line of pid contains s. On
// systems without /proc it answers true.
func cmdlineContains(pid int, s string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist) && !procExists()
	}
	return bytes.Contains(b, []byte(s))
}

func procExists() bool {
	_, err := os.Stat("/proc/self")
	return err == nil
}

// StopGroup stops the process group led by pid: SIGTERM, then SIGKILL after
// grace. It refuses to signal a process whose command line does not contain
// mustContain, so a stale pid file cannot hit an unrelated process.
func StopGroup(pid int, mustContain string, grace time.Duration) error {
	if !Alive(pid) {
		return nil
	}
	if mustContain != "" && !cmdlineContains(pid, mustContain) {
		return fmt.Errorf("services: process %d is not ours (command line lacks %q); not stopping it", pid, mustContain)
	}
	if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		// Not a group leader: signal the process alone.
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !groupAlive(pid) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 50 && groupAlive(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if groupAlive(pid) {
		return fmt.Errorf("services: process group %d still alive after SIGKILL", pid)
	}
	return nil
}

// ReadPID reads a pid file; a missing file gives 0 and no error.
func ReadPID(file string) (int, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("services: bad pid file %s: %w", file, err)
	}
	return pid, nil
}

// WritePID writes pid to file.
func WritePID(file string, pid int) error {
	return os.WriteFile(file, []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// lockFile takes an exclusive advisory lock on path, creating it. The
// returned function releases it.
func lockFile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("services: lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Tail returns the last n lines of file (for error messages).
func Tail(file string, n int) string {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", file, err)
	}
	defer f.Close()
	lines := make([]string, 0, n)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if len(lines) == n {
			copy(lines, lines[1:])
			lines = lines[:n-1]
		}
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines, "\n")
}
