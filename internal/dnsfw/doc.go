// Package dnsfw models AWS Route 53 Resolver DNS Firewall: the syntax of
// domain list entries, firewall rules, and the first-match evaluation that
// decides what happens to a query name.
//
// It is the pure core both the compiler and the emulator build on: no I/O.
package dnsfw
