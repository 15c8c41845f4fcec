// Package emulator is a local Route 53 Resolver DNS Firewall: the control
// plane API (awsJson1_1, as the AWS SDKs and CLI speak it, validated against
// the service's own API model), a DNS data plane that answers one VPC's
// queries through the associated rule groups, and query logs written to S3
// in the Route 53 Resolver format.
//
// It behaves the way the service does where tools tend to cut corners:
// lists settle from UPDATING to COMPLETE after a delay and refuse changes
// meanwhile, updates take at most 1000 domains, domain counts and paging
// are true, quotas hold, and throttling, server errors, latency and failed
// imports can be switched on per operation while it runs.
package emulator
