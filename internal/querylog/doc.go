// Package querylog brings Route 53 Resolver query logs into the store:
// it long-polls the SQS queues that S3 notifies of new log objects, reads
// each object as a stream, attributes its lines to devices and its hits to
// the plan entries and sources that caused them, and stores hits, counts
// and rollups for reports.
//
// Invariants:
//   - One consumer per distinct queue and credentials, whatever the number
//     of devices that log to it (one object holds every VPC of its query
//     logging configuration). Several instances may consume one queue.
//   - Exactly once: an object (queue, bucket, key, ETag) is recorded in the
//     transaction that stores its rows; its message is deleted only after
//     that commit. A redelivered message, an object notified twice, or an
//     instance that dies between the commit and the delete adds nothing.
//   - Nothing is dropped silently: a bad line is counted (and the first few
//     logged with their object and line number) and never fails its
//     object; a line of no device is counted as unattributed for the
//     queue's organization; a message that is not an S3 event, or an object
//     that is not a query log, is counted and skipped.
//   - A message that keeps failing is quarantined after Config.MaxReceives
//     receives with its reason, and retried when a user asks. An access
//     denied is not the message's fault: the queue goes to error naming the
//     missing permission, and its messages wait until it is granted.
//   - Memory is bounded whatever an object's size: lines are read from the
//     gzip stream one at a time (at most MaxLine each), and an object's rows
//     beyond a bound go to a spill file until its transaction.
//   - Metrics have bounded labels: no queue, device or object names.
//
// Attribution needs the plan each device held when a hit happened: the
// scheduler calls RecordSync after every successful sync, which records
// the plan's entries with their provenance and which list holds which
// rule, as intervals in the store (only what changed).
package querylog
