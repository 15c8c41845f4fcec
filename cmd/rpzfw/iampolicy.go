package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rpzfw/rpzfw/internal/iampolicy"
)

func runIAMPolicy(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("iam-policy", "[flags]\n\nPrints the least-privilege IAM policy for a device: only the calls rpzfw makes.")
	var d iampolicy.Device
	fs.StringVar(&d.Region, "region", "", "AWS `region` of the rule group")
	fs.StringVar(&d.Account, "account", "", "AWS `account` ID")
	fs.StringVar(&d.RuleGroupID, "rule-group-id", "", "the rule group rpzfw keeps")
	fs.StringVar(&d.StagingBucket, "staging-bucket", "", "S3 `bucket` for import files, if used")
	fs.StringVar(&d.LogBucket, "log-bucket", "", "S3 `bucket` holding the query logs, if reports are wanted")
	fs.StringVar(&d.LogPrefix, "log-prefix", "", "key prefix of the query logs")
	fs.StringVar(&d.LogQueueARN, "log-queue-arn", "", "SQS queue `ARN` receiving the log bucket's events")
	fs.StringVar(&d.Partition, "partition", "aws", "AWS partition")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	doc, err := iampolicy.For(d)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	_, err = fmt.Fprintln(stdout, doc.JSON())
	return err
}
