package test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/rpzfw/rpzfw/internal/awsclient"
)

// rpzfwBinary builds the rpzfw command once for the tests that run it as a
// real process.
var rpzfwBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "rpzfw-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rpzfw")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/rpzfw").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building rpzfw: %v\n%s", err, out)
	}
	return bin, nil
})

// served is one "rpzfw serve" process.
type served struct {
	t       *testing.T
	cmd     *exec.Cmd
	URL     string
	DNS     string // the sandbox's DNS address, when it runs one
	Token   string
	DataDir string
	out     *lockedBuffer
	exited  chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	servingRe = regexp.MustCompile(`rpzfw is serving at (http://\S+)`)
	digRe     = regexp.MustCompile(`dig @(\S+) -p (\d+)`)
	tokenRe   = regexp.MustCompile(`^\s+(rpzfw_\S+)\s*$`)
)

// startServe runs "rpzfw serve" with args and waits until it says where it
// listens. Its output is shown when the test fails.
func startServe(t *testing.T, dataDir string, args ...string) *served {
	t.Helper()
	return startServeEnv(t, dataDir, nil, args...)
}

// startServeEnv is startServe with extra environment variables.
func startServeEnv(t *testing.T, dataDir string, env []string, args ...string) *served {
	t.Helper()
	bin, err := rpzfwBinary()
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true", "RPZFW_MASTER_KEY="), env...)
	s := &served{t: t, cmd: cmd, DataDir: dataDir, out: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = s.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.out, line)
			if m := servingRe.FindStringSubmatch(line); m != nil {
				s.URL = m[1]
			}
			if m := tokenRe.FindStringSubmatch(line); m != nil {
				s.Token = m[1]
			}
			if m := digRe.FindStringSubmatch(line); m != nil {
				s.DNS = m[1] + ":" + m[2]
			}
			if strings.HasPrefix(line, "Stop with Ctrl-C") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("rpzfw serve %v output:\n%s", args, s.out.String())
		}
	})
	select {
	case <-ready:
	case err := <-s.exited:
		t.Fatalf("rpzfw serve exited before it was ready: %v\n%s", err, s.out.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("rpzfw serve did not get ready\n%s", s.out.String())
	}
	if s.Token == "" {
		if b, err := os.ReadFile(filepath.Join(dataDir, "admin.token")); err == nil {
			s.Token = strings.TrimSpace(string(b))
		}
	}
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *served) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		if err != nil {
			s.t.Fatalf("rpzfw serve did not exit cleanly on SIGTERM: %v\n%s", err, s.out.String())
		}
	case <-time.After(time.Minute):
		s.t.Fatalf("rpzfw serve did not stop on SIGTERM\n%s", s.out.String())
	}
}

// kill ends the process at once, as a crash would.
func (s *served) kill() {
	s.t.Helper()
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// call makes an API request with token; out, when not nil, receives the
// JSON answer. It returns the status code.
func (s *served) call(method, path, token string, body, out any) int {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	if resp.StatusCode >= 300 {
		s.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// must calls and fails the test unless the status is want. Tests ask
// faster than a token's rate allows: like a real client, must waits a
// second after a 429 and asks again (call alone does not, for polls that
// time what they wait for).
func (s *served) must(want int, method, path string, body, out any) {
	s.t.Helper()
	got := s.call(method, path, s.Token, body, out)
	for retries := 0; got == http.StatusTooManyRequests && want != got && retries < 30; retries++ {
		time.Sleep(time.Second)
		got = s.call(method, path, s.Token, body, out)
	}
	if got != want {
		s.t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

// deviceView is the part of a device the tests read.
type deviceView struct {
	Nickname string `json:"nickname"`
	Policy   string `json:"policy"`
	Status   struct {
		State    string `json:"state"`
		Error    string `json:"error"`
		PlanHash string `json:"plan_hash"`
	} `json:"status"`
}

// waitDevice polls a device until cond holds.
func (s *served) waitDevice(nickname string, what string, cond func(deviceView) bool) deviceView {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var d deviceView
	for time.Now().Before(deadline) {
		d = deviceView{}
		if s.call("GET", "/api/v1/devices/"+nickname, s.Token, nil, &d) == 200 && cond(d) {
			return d
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("device %s never got %s; last: %+v", nickname, what, d)
	return d
}

// postgresSchema makes a fresh schema in the test PostgreSQL and returns a
// URL that uses it. PostgreSQL must be running: .ci/run starts it.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("RPZFW_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): %v", base, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "rpzfw_e2e_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err == nil {
			_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	})
	return base + "&search_path=" + schema
}

// eventually polls cond until it holds; the deadline only bounds a
// failure (a loaded machine may take long).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// portalLogin logs in to the portal's form as a browser would and returns
// the status of the login post (303 when it worked) and the client that
// holds the session.
func (s *served) portalLogin(user, password string) (int, *http.Client) {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.URL + "/ui/login")
	if err != nil {
		s.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		s.t.Fatalf("the login page has no CSRF field:\n%s", page)
	}
	form := url.Values{"username": {user}, "password": {password}, "csrf": {string(m[1])}}
	req, _ := http.NewRequest("POST", s.URL+"/ui/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.URL)
	resp, err = c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, c
}

// page gets a portal page with a logged-in client.
func (s *served) page(c *http.Client, path string) string {
	s.t.Helper()
	resp, err := c.Get(s.URL + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// sandboxAWS is the sandbox's local S3 and SQS as the SDK sees them.
type sandboxAWS struct {
	s3    *s3.Client
	sqs   *sqs.Client
	queue string
}

func newSandboxAWS(t *testing.T, endpoint string) sandboxAWS {
	t.Helper()
	o := awsclient.Options{Region: "us-east-1", Endpoint: endpoint, MaxAttempts: 2}
	cfg, err := awsclient.Config(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	queue := endpoint + "/123456789012/rpzfw-logs-sandbox"
	sc, err := awsclient.SQS(cfg, queue)
	if err != nil {
		t.Fatal(err)
	}
	return sandboxAWS{s3: awsclient.S3(cfg, endpoint), sqs: sc, queue: queue}
}

// objects lists the keys of the sandbox's log bucket.
func (a sandboxAWS) objects(t *testing.T) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(a.s3, &s3.ListObjectsV2Input{Bucket: aws.String("rpzfw-sandbox-logs")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// lines counts the query log lines of every object in the bucket.
func (a sandboxAWS) lines(t *testing.T) int64 {
	t.Helper()
	var n int64
	for _, key := range a.objects(t) {
		out, err := a.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("rpzfw-sandbox-logs"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(out.Body)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) > 0 {
				n++
			}
		}
		out.Body.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	return n
}

// idle says whether the queue holds no message, waiting or in flight.
func (a sandboxAWS) idle(t *testing.T) bool {
	t.Helper()
	out, err := a.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(a.queue),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
}

// resolutions is what the reports count over the last day: every line,
// of the sandbox device or (before its first sync) of none.
func (s *served) resolutions() int64 {
	s.t.Helper()
	var sum struct {
		Resolutions int64 `json:"resolutions"`
	}
	s.must(200, "GET", "/api/v1/reports/summary?from=-24h", nil, &sum)
	return sum.Resolutions
}
