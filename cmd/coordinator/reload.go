package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/xlgo/xlgo/auth"
	"github.com/xlgo/xlgo/engine"
	"github.com/xlgo/xlgo/internal/logging"
	"github.com/xlgo/xlgo/pooler"
	"github.com/xlgo/xlgo/server"
)

// reloadable are the flags whose values --config may set too, and that a
// reload (SIGHUP, the admin console's RELOAD) puts in force without
// dropping anyone. The hba and TLS files are read again as well.
var reloadable = []string{
	"log-level", "log-min-duration-statement", "max-client-conn", "authentication-timeout",
	"pool-size", "pool-max-idle", "pool-idle-timeout", "pool-wait-timeout",
}

// reloader reads the reloadable settings (flags, then --config) and puts
// them in force.
type reloader struct {
	mu     sync.Mutex // held while the options change, and to read them after the start
	o      *options
	flags  *pflag.FlagSet
	given  map[string]string // the reloadable flags' values as started
	logger *slog.Logger
	srv    *server.Server
	co     *engine.Coordinator
}

func newReloader(o *options, flags *pflag.FlagSet) *reloader {
	r := &reloader{o: o, flags: flags, given: map[string]string{}}
	for _, name := range reloadable {
		r.given[name] = flags.Lookup(name).Value.String()
	}
	return r
}

// read sets the reloadable options from the flags as given and the config
// file over them.
func (r *reloader) read() error {
	for name, v := range r.given {
		if err := r.flags.Set(name, v); err != nil {
			return err
		}
	}
	if r.o.configFile == "" {
		return nil
	}
	v := viper.New()
	v.SetConfigFile(r.o.configFile)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("--config %s: %w", r.o.configFile, err)
	}
	for _, key := range v.AllKeys() {
		name := strings.ReplaceAll(key, "_", "-")
		if !slices.Contains(reloadable, name) {
			return fmt.Errorf("--config %s: %q is not a setting of the file (it takes %s)", r.o.configFile, key, strings.Join(reloadable, ", "))
		}
		if err := r.flags.Set(name, v.GetString(key)); err != nil {
			return fmt.Errorf("--config %s: %s: %w", r.o.configFile, key, err)
		}
	}
	return nil
}

// settings reads everything a reload changes; nothing is in force yet.
func (r *reloader) settings() (server.Reloadable, slog.Level, error) {
	var sr server.Reloadable
	if err := r.read(); err != nil {
		return sr, 0, err
	}
	o := r.o
	lv, err := logging.ParseLevel(o.logLevel)
	if err != nil {
		return sr, 0, err
	}
	if o.maxClientConn < 1 || o.authTimeout <= 0 || o.poolSize < 1 || o.poolMaxIdle < 0 || o.poolIdleTimeout <= 0 || o.poolWaitTimeout <= 0 {
		return sr, 0, fmt.Errorf("max-client-conn, authentication-timeout, pool-size, pool-idle-timeout and pool-wait-timeout must be positive")
	}
	sr.MaxConnections, sr.StartupTimeout = o.maxClientConn, o.authTimeout
	sr.HBA = auth.DefaultHBA()
	if o.hbaFile != "" {
		if sr.HBA, err = auth.LoadHBA(o.hbaFile); err != nil {
			return sr, 0, err
		}
	}
	if o.sslCert != "" && o.sslKey != "" {
		if sr.TLS, err = auth.LoadServerTLS(o.sslCert, o.sslKey, o.sslCA); err != nil {
			return sr, 0, err
		}
	}
	return sr, lv, nil
}

// apply puts what settings read in force.
func (r *reloader) apply(sr server.Reloadable, lv slog.Level) {
	o := r.o
	o.level.Set(lv)
	r.co.SetLogMinDuration(o.logMinDuration)
	r.co.Pool.SetLimits(pooler.Limits{MaxPerKey: o.poolSize, MaxIdlePerKey: max(o.poolMaxIdle, 1), IdleTimeout: o.poolIdleTimeout, WaitTimeout: o.poolWaitTimeout})
	if r.srv != nil {
		r.srv.Reload(sr)
	}
}

// locked is fn run while no reload changes the options.
func (r *reloader) locked(fn func() [][2]string) func() [][2]string {
	return func() [][2]string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return fn()
	}
}

// reload reads the settings again and puts them in force; on an error
// nothing changes (as PostgreSQL keeps its settings when postgresql.conf
// has a mistake).
func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sr, lv, err := r.settings()
	if err != nil {
		r.logger.Error("reload failed; the settings in force stay", "err", err)
		return err
	}
	r.apply(sr, lv)
	r.logger.Info("configuration reloaded", "log_level", lv.String(), "log_min_duration_statement", r.o.logMinDuration,
		"max_client_conn", r.o.maxClientConn, "authentication_timeout", r.o.authTimeout, "pool_size", r.o.poolSize,
		"pool_max_idle", r.o.poolMaxIdle, "pool_idle_timeout", r.o.poolIdleTimeout, "pool_wait_timeout", r.o.poolWaitTimeout,
		"hba", sr.HBA.Source, "tls", sr.TLS != nil)
	return nil
}

// defaultShutdownWait bounds a graceful shutdown (SIGTERM).
const defaultShutdownWait = 30 * time.Second
