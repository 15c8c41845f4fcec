package test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// TestLogsCommand runs "rpzfw logs setup" and "teardown" as a user would,
// on a store with a device, against moto.
func TestLogsCommand(t *testing.T) {
	ctx := context.Background()
	bin, err := rpzfwBinary()
	if err != nil {
		t.Fatal(err)
	}
	moto := startMoto(t)
	bucket := "dns-logs"
	if _, err := motoS3(moto).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "rpzfw.db"), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	org, _ := st.CreateOrg(ctx, "default")
	st.CreatePolicy(ctx, store.Policy{OrgID: org.ID, Name: "p", Doc: []byte(`{}`)})
	if _, err := st.CreateDevice(ctx, store.Device{OrgID: org.ID, Nickname: "prod", Provider: "aws-dns-firewall", Policy: "p",
		Region: "us-east-1", RuleGroupID: "rslvr-frg-1", EndpointURL: moto}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--data-dir", dir, "--device", "prod", "--aws-endpoint", moto)...)
		cmd.Env = append(cmd.Environ(), "AWS_EC2_METADATA_DISABLED=true")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rpzfw %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("logs", "setup", "--bucket", bucket, "--dry-run")
	if strings.Count(out, "would ") != 3 || strings.Contains(out, "done ") {
		t.Fatalf("dry run:\n%s", out)
	}
	out = run("logs", "setup", "--bucket", bucket)
	if strings.Count(out, "done ") != 3 || !strings.Contains(out, "log upload on, from http") {
		t.Fatalf("setup:\n%s", out)
	}
	device := func() store.Device {
		st, err := sqlstore.Open(ctx, filepath.Join(dir, "rpzfw.db"), quietLog())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		d, err := st.GetDevice(ctx, org.ID, "prod")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := device(); !d.LogEnabled || !strings.HasSuffix(d.LogQueueURL, "/rpzfw-logs-prod") {
		t.Fatalf("device after setup: %+v", d)
	}
	out = run("logs", "teardown")
	if strings.Count(out, "done ") != 2 || !strings.Contains(out, "log upload off") {
		t.Fatalf("teardown:\n%s", out)
	}
	if d := device(); d.LogEnabled || d.LogQueueURL != "" {
		t.Fatalf("device after teardown: %+v", d)
	}
}
