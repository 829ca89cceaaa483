// Package faultproxy is a TCP proxy on loopback that injects network faults
// between two xlgo processes at run time (added latency, bytes held as a lost
// link holds them, connections reset or refused, one direction only), for the
// tests that kernels without netem cannot shape. It owns only its listener and
// the connections through it; it knows no protocol and imports nothing of xlgo.
package faultproxy
