package test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"

	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/traffic"
)

// memStore keeps written objects in memory.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
}

func (m *memStore) GetObject(_ context.Context, bucket, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objects[bucket+"/"+key], nil
}

func (m *memStore) PutObject(_ context.Context, bucket, key string, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[bucket+"/"+key] = body
	return nil
}

func TestTrafficGenerator(t *testing.T) {
	ctx := context.Background()
	store := &memStore{objects: map[string][]byte{}}
	m := startEmulator(t, emulator.Config{Objects: store})
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := m.e.EnableQueryLogs(lctx, emulator.LogConfig{Bucket: "logs"}); err != nil {
		t.Fatal(err)
	}
	c := m.client(3)
	makeGroup(t, c, m.e.VPCID(), 101, ruleSpec{priority: 1, action: types.ActionBlock, response: types.BlockResponseNxdomain, domains: []string{"*.bad.test", "worse.test"}})
	hits, err := traffic.HitsFromAPI(ctx, c, 100)
	if err != nil || len(hits) != 2 {
		t.Fatalf("hits: %v %v", hits, err)
	}
	res, err := traffic.Run(ctx, traffic.Config{Server: m.dp.Addr(), Queries: 400, HitShare: 0.3, Hits: hits, Sources: 3, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 400 || res.Errors != 0 || res.ByRcode["NXDOMAIN"] != res.Hits || res.ByRcode["NOERROR"] != 400-res.Hits || res.Hits < 80 {
		t.Fatalf("result: %+v", res)
	}
	m.e.FlushLogs(ctx)
	sources := map[string]int{}
	for _, body := range store.objects {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(zr)
		dec := json.NewDecoder(bytes.NewReader(raw))
		for dec.More() {
			var rec emulator.LogRecord
			if err := dec.Decode(&rec); err != nil {
				t.Fatal(err)
			}
			sources[rec.SrcAddr]++
		}
	}
	if len(sources) != 3 || sources["127.0.0.2"] == 0 {
		t.Fatalf("want queries from 3 loopback addresses, got %v", sources)
	}
}
