package testhosts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// Sweep removes what Nets of prefix left behind when their process died
// before Close (a test binary killed on a timeout): the processes in their
// cgroups, their namespaces, root-namespace links, cgroups and temp dirs.
// What belongs to a process that still runs is left alone.
func Sweep(ctx context.Context, prefix string) error {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	var errs []error
	// Processes first: a namespace lives on while a process is inside it.
	if h, err := findHierarchies(); err == nil {
		for _, r := range h.roots() {
			ents, _ := os.ReadDir(r)
			for _, e := range ents {
				if e.IsDir() && deadOwner(prefix, e.Name(), false) {
					errs = append(errs, removeCgroup(filepath.Join(r, e.Name())))
				}
			}
		}
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if deadOwner(prefix, e.Name(), true) {
			errs = append(errs, deleteNetns(ctx, e.Name()))
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		if m := linkName.FindStringSubmatch(l.Name()); m != nil && !alive(m[1]) {
			errs = append(errs, deleteLink(ctx, l.Name()))
		}
	}
	dirs, _ := os.ReadDir(tempRoot())
	for _, d := range dirs {
		if deadOwner(prefix, d.Name(), false) {
			errs = append(errs, os.RemoveAll(filepath.Join(tempRoot(), d.Name())))
		}
	}
	return errors.Join(errs...)
}

// linkName matches the root namespace's end of a Net's uplink: xlPIDnSEQ.
var linkName = regexp.MustCompile(`^xl([0-9]+)n[0-9]+$`)

// deadOwner tells whether name is PREFIX-PID-SEQ (followed by -HOST when
// host is set) and PID no longer runs.
func deadOwner(prefix, name string, host bool) bool {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return false
	}
	parts := strings.SplitN(rest, "-", 3)
	want := 2
	if host {
		want = 3
	}
	if len(parts) != want {
		return false
	}
	if _, err := strconv.Atoi(parts[1]); err != nil {
		return false
	}
	return !alive(parts[0])
}

// alive tells whether the process pid runs; a pid that is not a number is
// taken as alive, so that nothing is removed by mistake.
func alive(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return true
	}
	return syscall.Kill(n, 0) != syscall.ESRCH
}
