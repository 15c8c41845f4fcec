// Package test holds integration tests that start real servers (BIND 9,
// and later the emulator, moto and PostgreSQL) on loopback and check rpzfw
// against them. A missing server is a test failure that says how to install
// it, never a skip.
package test
