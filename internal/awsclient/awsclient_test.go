package awsclient

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestStaticKeysReplaceTheChain(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "from-env")
	cfg, err := Config(context.Background(), Options{Region: "eu-west-1", AccessKeyID: "AKIDSTATIC", SecretAccessKey: "static-secret"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIDSTATIC" || c.SecretAccessKey != "static-secret" {
		t.Fatalf("credentials %q, %v", c.AccessKeyID, err)
	}
	o := Options{Region: "eu-west-1", SecretAccessKey: "static-secret"}
	if s := fmtOptions(o); s == "" || strings.Contains(s, "static-secret") {
		t.Fatalf("options print their secret: %s", s)
	}
}

func TestSQSRegionAndEndpoint(t *testing.T) {
	cfg, err := Config(context.Background(), Options{Region: "eu-west-1", AccessKeyID: "AKID", SecretAccessKey: "x"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := SQS(cfg, "https://sqs.ap-southeast-2.amazonaws.com/111122223333/q")
	if err != nil || c.Options().Region != "ap-southeast-2" || c.Options().BaseEndpoint != nil {
		t.Fatalf("AWS queue: %v %v", c.Options().Region, err)
	}
	c, err = SQS(cfg, "http://127.0.0.1:5000/123456789012/q")
	if err != nil || c.Options().BaseEndpoint == nil || *c.Options().BaseEndpoint != "http://127.0.0.1:5000" {
		t.Fatalf("local queue: %v", err)
	}
	if _, err := SQS(cfg, "not a url"); err == nil {
		t.Fatal("a bad queue URL was taken")
	}
}

func fmtOptions(o Options) string { return fmt.Sprintf("%v %+v", o, o) }
