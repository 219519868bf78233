package engine_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/example/eks-gitops-platform/stacks"
)

// readmeValues fill the README's <placeholders>, as a user would.
var readmeValues = map[string]string{
	"<owner/name of the service repository>":                          "acme/shop",
	"<https URL of the service repository>":                           "https://github.com/acme/shop.git",
	"<the service's API key>":                                         "readme-api-key",
	"<your VPN's egress CIDR>":                                        "93.184.216.0/24",
	"<admin role ARN>":                                                "arn:aws:iam::111122223333:role/platform-admins",
	"<read token of the service repository>":                          "readme-repo-token",
	"<pulumi organization>":                                           "acme",
	"<owner/name of this repository>":                                 "acme/platform-infra",
	"<numeric ID of the service repository's owner>":                  "61000001",
	"<numeric ID of the service repository>":                          "62000002",
	"<numeric ID of this repository's owner>":                         "61000001",
	"<numeric ID of this repository>":                                 "300000003",
	"<ARN of the objects it reads, such as arn:aws:s3:::my-assets/*>": "arn:aws:s3:::acme-shop-assets/*",
}

var (
	stepsMarker = regexp.MustCompile("(?s)<!-- readme-steps: ([a-z-]+) -->\\s*```bash\\n(.*?)```")
	needsCloud  = regexp.MustCompile(`#\s*needs (AWS|GitHub|Pulumi Cloud|PyPI)`)
	stackInit   = regexp.MustCompile(`^pulumi stack init (\S+)`)
	placeholder = regexp.MustCompile(`<[^<>]+>`)
)

// readmeScripts are the README's configuration steps: each marked block, in order, as a script of its own (a
// reader may run each in a new shell), without the commands that need AWS, GitHub or Pulumi Cloud. A `pulumi
// stack init` that needs AWS (its KMS secrets provider) becomes the same init with a passphrase, the one
// substitution.
func readmeScripts(t *testing.T, readme string) (names, scripts []string) {
	t.Helper()
	for _, m := range stepsMarker.FindAllStringSubmatch(readme, -1) {
		names = append(names, m[1])
		var b strings.Builder
		for _, line := range strings.Split(m[2], "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if needsCloud.MatchString(line) {
				if init := stackInit.FindStringSubmatch(strings.TrimSpace(line)); init != nil {
					fmt.Fprintf(&b, "pulumi stack init %s --secrets-provider=passphrase\n", init[1])
				}
				continue
			}
			line = placeholder.ReplaceAllStringFunc(line, func(p string) string {
				v, ok := readmeValues[p]
				if !ok {
					t.Fatalf("README placeholder %s has no test value: add it to readmeValues", p)
				}
				return v
			})
			b.WriteString(line + "\n")
		}
		scripts = append(scripts, b.String())
	}
	return names, scripts
}

// copyRepository copies the repository's files (tracked, and new ones not ignored) into a fresh Git repository,
// with the pinned tools of this checkout.
func copyRepository(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	require.NoError(t, err)
	dst := t.TempDir()
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, rel)
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree
		}
		require.NoError(t, os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755))
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm()))
	}
	require.NoError(t, os.Symlink(filepath.Join(root, ".tools"), filepath.Join(dst, ".tools")))
	return dst
}

// A user's stack files after the quick start, by the secrets providers the README offers: their secrets are
// encrypted with the user's own passphrase or KMS key, which the tests do not have.
var userSecretsProviders = map[string]map[string]any{
	"passphrase": {"encryptionsalt": "v1:3xXvY8TRYxM=:v1:fH5gLgrvg3yHxPy0:XyGk2XxAWVjkrvsR2DbsaZlr8/lX0A=="},
	"awskms": {"secretsprovider": "awskms://alias/pulumi-secrets?region=us-east-1",
		"encryptedkey": "AQICAHhf0k4cQ0k8vS3X7nI2mAbCdEfGhIjKlMnOpQrStUvWxYzAAAAfjB8BgkqhkiG9w0BBwagbzBtAgEAMGgGCSqGSIb3DQEHATAeBglghkgBZQMEAS4wEQQM"},
}

// firstAdmin is an admin the user's dev stack lists before the README's "add an admin" step, which must keep it.
const firstAdmin = "arn:aws:iam::111122223333:role/first-admin"

// TestREADME_everyConfigurationStepKeepsTheTestsGreen applies every configuration step of the README (the
// quick start's values and apiKey, prod with its service and a real egress range, an admin, the service's AWS
// statements, a repository token, the deploy roles of both stacks) to a copy of the repository, with the real CLI,
// exactly as written but for the commands that need AWS. It starts from a user's repository after the quick
// start, whichever secrets provider they chose (a passphrase, or a KMS key). Then the tests that CI runs on a
// user's stack files pass on the copy: the user-stack tests (types, encryption, the program, the policy suite, the
// plan snapshot) and the real CLI's acceptance. Nothing was edited but through the documented commands.
func TestREADME_everyConfigurationStepKeepsTheTestsGreen(t *testing.T) {
	t.Parallel()
	if os.Getenv("README_STEPS_COPY") != "" {
		t.Skip("already inside a copy")
	}
	for _, provider := range []string{"passphrase", "awskms"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			// The checks of the configured copy run once: they read the stack files the steps wrote, which
			// carry the test's own passphrase whatever the user's provider was.
			readmeSteps(t, userSecretsProviders[provider], provider == "passphrase")
		})
	}
}

