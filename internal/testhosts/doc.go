// Package testhosts makes simulated hosts on one machine for cluster tests
// and benchmarks: a network namespace, a private address, a cgroup (an
// optional CPU cap) and an sshd per host, all joined by one bridge that the
// root namespace reaches. It owns what it creates and removes all of it; it
// routes nothing off the machine and imports nothing of xlgo nor "testing".
package testhosts
