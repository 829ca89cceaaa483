package engine

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xlgo/xlgo/internal/metrics"
)

// Metrics are a coordinator's Prometheus metrics (served by
// internal/metrics on the coordinator's metrics address).
type Metrics struct {
	Registry *prometheus.Registry
}

func newMetrics(c *Coordinator) *Metrics {
	m := &Metrics{Registry: metrics.NewRegistry()}
	return m
}