func readmeSteps(t *testing.T, userProvider map[string]any, checkCopy bool) {
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	names, scripts := readmeScripts(t, string(readme))
	require.Equal(t, []string{"dev", "prod", "admin", "repo-token", "service-identity", "deploy-access"}, names)

	dir := copyRepository(t)
	// The user's stack files after their quick start: their secrets provider, an encrypted apiKey, and in dev an
	// admin already listed.
	for _, stack := range []string{"dev", "prod"} {
		path := filepath.Join(dir, "Pulumi."+stack+".yaml")
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var file map[string]any
		require.NoError(t, yaml.Unmarshal(b, &file))
		maps.Copy(file, userProvider)
		cfg := file["config"].(map[string]any)
		cfg[project+":apiKey"] = map[string]any{"secure": "v1:c2VjcmV0OnVzZXJzLW93bi1rZXk="}
		if stack == "dev" {
			cfg[project+":clusterAdminArns"] = []any{firstAdmin}
		}
		out, err := yaml.Marshal(file)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, out, 0o600))
		// The steps create the stacks anew, on the test's own backend with the test's passphrase: the copy's
		// files lose the user's secrets provider and what it encrypted, which only the user can decrypt (and which
		// a `pulumi stack init` with another provider refuses: "incorrect passphrase").
		out, _ = withoutEncryption(t, path)
		require.NoError(t, os.WriteFile(path, out, 0o600))
	}

	home := t.TempDir()
	env := append(os.Environ(),
		"README_STEPS_COPY=1", "HOME="+home, "PULUMI_HOME="+filepath.Join(home, ".pulumi-home"),
		"PULUMI_BACKEND_URL=file://"+t.TempDir(), "PULUMI_CONFIG_PASSPHRASE="+passphrase,
		"PULUMI_SKIP_UPDATE_CHECK=true", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
		"PATH="+filepath.Dir(cliPath(t))+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GIT_AUTHOR_NAME=readme", "GIT_AUTHOR_EMAIL=readme@example.com", "GIT_COMMITTER_NAME=readme",
		"GIT_COMMITTER_EMAIL=readme@example.com")
	for _, v := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} { // HOME moved; the Go caches did not
		out, err := exec.Command("go", "env", v).Output()
		require.NoError(t, err)
		env = append(env, v+"="+strings.TrimSpace(string(out)))
	}
	sh := func(what, script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = dir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoErrorf(t, cmd.Run(), "%s:\n%s", what, out.String())
		return out.String()
	}
	sh("a Git repository of the copy", "git init -q && git add -A && git commit -qm copy")
	for i, script := range scripts {
		sh("the README's steps "+names[i], script) // each block in a shell of its own
	}

	read := func(stack string) string {
		b, err := os.ReadFile(filepath.Join(dir, "Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		return string(b)
	}
	dev, prod := read("dev"), read("prod")
	for _, want := range []string{"githubRepository: acme/shop", "apiKey:", "secure:", "appRepoToken:", "clusterAdminArns:",
		"pulumiOrganization: acme", "deployWith: deployments", "arn:aws:s3:::acme-shop-assets/*", "infraRepositoryId: \"300000003\"",
		"encryptionsalt:", firstAdmin, "arn:aws:iam::111122223333:role/platform-admins",
		// `config set` writes a number as a string, which the checks below show the CLI and the program accept.
		"nodeMaxSize: \"4\""} {
		assert.Contains(t, dev, want, "Pulumi.dev.yaml after the README's steps")
	}
	// Prod's steps set every key prod needs: none of the shipped placeholders is left.
	for _, want := range []string{"githubRepository: acme/shop", "githubOwnerId: \"61000001\"", "githubRepositoryId: \"62000002\"",
		"appRepoUrl: https://github.com/acme/shop.git", "aws:region: us-east-1", "93.184.216.0/24", "apiKey:",
		// Every `config set` re-saves the file with its numbers and booleans as strings (pulumi/pulumi sdk v3.274.1,
		// go/common/resource/config/value.go: UnmarshalYAML keeps no type, MarshalYAML writes an untyped value as
		// a string), which the checks below show the CLI and the program accept.
		"azCount: \"3\"", "protect: \"true\""} {
		assert.Contains(t, prod, want, "Pulumi.prod.yaml after the README's steps")
	}
	for _, file := range []string{dev, prod} {
		assert.NotContains(t, file, stacks.PlaceholderOwner)
		assert.NotContains(t, file, stacks.PlaceholderOwnerID)
		assert.NotContains(t, file, "203.0.113.0/24")
		assert.NotContains(t, file, "readme-api-key")
		assert.NotContains(t, file, "readme-repo-token")
	}
	assert.Empty(t, strings.TrimSpace(sh("a clean work tree", "git status --porcelain")), "every step's change is committed")
	if !checkCopy {
		return
	}

	// The tests of `make test` that read a user's stack files, which is all the README's steps change: the rest of
	// the suite runs on the tests' own fixtures and cannot tell the copy from the repository.
	sh("the tests of the user's stacks on the configured copy", "go test -vet=off -count=1 ./tests/ -run 'TestUserStacks'")
	acceptsUserStacks(t, dir) // the real CLI accepts the configured stacks
}
