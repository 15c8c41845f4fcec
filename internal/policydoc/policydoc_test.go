package policydoc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/secret"
)

func TestCheckErrorsNameTheField(t *testing.T) {
	root := t.TempDir()
	zone := filepath.Join(root, "z.rpz")
	if err := os.WriteFile(zone, []byte("$ORIGIN rpz.test.\nbad.example CNAME .\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, doc, field string
	}{
		{"not an object", `[1]`, ""},
		{"bad name", `{"name":"../x","sources":[]}`, "name"},
		{"unknown key", `{"name":"p","colour":"red"}`, "colour"},
		{"bad kind", `{"name":"p","sources":[{"name":"a","kind":"ftp"}]}`, "sources[0].kind"},
		{"http url", `{"name":"p","sources":[{"name":"a","kind":"https","url":"http://x.test/z"}]}`, "sources[0].url"},
		{"secret file refused", `{"name":"p","sources":[{"name":"a","kind":"zone-transfer","zone":"rpz.test","primaries":["127.0.0.1"],"tsig":{"name":"k","secret_file":"/etc/passwd"}}]}`, "sources[0].tsig.secret_file"},
		{"tsig without secret", `{"name":"p","sources":[{"name":"a","kind":"zone-transfer","zone":"rpz.test","primaries":["127.0.0.1"],"tsig":{"name":"k"}}]}`, "sources[0].tsig.secret"},
		{"header without value", `{"name":"p","sources":[{"name":"a","kind":"https","url":"https://x.test/z","headers":{"Authorization":""}}]}`, "sources[0].headers.Authorization"},
		{"relative escape", `{"name":"p","sources":[{"name":"a","kind":"file","path":"../../etc/passwd"}]}`, "sources[0].path"},
		{"outside roots", `{"name":"p","sources":[{"name":"a","kind":"file","path":"/etc/hosts"}]}`, "sources[0].path"},
		{"bad list domain", `{"name":"p","block_list":["a b"]}`, "block_list[0]"},
		{"list file outside", `{"name":"p","block_list":{"file":"/etc/hosts"}}`, "block_list.file"},
		{"empty", `{"name":"p"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check("", []byte(tc.doc), Secrets{}, Options{FileRoots: []string{root}, BaseDir: filepath.Join(root, "base")})
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("want a FieldError, got %v", err)
			}
			if fe.Field != tc.field {
				t.Fatalf("field %q, want %q (%v)", fe.Field, tc.field, err)
			}
		})
	}
	if _, err := Check("p", []byte(`{"sources":[{"name":"a","kind":"file","path":"`+zone+`"}]}`), Secrets{}, Options{FileRoots: []string{root}}); err != nil {
		t.Fatalf("a file inside the roots: %v", err)
	}
}

func TestSecretsAreSplitKeptAndRedacted(t *testing.T) {
	doc := `{"name":"p","sources":[
	 {"name":"x","kind":"zone-transfer","zone":"rpz.test","primaries":["127.0.0.1:53"],"tsig":{"name":"k","algorithm":"hmac-sha256","secret":"c2VjcmV0LXRzaWc="}},
	 {"name":"h","kind":"https","url":"https://feed.test/z","headers":{"Authorization":"Bearer hunter2"}}]}`
	c, err := Check("", []byte(doc), Secrets{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"c2VjcmV0LXRzaWc=", "hunter2"} {
		if strings.Contains(string(c.Doc), s) {
			t.Fatalf("stored document holds a secret: %s", c.Doc)
		}
	}
	if c.Policy.Sources[0].TSIG.Secret != "c2VjcmV0LXRzaWc=" || c.Policy.Sources[1].Headers["Authorization"] != "Bearer hunter2" {
		t.Fatalf("policy lost its secrets: %+v", c.Policy.Sources)
	}
	red, err := Redact(c.Doc)
	if err != nil {
		t.Fatal(err)
	}
	src := red["sources"].([]any)
	if src[0].(map[string]any)["tsig"].(map[string]any)["secret_set"] != true || src[1].(map[string]any)["headers"].(map[string]any)["Authorization"] != Redacted {
		t.Fatalf("redacted view: %v", red)
	}
	// Sent back as shown, the secrets are kept.
	back := strings.Replace(doc, `"secret":"c2VjcmV0LXRzaWc="`, `"secret_set":true`, 1)
	back = strings.Replace(back, "Bearer hunter2", Redacted, 1)
	c2, err := Check("", []byte(back), c.Secrets, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Policy.Sources[0].TSIG.Secret != "c2VjcmV0LXRzaWc=" || c2.Policy.Sources[1].Headers["Authorization"] != "Bearer hunter2" {
		t.Fatalf("secrets not kept: %+v", c2.Policy.Sources)
	}
	key, _ := secret.GenerateKey()
	k, _ := secret.New(key)
	sealed, err := Seal(k, c.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := Open(k, sealed)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Load(c.Doc, opened)
	if err != nil {
		t.Fatal(err)
	}
	if p.Sources[0].TSIG.Secret != "c2VjcmV0LXRzaWc=" {
		t.Fatal("load lost the TSIG secret")
	}
}

func TestRelativePathsResolveInBaseDir(t *testing.T) {
	base := t.TempDir()
	if err := os.WriteFile(filepath.Join(base, "z.rpz"), []byte("$ORIGIN rpz.test.\nbad.example CNAME .\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Check("p", []byte(`{"sources":[{"name":"a","kind":"file","path":"z.rpz"}]}`), Secrets{}, Options{BaseDir: base})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Load(c.Doc, Secrets{}, Options{BaseDir: base})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Sources[0].Path; got != filepath.Join(base, "z.rpz") {
		t.Fatalf("path %q", got)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"name":"p","block_list":["a.example"]}`))
	f.Add([]byte(`{"name":"p","sources":[{"name":"h","kind":"https","url":"https://x.test/","headers":{"A":"b"}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Check("", raw, Secrets{}, Options{})
		if err != nil {
			return
		}
		if _, err := Load(c.Doc, c.Secrets); err != nil {
			t.Fatalf("a checked policy does not load: %v", err)
		}
	})
}
