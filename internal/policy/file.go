package policy

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/fsutil"
	"github.com/rpzfw/rpzfw/internal/secret"
)

// Source kinds.
const (
	KindFile         = "file"
	KindHTTPS        = "https"
	KindZoneTransfer = "zone-transfer"
)

// SourceSpec is one source of a policy file.
type SourceSpec struct {
	Name string
	Kind string
	// Allow turns every match of the source into PASSTHRU.
	Allow bool
	// Format is "rpz" (a zone, the default) or "list" (one name a line).
	Format string
	// Origin is the zone name (a zone's $ORIGIN or its zone name serve
	// when empty).
	Origin string
	// Refresh is how often to fetch; zero: the kind's default (files are
	// checked every minute, https hourly, zone transfers by their SOA).
	Refresh time.Duration

	Path string // file

	URL     string                   // https
	Headers map[string]secret.String // https; values may be secrets, never shown

	// MaxSize caps a copy of the source, in bytes (every kind; zero:
	// DefaultMaxSize).
	MaxSize int64

	Primaries []string // zone-transfer, host:port
	Zone      string   // zone-transfer
	TSIG      *TSIG    // zone-transfer
	IXFR      bool     // zone-transfer: try IXFR first (default true)
	// NotifyUnsigned accepts an unsigned NOTIFY from a primary's address
	// although the source has a TSIG key (BIND signs NOTIFY only when told
	// to); transfers stay signed (zone-transfer).
	NotifyUnsigned bool

	// Line is where the source starts in the policy file.
	Line int
}

// TSIG is a transaction signature key.
type TSIG struct {
	Name, Algorithm string
	Secret          secret.String
}

// ListSpec is a user list: inline domains, or a file.
type ListSpec struct {
	Domains []string
	File    string
	Line    int
	// MaxSize caps the file, in bytes (zero: DefaultMaxSize).
	MaxSize int64
}

func (l ListSpec) empty() bool { return len(l.Domains) == 0 && l.File == "" }

// DefaultMaxShrink is the share a source may shrink by before it is held.
const DefaultMaxShrink = 0.5

// DefaultMaxSize caps a copy of a source or a list file: an https
// download, a zone transfer, a file.
const DefaultMaxSize = 256 << 20

// MaxPolicyFileSize caps a policy file.
const MaxPolicyFileSize = 16 << 20

// MaxMaxSize bounds max_size: a copy is held in memory while it is checked,
// and a larger cap is a typo.
const MaxMaxSize = 64 << 30

var (
	sourceNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	tsigAlgs     = map[string]string{"hmac-md5": "hmac-md5.sig-alg.reg.int.", "hmac-sha1": "hmac-sha1.", "hmac-sha224": "hmac-sha224.", "hmac-sha256": "hmac-sha256.", "hmac-sha384": "hmac-sha384.", "hmac-sha512": "hmac-sha512."}
)

// TSIGAlgorithm returns the algorithm's DNS name.
func (t TSIG) AlgorithmName() string { return tsigAlgs[t.Algorithm] }

// ParseFile reads a policy file (YAML). Every problem is reported as
// "file:line: key: what is wrong".
func ParseFile(path string) (Policy, error) {
	raw, err := fsutil.ReadRegular(path, MaxPolicyFileSize)
	if err != nil {
		return Policy{}, fmt.Errorf("reading policy: %w", err)
	}
	return Parse(raw, path)
}

