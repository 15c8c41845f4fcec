package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ServeConfig is everything "rpzfw emulator" starts.
type ServeConfig struct {
	Config
	// APIAddr and DNSAddr are where the control and data planes listen.
	APIAddr, DNSAddr string
	// S3Endpoint is used for imports and query logs.
	S3Endpoint string
	DNS        DNSConfig
	Logs       LogConfig // Logs.Bucket empty: no query logs
}

// Running is a started emulator.
type Running struct {
	*Emulator
	APIURL string
	Data   *DataPlane
	srv    *http.Server
	done   chan struct{}
}

// Serve starts the API, the data plane and, when configured, query logs,
// and keeps them up until ctx ends. It returns once all are listening.
func Serve(ctx context.Context, cfg ServeConfig) (*Running, error) {
	if cfg.Objects == nil && cfg.S3Endpoint != "" {
		store, err := NewS3Store(ctx, cfg.S3Endpoint, regionOr(cfg.Region))
		if err != nil {
			return nil, err
		}
		cfg.Objects = store
	}
	e, err := New(cfg.Config)
	if err != nil {
		return nil, err
	}
	if cfg.Logs.Bucket != "" {
		if err := e.EnableQueryLogs(ctx, cfg.Logs); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("listening for the API on %s: %w", cfg.APIAddr, err)
	}
	r := &Running{Emulator: e, APIURL: "http://" + ln.Addr().String(), done: make(chan struct{})}
	r.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("emulator API stopped", "err", err)
		}
	}()
	r.Data = e.NewDataPlane(cfg.DNS)
	if cfg.DNSAddr != "" {
		if err := r.Data.ListenAndServe(ctx, cfg.DNSAddr); err != nil {
			_ = r.srv.Close()
			return nil, err
		}
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = r.srv.Shutdown(sctx)
		cancel()
		if e.statePath != "" {
			if err := e.Save(); err != nil {
				e.log.Error("saving emulator state", "err", err)
			}
		}
		close(r.done)
	}()
	return r, nil
}

// Wait blocks until the emulator has shut down after its context ended.
func (r *Running) Wait() { <-r.done }

func regionOr(r string) string {
	if r == "" {
		return "us-east-1"
	}
	return r
}
