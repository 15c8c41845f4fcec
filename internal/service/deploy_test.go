package service

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rpzfw/rpzfw/internal/secret"
)

// TestDeployFilesUseKnownSettings: every RPZFW_* variable the Dockerfile and
// compose.yaml set is one serve reads. A typo there would be ignored
// silently at run time.
func TestDeployFilesUseKnownSettings(t *testing.T) {
	known := []string{secret.KeyEnv}
	for _, k := range envKeys {
		known = append(known, "RPZFW_"+k)
	}
	root := filepath.Join("..", "..")
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	b, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var used []string
	for name, svc := range compose.Services {
		for k := range svc.Environment {
			if strings.HasPrefix(k, "RPZFW_") {
				used = append(used, "compose.yaml "+name+": "+k)
			}
		}
	}
	if len(used) == 0 {
		t.Fatal("compose.yaml sets no RPZFW_ variable: the test reads it wrong")
	}
	docker, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\b(RPZFW_[A-Z_]+)=`).FindAllStringSubmatch(string(docker), -1) {
		used = append(used, "Dockerfile: "+m[1])
	}
	for _, u := range used {
		v := u[strings.LastIndex(u, " ")+1:]
		if !slices.Contains(known, v) {
			t.Errorf("%s is not a setting serve reads (known: %s)", u, strings.Join(known, ", "))
		}
	}
}
