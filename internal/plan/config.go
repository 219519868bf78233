package plan

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Config is the configuration the Pulumi CLI would hand the program.
type Config struct {
	Project string
	Values  map[string]string // full keys (namespace:key) in the string form the engine passes (lists as JSON)
	Secrets []string          // full keys that are secret
}

// PlaceholderSecret is what every secret a user sets on the command line holds offline.
func PlaceholderSecret(key string) string { return "offline-placeholder-for-" + key }

// LoadConfig reads Pulumi.yaml and Pulumi.<stack>.yaml in dir with Pulumi's own loaders, applies the
// project's declared defaults as the CLI does, and fills every declared secret that the stack file lacks
// with a placeholder (a user sets those with `pulumi config set --secret`).
func LoadConfig(dir, stack string) (Config, error) {
	proj, err := workspace.LoadProject(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return Config{}, err
	}
	ps, err := workspace.LoadProjectStack(nil, proj, filepath.Join(dir, "Pulumi."+stack+".yaml"))
	if err != nil {
		return Config{}, err
	}
	project := string(proj.Name)
	cfg := Config{Project: project, Values: map[string]string{}}
	for key, decl := range proj.Config {
		if decl.Default == nil || strings.Contains(key, ":") {
			continue
		}
		switch d := decl.Default.(type) {
		case string:
			cfg.Values[project+":"+key] = d
		case []any, map[string]any:
			b, err := json.Marshal(d)
			if err != nil {
				return Config{}, err
			}
			cfg.Values[project+":"+key] = string(b)
		default:
			cfg.Values[project+":"+key] = fmt.Sprint(d)
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
		if _, ok := cfg.Values[full]; !ok && decl.Secret && requiredSecret(decl.Description) {
			cfg.Values[full] = PlaceholderSecret(key)
			cfg.Secrets = append(cfg.Secrets, full)
		}
	}
	slices.Sort(cfg.Secrets)
	return cfg, nil
}

// requiredSecret: declared secrets whose description says they are required get a placeholder offline;
// optional ones stay unset, as on a fresh stack.
func requiredSecret(description string) bool { return strings.Contains(description, "(required)") }

// Clone copies the configuration.
func (c Config) Clone() Config {
	v := make(map[string]string, len(c.Values))
	for k, s := range c.Values {
		v[k] = s
	}
	return Config{Project: c.Project, Values: v, Secrets: slices.Clone(c.Secrets)}
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
	}
}
