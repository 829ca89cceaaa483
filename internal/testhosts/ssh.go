package testhosts

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const sshdPath = "/usr/sbin/sshd"

// sshReady bounds the wait for a host's sshd to listen.
const sshReady = 15 * time.Second

func sshAvailable() error {
	if _, err := os.Stat(sshdPath); err != nil {
		return fmt.Errorf("%w: %s is missing (apt-get install openssh-server)", ErrUnavailable, sshdPath)
	}
	for _, p := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%w: %s is missing (apt-get install openssh-client)", ErrUnavailable, p)
		}
	}
	return nil
}

// startSSH generates the client key and each host's key, starts an sshd on
// port 22 of every host, and writes the client config once all listen.
func (nt *Net) startSSH(ctx context.Context) error {
	// sshd's privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return fmt.Errorf("testhosts: %w", err)
	}
	clientKey := filepath.Join(nt.dir, "id_ed25519")
	if err := keygen(ctx, clientKey); err != nil {
		return err
	}
	pub, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		return err
	}
	authorized := filepath.Join(nt.dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		return err
	}
	var daemons []*daemon
	var known, client strings.Builder
	for _, h := range nt.hosts {
		hdir := filepath.Join(nt.dir, h.name)
		if err := os.Mkdir(hdir, 0o700); err != nil {
			return err
		}
		hostKey := filepath.Join(hdir, "ssh_host_ed25519_key")
		if err := keygen(ctx, hostKey); err != nil {
			return err
		}
		conf := filepath.Join(hdir, "sshd_config")
		if err := os.WriteFile(conf, []byte(sshdConfig(h.addr, hostKey, authorized, hdir)), 0o600); err != nil {
			return err
		}
		log, err := os.Create(filepath.Join(hdir, "sshd.log"))
		if err != nil {
			return err
		}
		cmd := h.Command(context.Background(), sshdPath, "-D", "-e", "-f", conf)
		cmd.Stdout, cmd.Stderr = log, log
		d, err := nt.start(cmd)
		log.Close()
		if err != nil {
			return fmt.Errorf("testhosts: start sshd on %s: %w", h.name, err)
		}
		daemons = append(daemons, d)
		h.sshd = d

		hostPub, err := os.ReadFile(hostKey + ".pub")
		if err != nil {
			return err
		}
		kf := strings.Fields(string(hostPub))
		if len(kf) < 2 {
			return fmt.Errorf("testhosts: host key %s.pub: %q", hostKey, hostPub)
		}
		fmt.Fprintf(&known, "%s,%s %s %s\n", h.name, h.addr, kf[0], kf[1])
		fmt.Fprintf(&client, "Host %s %s\n  HostName %s\n", h.name, h.addr, h.addr)
	}
	knownHosts := filepath.Join(nt.dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(known.String()), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(&client, `Host *
  User root
  Port 22
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  CheckHostIP no
  BatchMode yes
  ConnectTimeout 10
  LogLevel ERROR
`, clientKey, knownHosts)
	cfg := filepath.Join(nt.dir, "ssh_config")
	if err := os.WriteFile(cfg, []byte(client.String()), 0o600); err != nil {
		return err
	}
	for i, h := range nt.hosts {
		if err := waitListening(ctx, daemons[i], netip.AddrPortFrom(h.addr, 22)); err != nil {
			b, _ := os.ReadFile(filepath.Join(nt.dir, h.name, "sshd.log"))
			return fmt.Errorf("testhosts: sshd on %s: %w: %s", h.name, err, strings.TrimSpace(string(b)))
		}
	}
	nt.sshConfig = cfg
	return nil
}

// SSH returns a command that runs args on the host through its sshd, as an
// operator's tool does (ssh -F Net.SSHConfig() h1 args...).
func (h *Host) SSH(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ssh", append([]string{"-F", h.net.sshConfig, h.name}, args...)...)
}

// sshdConfig is a host's sshd config: its address only, key login as root,
// keys and pid file in the Net's temp dir.
func sshdConfig(addr netip.Addr, hostKey, authorized, dir string) string {
	return fmt.Sprintf(`ListenAddress %s:22
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
`, addr, hostKey, filepath.Join(dir, "sshd.pid"), authorized)
}

func keygen(ctx context.Context, path string) error {
	if err := run(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "xlgo-testhosts", "-f", path); err != nil {
		return fmt.Errorf("testhosts: %w", err)
	}
	return nil
}

// waitListening polls addr until it accepts a connection, d exits or
// sshReady passes.
func waitListening(ctx context.Context, d *daemon, addr netip.AddrPort) error {
	var err error
	held := within(sshReady, func() bool {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
			c.Close()
			return true
		}
		select {
		case <-d.done:
			err = fmt.Errorf("exited: %v", d.err)
		case <-ctx.Done():
			err = ctx.Err()
		default:
			return false
		}
		return true
	})
	if !held {
		return fmt.Errorf("not listening on %s after %s: %w", addr, sshReady, err)
	}
	return err
}