// Parse reads policy YAML; file names the input in errors and anchors
// relative paths.
func Parse(raw []byte, file string) (Policy, error) {
	p := Policy{File: file, MaxShrink: DefaultMaxShrink}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil {
		return p, fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return p, fmt.Errorf("%s: the policy is empty", file)
	}
	r := reader{file: file, dir: filepath.Dir(file)}
	root := doc.Content[0]
	err := r.mapping(root, "", map[string]func(*yaml.Node, string) error{
		"name": func(n *yaml.Node, key string) error {
			if err := r.str(n, key, &p.Name); err != nil {
				return err
			}
			// The name becomes a directory name (the feed cache).
			if err := fsutil.CheckName(p.Name); err != nil {
				return r.errf(n, key, "%v", err)
			}
			return nil
		},
		"sources": func(n *yaml.Node, key string) error {
			if n.Kind != yaml.SequenceNode {
				return r.errf(n, key, "want a list of sources")
			}
			seen := map[string]int{}
			for i, item := range n.Content {
				s, err := r.source(item, fmt.Sprintf("%s[%d]", key, i))
				if err != nil {
					return err
				}
				if line, dup := seen[s.Name]; dup {
					return r.errf(item, fmt.Sprintf("%s[%d].name", key, i), "%q is already the name of the source at line %d", s.Name, line)
				}
				seen[s.Name] = s.Line
				p.Sources = append(p.Sources, s)
			}
			return nil
		},
		"allow_list":      func(n *yaml.Node, key string) error { return r.list(n, key, &p.Allow) },
		"block_list":      func(n *yaml.Node, key string) error { return r.list(n, key, &p.Block) },
		"allow_block_all": func(n *yaml.Node, key string) error { return r.boolean(n, key, &p.AllowBlockAll) },
		"max_shrink": func(n *yaml.Node, key string) error {
			v := strings.TrimSpace(n.Value)
			pct := strings.HasSuffix(v, "%")
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
			if pct {
				f /= 100
			}
			if n.Kind != yaml.ScalarNode || err != nil || f <= 0 || f > 1 {
				return r.errf(n, key, "%q: want a share such as 50%% or 0.5, above 0 and at most 100%%", v)
			}
			p.MaxShrink = f
			return nil
		},
	})
	if err != nil {
		return p, err
	}
	if len(p.Sources) == 0 && p.Allow.empty() && p.Block.empty() {
		return p, fmt.Errorf("%s: the policy has no sources and no lists", file)
	}
	if p.Name == "" {
		p.Name = NameFromFile(file)
	}
	return p, nil
}

// NameFromFile makes a policy name from a policy file's name: its base name
// without the extension, with every character a name cannot hold (see
// fsutil.CheckName) replaced by '_'.
func NameFromFile(file string) string {
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	b := []byte(base)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	name := strings.TrimLeft(string(b), "._-")
	for strings.Contains(name, "..") {
		name = strings.ReplaceAll(name, "..", "._")
	}
	if len(name) > fsutil.MaxNameLen {
		name = name[:fsutil.MaxNameLen]
	}
	if fsutil.CheckName(name) != nil {
		return "policy"
	}
	return name
}

type reader struct{ file, dir string }

// FieldError is a problem with one key of a policy: the service reports
// Key as the field, the command line prints the whole line.
type FieldError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
}

func (r reader) errf(n *yaml.Node, key, format string, args ...any) error {
	return &FieldError{File: r.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// mapping walks a mapping node, calling the handler of each key and
// rejecting unknown ones.
func (r reader) mapping(n *yaml.Node, prefix string, handlers map[string]func(*yaml.Node, string) error) error {
	if n.Kind != yaml.MappingNode {
		key := strings.TrimSuffix(prefix, ".")
		if key == "" {
			key = "policy"
		}
		return r.errf(n, key, "want a mapping of keys to values")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		if !ok {
			var known []string
			for name := range handlers {
				known = append(known, name)
			}
			sortStrings(known)
			return r.errf(k, prefix+k.Value, "unknown key (known here: %s)", strings.Join(known, ", "))
		}
		if err := h(v, prefix+k.Value); err != nil {
			return err
		}
	}
	return nil
}

func (r reader) str(n *yaml.Node, key string, dst *string) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return r.errf(n, key, "want a string")
	}
	*dst = n.Value
	return nil
}

func (r reader) boolean(n *yaml.Node, key string, dst *bool) error {
	v, err := strconv.ParseBool(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return r.errf(n, key, "%q: want true or false", n.Value)
	}
	*dst = v
	return nil
}

func (r reader) path(n *yaml.Node, key string, dst *string) error {
	if err := r.str(n, key, dst); err != nil {
		return err
	}
	if *dst == "" {
		return r.errf(n, key, "empty path")
	}
	if !filepath.IsAbs(*dst) {
		*dst = filepath.Join(r.dir, *dst)
	}
	return nil
}

func (r reader) list(n *yaml.Node, key string, dst *ListSpec) error {
	dst.Line = n.Line
	switch n.Kind {
	case yaml.SequenceNode:
		for i, item := range n.Content {
			d := dnsfw.NormalizeDomain(item.Value)
			if item.Kind != yaml.ScalarNode {
				return r.errf(item, fmt.Sprintf("%s[%d]", key, i), "want a domain")
			}
			if err := dnsfw.ValidateDomain(d); err != nil {
				return r.errf(item, fmt.Sprintf("%s[%d]", key, i), "%q: %v", item.Value, err)
			}
			dst.Domains = append(dst.Domains, d)
		}
		return nil
	case yaml.MappingNode:
		err := r.mapping(n, key+".", map[string]func(*yaml.Node, string) error{
			"file": func(v *yaml.Node, k string) error { return r.path(v, k, &dst.File) },
			"max_size": func(v *yaml.Node, k string) error {
				var raw string
				if err := r.str(v, k, &raw); err != nil {
					return err
				}
				b, err := parseSize(raw)
				if err != nil {
					return r.errf(v, k, "%q: %v", raw, err)
				}
				dst.MaxSize = b
				return nil
			},
		})
		if err == nil && dst.File == "" {
			return r.errf(n, key+".file", "missing: want {file: PATH}")
		}
		return err
	}
	return r.errf(n, key, "want a list of domains, or {file: PATH}")
}

