package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// served is the "rpzfw serve" process measured.
type served struct {
	cmd        *exec.Cmd
	dir        string
	url, token string
}

var (
	servingRe = regexp.MustCompile(`rpzfw is serving at (http://\S+)`)
	tokenRe   = regexp.MustCompile(`^\s+(rpzfw_\S+)\s*$`)
)

// startServe runs serve on dsn (empty: SQLite in its data directory) with
// no sandbox, and waits until it prints its URL and first token.
func startServe(ctx context.Context, bin, dsn string) (*served, error) {
	dir, err := os.MkdirTemp("", "e2ebench-")
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--sandbox=false", "--poll", "1s"}
	if dsn != "" {
		args = append(args, "--database", dsn)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true", "RPZFW_MASTER_KEY=")
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &served{cmd: cmd, dir: dir}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if m := servingRe.FindStringSubmatch(line); m != nil {
				s.url = m[1]
			}
			if m := tokenRe.FindStringSubmatch(line); m != nil {
				s.token = m[1]
			}
			if strings.HasPrefix(line, "Stop with Ctrl-C") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(2 * time.Minute):
		s.stop()
		return nil, fmt.Errorf("rpzfw serve did not get ready; see %s", logFile.Name())
	}
	if s.token == "" {
		return nil, fmt.Errorf("rpzfw serve printed no first token; see %s", logFile.Name())
	}
	return s, nil
}

func (s *served) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(s.dir)
}

// do calls the API and decodes the answer into out (when not nil),
// waiting when the API's rate limit answers 429.
func (s *served) do(method, path string, body, out any) error {
	b, _ := json.Marshal(body)
	for {
		req, err := http.NewRequest(method, s.url+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
		if out != nil {
			return json.Unmarshal(data, out)
		}
		return nil
	}
}

// metric sums the samples of a Prometheus counter whose labels include
// label (e.g. `kind="read"`).
func (s *served) metric(name, label string) (float64, error) {
	req, _ := http.NewRequest("GET", s.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// cpuSeconds is the user and system CPU time the process has used.
func (s *served) cpuSeconds() float64 { return procCPU(s.cmd.Process.Pid) }

// procCPU is the user and system CPU time of process pid, with that of
// the children it reaped, in seconds (0 when it cannot be read).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return statCPU(b)
}

// statCPU reads utime, stime, cutime and cstime from a /proc/PID/stat.
func statCPU(b []byte) float64 {
	// Fields after the command name (which may hold spaces) in ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 15 {
		return 0
	}
	var sum float64
	for _, i := range []int{11, 12, 13, 14} {
		v, _ := strconv.ParseFloat(f[i], 64)
		sum += v / 100 // USER_HZ
	}
	return sum
}

// postgresCPU is the CPU time every postgres process on this machine has
// used (a backend that exited is counted in the postmaster that reaped
// it), other users' work included.
func postgresCPU() float64 {
	files, _ := filepath.Glob("/proc/[0-9]*/stat")
	var sum float64
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("(postgres)")) {
			sum += statCPU(b)
		}
	}
	return sum
}

// loadAverage is the machine's one-minute load average: how many
// processes wanted a CPU, on average, including other work.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// memory is the process's resident memory now and at its peak.
func (s *served) memory() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return "?"
	}
	var now, peak string
	for _, line := range splitLines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			now = trim(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			peak = trim(v)
		}
	}
	return now + " / " + peak
}

func splitLines(s string) []string { return strings.Split(s, "\n") }
func trim(s string) string         { return strings.TrimSpace(s) }

// database makes a fresh PostgreSQL schema on pg and returns a URL that
// uses it, or "" (SQLite in the data directory) when pg is empty.
func database(ctx context.Context, pg string) (string, func(), error) {
	if pg == "" {
		return "", func() {}, nil
	}
	db, err := sql.Open("pgx", pg)
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "e2ebench_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w", pg, err)
	}
	u, err := url.Parse(pg)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() { _, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); db.Close() }, nil
}

// startMoto runs moto_server (S3 and SQS with bucket notifications) on a
// free port; it returns its URL and process ID.
func startMoto() (string, int, func(), error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return "", 0, nil, fmt.Errorf("moto_server is needed and is not on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get(u + "/moto-api/"); err == nil {
			res.Body.Close()
			return u, cmd.Process.Pid, stop, nil
		}
	}
	stop()
	return "", 0, nil, fmt.Errorf("moto_server did not answer on %s", u)
}
