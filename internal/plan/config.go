package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Config is the configuration the Pulumi CLI would hand the program.
type Config struct {
	Project string
	Values  map[string]string // full keys (namespace:key) in the string form the engine passes (lists as JSON)
	Secrets []string          // full keys that are secret
	// Up runs the program as `pulumi up` does; default false runs it as a preview, which is what an offline
	// plan is.
	Up bool
}

// PlaceholderSecret is what every secret a user sets on the command line holds offline.
func PlaceholderSecret(key string) string { return "offline-placeholder-for-" + key }

// StackFile is the stack file of a stack in a project directory.
func StackFile(dir, stack string) string { return filepath.Join(dir, "Pulumi."+stack+".yaml") }

// Stacks are the stacks a project directory configures (its Pulumi.<stack>.yaml files), sorted.
func Stacks(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "Pulumi."), ".yaml")
		if name != "" && !strings.Contains(name, ".") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// LoadConfig reads the project file in dir and the stack's Pulumi.<stack>.yaml there.
func LoadConfig(dir, stack string) (Config, error) {
	return LoadConfigFiles(filepath.Join(dir, "Pulumi.yaml"), StackFile(dir, stack))
}

// LoadConfigFiles reads a project file and a stack file with Pulumi's own loaders and gives every secret a
// placeholder: the stack file's encrypted values (which only their secrets provider can decrypt) and the declared
// secrets without a default that the stack file lacks (a user sets those with `pulumi config set --secret`). It
// does not apply Pulumi.yaml's defaults: the program applies the same ones itself (a test keeps them equal), and
// what the real CLI does with the project file is tested with the real CLI (tests/engine). A missing stack file
// is an error: the CLI would have no stack to run.
func LoadConfigFiles(projectFile, stackFile string) (Config, error) {
	proj, err := workspace.LoadProject(projectFile)
	if err != nil {
		return Config{}, err
	}
	if _, err := os.Stat(stackFile); err != nil {
		known, _ := Stacks(filepath.Dir(stackFile))
		return Config{}, fmt.Errorf("no stack file %s (stacks here: %s); create one with `pulumi stack init <name>` and `pulumi config set`",
			stackFile, strings.Join(known, ", "))
	}
	ps, err := workspace.LoadProjectStack(nil, proj, stackFile)
	if err != nil {
		return Config{}, err
	}
	project := string(proj.Name)
	cfg := Config{Project: project, Values: map[string]string{}}
	for k, v := range ps.Config {
		full := k.Namespace() + ":" + k.Name()
		if v.Secure() {
			cfg.Values[full] = PlaceholderSecret(k.Name())
			cfg.Secrets = append(cfg.Secrets, full)
			continue
		}
		s, err := v.Value(config.NewPanicCrypter())
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", full, err)
		}
		cfg.Values[full] = s
	}
	for key, decl := range proj.Config {
		full := project + ":" + key
		if _, ok := cfg.Values[full]; !ok && decl.Secret && decl.Default == nil {
			cfg.Values[full] = PlaceholderSecret(key)
			cfg.Secrets = append(cfg.Secrets, full)
		}
	}
	slices.Sort(cfg.Secrets)
	return cfg, nil
}

// encode is a config value in the string form the engine passes: lists and maps as JSON.
func encode(v any) (string, error) {
	switch d := v.(type) {
	case string:
		return d, nil
	case []any, map[string]any:
		b, err := json.Marshal(d)
		return string(b), err
	default:
		return fmt.Sprint(d), nil
	}
}

// SetFromFlag applies one `key=value` of the plan command's -set flag: a project key (or namespace:key), its
// value parsed as YAML so that lists, numbers and booleans work as in a stack file.
func (c Config) SetFromFlag(kv string) error {
	key, raw, ok := strings.Cut(kv, "=")
	if !ok || key == "" {
		return fmt.Errorf("-set %q: use key=value, such as -set nodeMaxSize=6 or -set 'clusterAdminArns=[arn:aws:iam::123456789012:role/admins]'", kv)
	}
	var v any
	if err := yaml.Unmarshal([]byte(raw), &v); err != nil {
		return fmt.Errorf("-set %s: %w", key, err)
	}
	if v == nil {
		v = ""
	}
	if !strings.Contains(key, ":") {
		key = c.Project + ":" + key
	}
	s, err := encode(v)
	if err != nil {
		return fmt.Errorf("-set %s: %w", key, err)
	}
	c.Values[key] = s
	return nil
}

// Clone copies the configuration.
func (c Config) Clone() Config {
	v := make(map[string]string, len(c.Values))
	for k, s := range c.Values {
		v[k] = s
	}
	return Config{Project: c.Project, Values: v, Secrets: slices.Clone(c.Secrets), Up: c.Up}
}

// Set sets a project key (nil deletes it); lists and maps are encoded as JSON like the engine does.
func (c Config) Set(key string, value any) {
	full := c.Project + ":" + key
	switch v := value.(type) {
	case nil:
		delete(c.Values, full)
	case string:
		c.Values[full] = v
	case int, bool:
		c.Values[full] = fmt.Sprint(v)
	default:
		b, _ := json.Marshal(v)
		c.Values[full] = string(b)
	}
}

// SetSecret sets a project key as a secret.
func (c *Config) SetSecret(key, value string) {
	c.Set(key, value)
	full := c.Project + ":" + key
	if !slices.Contains(c.Secrets, full) {
		c.Secrets = append(c.Secrets, full)
	}
}

// Unsecret marks a project key as plain text, as if set without --secret.
func (c *Config) Unsecret(key string) {
	full := c.Project + ":" + key
	c.Secrets = slices.DeleteFunc(c.Secrets, func(s string) bool { return s == full })
}

// Get returns a project key's value.
func (c Config) Get(key string) string { return c.Values[c.Project+":"+key] }

func (c Config) runOption() pulumi.RunOption {
	return func(info *pulumi.RunInfo) {
		info.Config = c.Values
		info.ConfigSecretKeys = c.Secrets
		info.DryRun = !c.Up
	}
}
