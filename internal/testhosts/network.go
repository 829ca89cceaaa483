package testhosts

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// The hosts' networks are /24s of 10.213.0.0/16; a Net takes the first one
// that no address or route of the root namespace overlaps.
var netRange = netip.MustParsePrefix("10.213.0.0/16")

// buildNetwork makes the switch namespace with its bridge, the root
// namespace's veth to it, and each host's namespace and veth.
func (nt *Net) buildNetwork(ctx context.Context) error {
	if err := nt.addNetns(ctx, nt.swNS); err != nil {
		return err
	}
	sw := []string{"-n", nt.swNS}
	if err := nt.ip(ctx, append(sw, "link", "add", "br0", "type", "bridge")...); err != nil {
		return err
	}
	if err := nt.ip(ctx, append(sw, "link", "set", "br0", "up")...); err != nil {
		return err
	}
	if err := nt.uplink(ctx); err != nil {
		return err
	}
	for i, h := range nt.hosts {
		h.addr = hostAddr(nt.subnet, byte(i+1))
		if err := nt.addNetns(ctx, h.ns); err != nil {
			return err
		}
		hn := []string{"-n", h.ns}
		for _, args := range [][]string{
			append(hn, "link", "set", "lo", "up"),
			append(sw, "link", "add", h.name, "type", "veth", "peer", "name", "eth0", "netns", h.ns),
			append(sw, "link", "set", h.name, "master", "br0", "up"),
			append(hn, "addr", "add", netip.PrefixFrom(h.addr, 24).String(), "dev", "eth0"),
			append(hn, "link", "set", "eth0", "up"),
		} {
			if err := nt.ip(ctx, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// uplink picks a free subnet and gives the root namespace its address on it,
// under a lock so that two processes do not pick the same one.
func (nt *Net) uplink(ctx context.Context) error {
	// Every Net's process locks the directory of their temp dirs.
	f, err := os.Open(tempRoot())
	if err != nil {
		return fmt.Errorf("testhosts: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("testhosts: lock %s: %w", tempRoot(), err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)

	subnet, err := freeSubnet(ctx)
	if err != nil {
		return err
	}
	nt.subnet = subnet
	nt.gw = hostAddr(subnet, 254)
	for _, args := range [][]string{
		{"link", "add", nt.link, "type", "veth", "peer", "name", "toroot", "netns", nt.swNS},
		{"-n", nt.swNS, "link", "set", "dev", "toroot", "master", "br0", "up"},
		{"addr", "add", netip.PrefixFrom(nt.gw, 24).String(), "dev", nt.link},
		{"link", "set", nt.link, "up"},
	} {
		if err := nt.ip(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// freeSubnet returns the first /24 of netRange that no address or route of
// the root namespace overlaps (the default route aside).
func freeSubnet(ctx context.Context) (netip.Prefix, error) {
	var used []netip.Prefix
	for _, args := range [][]string{{"-4", "-o", "addr", "show"}, {"-4", "route", "show", "table", "all"}} {
		out, err := exec.CommandContext(ctx, "ip", args...).Output()
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("testhosts: ip %s: %w", strings.Join(args, " "), err)
		}
		used = append(used, prefixesIn(string(out))...)
	}
	for x := 0; x < 256; x++ {
		a := netRange.Addr().As4()
		a[2] = byte(x)
		cand := netip.PrefixFrom(netip.AddrFrom4(a), 24)
		free := true
		for _, p := range used {
			if p.Overlaps(cand) {
				free = false
				break
			}
		}
		if free {
			return cand, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("testhosts: every /24 of %s is in use", netRange)
}

// prefixesIn returns every IPv4 address or prefix of ip's output but the
// default route, each with its prefix length (an address alone counts as /32).
func prefixesIn(out string) []netip.Prefix {
	var ps []netip.Prefix
	for _, f := range strings.Fields(out) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr().Is4() {
			ps = append(ps, p.Masked())
		} else if a, err := netip.ParseAddr(f); err == nil && a.Is4() {
			ps = append(ps, netip.PrefixFrom(a, 32))
		}
	}
	return ps
}

// delay puts netem on every host's eth0 and on the root namespace's link, so
// that each side's packets wait Delay before they leave.
func (nt *Net) delay(ctx context.Context) error {
	tc, err := exec.LookPath("tc")
	if err != nil {
		return fmt.Errorf("testhosts: %w (tc is not installed)", ErrNoNetem)
	}
	ms := strconv.FormatFloat(float64(nt.opt.Delay.Microseconds())/1000, 'f', -1, 64) + "ms"
	if err := run(ctx, tc, "qdisc", "add", "dev", nt.link, "root", "netem", "delay", ms); err != nil {
		return fmt.Errorf("testhosts: %w: %v", ErrNoNetem, err)
	}
	for _, h := range nt.hosts {
		if err := run(ctx, tc, "-n", h.ns, "qdisc", "add", "dev", "eth0", "root", "netem", "delay", ms); err != nil {
			return fmt.Errorf("testhosts: %w: %v", ErrNoNetem, err)
		}
	}
	return nil
}

func (nt *Net) addNetns(ctx context.Context, name string) error {
	if err := nt.ip(ctx, "netns", "add", name); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	nt.mu.Lock()
	nt.created = append(nt.created, name)
	nt.mu.Unlock()
	return nil
}

func (nt *Net) ip(ctx context.Context, args ...string) error {
	if err := run(ctx, nt.ipPath, args...); err != nil {
		return fmt.Errorf("testhosts: %w", err)
	}
	return nil
}

// deleteNetns deletes a namespace; one already gone is no error.
func deleteNetns(ctx context.Context, name string) error {
	if _, err := os.Stat("/run/netns/" + name); os.IsNotExist(err) {
		return nil
	}
	return run(ctx, "ip", "netns", "delete", name)
}

// deleteLink deletes a link of the root namespace; one already gone is no error.
func deleteLink(ctx context.Context, name string) error {
	if _, err := os.Stat("/sys/class/net/" + name); os.IsNotExist(err) {
		return nil
	}
	return run(ctx, "ip", "link", "delete", name)
}

// hostAddr is the address of subnet (a /24) that ends in last.
func hostAddr(subnet netip.Prefix, last byte) netip.Addr {
	a := subnet.Addr().As4()
	a[3] = last
	return netip.AddrFrom4(a)
}
