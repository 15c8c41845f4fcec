package test

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the AWS SDKs from looking for the instance metadata
// service: these tests talk to loopback servers only.
func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
