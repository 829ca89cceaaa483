// Package deadlock finds distributed deadlocks: cycles of lock waits between
// global transactions (a coordinator's session) that pass through more than one
// datanode, which no single PostgreSQL can see. It asks every coordinator which
// datanode backends its sessions hold and every datanode which backends wait
// for which, builds the wait-for graph and cancels one victim per cycle through
// the victim's coordinator. It leaves cycles within one datanode to that
// datanode's own deadlock detector and changes nothing else.
package deadlock
