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
	// Declared are the project's own keys with their type in Pulumi.yaml (string, integer, boolean, array,
	// object): what -set accepts without a namespace.
	Declared map[string]string
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
// secrets without a default that the stack file lacks (a user sets those with `pulumi config set --secret`; the
// program's other required secrets get theirs with PlaceholderSecrets). It
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
	cfg := Config{Project: project, Values: map[string]string{}, Declared: map[string]string{}}
	for key, decl := range proj.Config {
		if !strings.Contains(key, ":") {
			cfg.Declared[key] = ""
			if decl.Type != nil {
				cfg.Declared[key] = *decl.Type
			}
		}
	}
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

// SetFromFlag applies one `key=value` of the plan command's -set flag: a key Pulumi.yaml declares (or a
// provider's namespace:key, such as aws:region), its value read as YAML for lists, numbers and booleans. A key
// Pulumi.yaml declares as a string keeps the value as written, so that 1.30 stays "1.30" (YAML would read the
// number 1.3); a misspelled key is refused, naming the closest declared one.
func (c Config) SetFromFlag(kv string) error {
	key, raw, ok := strings.Cut(kv, "=")
	if !ok || key == "" {
		return fmt.Errorf("-set %q: use key=value, such as -set nodeMaxSize=6 or -set 'clusterAdminArns=[arn:aws:iam::123456789012:role/admins]'", kv)
	}
	key = strings.TrimPrefix(key, c.Project+":")
	typ, declared := c.Declared[key]
	namespaced := strings.Contains(key, ":")
	if !namespaced && !declared {
		return fmt.Errorf("-set %s: Pulumi.yaml declares no such key%s", key, closest(key, c.Declared))
	}
	var v any = raw
	switch {
	case (typ == "string" || namespaced) && !quoted(raw) && !strings.HasPrefix(raw, "[") && !strings.HasPrefix(raw, "{"):
		// As written: a version (1.30), an ID (0123), a revision (v1 #2), an account list's string.
	default:
		if err := yaml.Unmarshal([]byte(raw), &v); err != nil {
			return fmt.Errorf("-set %s: %w", key, err)
		}
	}
	if v == nil {
		v = ""
	}
	if !namespaced {
		key = c.Project + ":" + key
	}
	s, err := encode(v)
	if err != nil {
		return fmt.Errorf("-set %s: %w", key, err)
	}
	c.Values[key] = s
	return nil
}

// quoted says whether a value is one YAML-quoted scalar ('1.30' or "x").
func quoted(s string) bool {
	return len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0]
}

// closest names the declared key nearest to a misspelled one (at most two edits), or lists them all.
func closest(key string, declared map[string]string) string {
	best, dist := "", 3
	names := make([]string, 0, len(declared))
	for name := range declared {
		names = append(names, name)
		if d := editDistance(strings.ToLower(key), strings.ToLower(name)); d < dist || (d == dist && name < best) {
			best, dist = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	slices.Sort(names)
	return "; it declares " + strings.Join(names, ", ")
}

// editDistance is the Levenshtein distance of two strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Clone copies the configuration.
func (c Config) Clone() Config {
	v := make(map[string]string, len(c.Values))
	for k, s := range c.Values {
		v[k] = s
	}
	return Config{Project: c.Project, Values: v, Secrets: slices.Clone(c.Secrets), Declared: c.Declared, Up: c.Up}
}

// Set sets a project key (nil deletes it); lists and maps are encoded as JSON like the engine does.
func (c Config) Set(key string, value any) {
	full := key // a provider's namespaced key, such as aws:region
	if !strings.Contains(key, ":") {
		full = c.Project + ":" + key
	}
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

// Lookup returns a project key's value and whether it is set.
func (c Config) Lookup(key string) (string, bool) {
	v, ok := c.Values[c.Project+":"+key]
	return v, ok
}

// PlaceholderSecrets gives each of keys that the stack file does not set a secret placeholder, as a user's
// `pulumi config set --secret` would give it a value.
func (c *Config) PlaceholderSecrets(keys []string) {
	for _, key := range keys {
		if v, ok := c.Lookup(key); !ok || v == "" {
			c.SetSecret(key, PlaceholderSecret(key))
		}
	}
}