func (r reader) source(n *yaml.Node, key string) (SourceSpec, error) {
	s := SourceSpec{Line: n.Line, IXFR: true, Format: "rpz"}
	var refresh, maxSize, secretFile string
	var tsigNode *yaml.Node
	err := r.mapping(n, key+".", map[string]func(*yaml.Node, string) error{
		"name":   func(v *yaml.Node, k string) error { return r.str(v, k, &s.Name) },
		"kind":   func(v *yaml.Node, k string) error { return r.str(v, k, &s.Kind) },
		"allow":  func(v *yaml.Node, k string) error { return r.boolean(v, k, &s.Allow) },
		"format": func(v *yaml.Node, k string) error { return r.str(v, k, &s.Format) },
		"origin": func(v *yaml.Node, k string) error { return r.str(v, k, &s.Origin) },
		"refresh": func(v *yaml.Node, k string) error {
			if err := r.str(v, k, &refresh); err != nil {
				return err
			}
			d, err := time.ParseDuration(refresh)
			if err != nil || d < time.Second {
				return r.errf(v, k, "%q: want a duration of at least 1s, such as 30m or 2h", refresh)
			}
			s.Refresh = d
			return nil
		},
		"path": func(v *yaml.Node, k string) error { return r.path(v, k, &s.Path) },
		"url":  func(v *yaml.Node, k string) error { return r.str(v, k, &s.URL) },
		"headers": func(v *yaml.Node, k string) error {
			if v.Kind != yaml.MappingNode {
				return r.errf(v, k, "want a mapping of header names to values")
			}
			s.Headers = map[string]secret.String{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				if v.Content[i+1].Kind != yaml.ScalarNode {
					return r.errf(v.Content[i+1], k+"."+v.Content[i].Value, "want a string")
				}
				s.Headers[v.Content[i].Value] = secret.String(v.Content[i+1].Value)
			}
			return nil
		},
		"max_size": func(v *yaml.Node, k string) error {
			if err := r.str(v, k, &maxSize); err != nil {
				return err
			}
			b, err := parseSize(maxSize)
			if err != nil {
				return r.errf(v, k, "%q: %v", maxSize, err)
			}
			s.MaxSize = b
			return nil
		},
		"primaries": func(v *yaml.Node, k string) error {
			if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
				return r.errf(v, k, "want a list of primary addresses (host or host:port)")
			}
			for i, item := range v.Content {
				addr := item.Value
				if _, _, err := net.SplitHostPort(addr); err != nil {
					addr = net.JoinHostPort(addr, "53")
				}
				host, _, _ := net.SplitHostPort(addr)
				if net.ParseIP(host) == nil {
					return r.errf(item, fmt.Sprintf("%s[%d]", k, i), "%q: want an IP address (and optional port)", item.Value)
				}
				s.Primaries = append(s.Primaries, addr)
			}
			return nil
		},
		"zone":            func(v *yaml.Node, k string) error { return r.str(v, k, &s.Zone) },
		"ixfr":            func(v *yaml.Node, k string) error { return r.boolean(v, k, &s.IXFR) },
		"notify_unsigned": func(v *yaml.Node, k string) error { return r.boolean(v, k, &s.NotifyUnsigned) },
		"tsig": func(v *yaml.Node, k string) error {
			tsigNode = v
			s.TSIG = &TSIG{Algorithm: "hmac-sha256"}
			return r.mapping(v, k+".", map[string]func(*yaml.Node, string) error{
				"name":      func(v *yaml.Node, k string) error { return r.str(v, k, &s.TSIG.Name) },
				"algorithm": func(v *yaml.Node, k string) error { return r.str(v, k, &s.TSIG.Algorithm) },
				"secret": func(v *yaml.Node, k string) error {
					var sec string
					err := r.str(v, k, &sec)
					s.TSIG.Secret = secret.String(sec)
					return err
				},
				"secret_file": func(v *yaml.Node, k string) error { return r.path(v, k, &secretFile) },
			})
		},
	})
	if err != nil {
		return s, err
	}
	if !sourceNameRe.MatchString(s.Name) {
		return s, r.errf(n, key+".name", "%q: want 1-63 letters, digits, '.', '_' or '-'", s.Name)
	}
	if s.Format != "rpz" && s.Format != "list" {
		return s, r.errf(n, key+".format", "%q: want rpz or list", s.Format)
	}
	if s.MaxSize == 0 {
		s.MaxSize = DefaultMaxSize
	}
	misplaced := func(field string, set bool) error {
		if set {
			return r.errf(n, key+"."+field, "not a setting of a %s source", s.Kind)
		}
		return nil
	}
	switch s.Kind {
	case KindFile:
		if s.Path == "" {
			return s, r.errf(n, key+".path", "a file source needs a path")
		}
		for _, m := range []struct {
			f   string
			set bool
		}{{"url", s.URL != ""}, {"primaries", len(s.Primaries) > 0}, {"tsig", s.TSIG != nil}, {"notify_unsigned", s.NotifyUnsigned}} {
			if err := misplaced(m.f, m.set); err != nil {
				return s, err
			}
		}
	case KindHTTPS:
		u, err := url.Parse(s.URL)
		if s.URL == "" || err != nil || u.Scheme != "https" || u.Host == "" {
			return s, r.errf(n, key+".url", "%q: want an https:// URL", s.URL)
		}
		for _, m := range []struct {
			f   string
			set bool
		}{{"path", s.Path != ""}, {"primaries", len(s.Primaries) > 0}, {"tsig", s.TSIG != nil}, {"notify_unsigned", s.NotifyUnsigned}} {
			if err := misplaced(m.f, m.set); err != nil {
				return s, err
			}
		}
	case KindZoneTransfer:
		if len(s.Primaries) == 0 {
			return s, r.errf(n, key+".primaries", "a zone-transfer source needs primaries")
		}
		if _, ok := dnsNameOK(s.Zone); !ok {
			return s, r.errf(n, key+".zone", "%q: want the zone name", s.Zone)
		}
		if s.Format != "rpz" {
			return s, r.errf(n, key+".format", "a zone transfer is always rpz")
		}
		if s.TSIG != nil {
			if s.TSIG.Name == "" {
				return s, r.errf(tsigNode, key+".tsig.name", "a TSIG key needs a name")
			}
			if _, ok := tsigAlgs[s.TSIG.Algorithm]; !ok {
				return s, r.errf(tsigNode, key+".tsig.algorithm", "%q: want one of hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5", s.TSIG.Algorithm)
			}
			if (s.TSIG.Secret == "") == (secretFile == "") {
				return s, r.errf(tsigNode, key+".tsig", "give exactly one of secret and secret_file")
			}
			if secretFile != "" {
				b, err := readSmallFile(secretFile, 64<<10)
				if err != nil {
					return s, r.errf(tsigNode, key+".tsig.secret_file", "%v", err)
				}
				s.TSIG.Secret = secret.String(strings.TrimSpace(string(b)))
			}
		}
		for _, m := range []struct {
			f   string
			set bool
		}{{"path", s.Path != ""}, {"url", s.URL != ""}} {
			if err := misplaced(m.f, m.set); err != nil {
				return s, err
			}
		}
	case "":
		return s, r.errf(n, key+".kind", "missing: want file, https or zone-transfer")
	default:
		return s, r.errf(n, key+".kind", "%q: want file, https or zone-transfer", s.Kind)
	}
	return s, nil
}

// ParseSize reads a size such as 50MB (B, KB, MB, GB; at most MaxMaxSize).
func ParseSize(s string) (int64, error) { return parseSize(s) }

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}
	v := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && errors.Is(err, strconv.ErrRange) || err == nil && n > MaxMaxSize/mult {
		return 0, fmt.Errorf("too large: at most %dGB", MaxMaxSize>>30)
	}
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a size such as 50MB")
	}
	return n * mult, nil
}

func dnsNameOK(s string) (string, bool) {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return s, false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return s, false
		}
	}
	return s, true
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// readSmallFile reads a regular file of at most max bytes: a key file that
// is a device or a pipe would hang the reader.
func readSmallFile(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > max {
		return nil, fmt.Errorf("%s: want a regular file of at most %d bytes", path, max)
	}
	return os.ReadFile(path)
}
