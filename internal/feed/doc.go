// Package feed keeps the sources of a policy fresh and safe: it fetches
// files, https URLs (conditional GET, size caps) and zone transfers (AXFR,
// then IXFR from the stored serial, TSIG-signed, triggered by NOTIFY), and
// keeps the last good copy of each on disk.
//
// A copy becomes current only after it parses. A fetch or parse failure
// keeps the last good copy and records the error; an update that shrinks a
// source by more than the policy's max_shrink, or to nothing, is held until
// a person accepts it. An empty or broken feed never wipes a firewall.
package feed
