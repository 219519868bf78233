package engine_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/internal/plan"
)

// TestCLI_isBuiltFromTheSDKVersionOfTheProgram: the CLI these tests drive, the SDK the program is built with and
// the CLI the workflows install are one pulumi version.
func TestCLI_isBuiltFromTheSDKVersionOfTheProgram(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	version := func(file, module string) string {
		b, err := os.ReadFile(filepath.Join(root, file))
		require.NoError(t, err)
		m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + `\s+(v\S+)`).FindStringSubmatch(string(b))
		require.NotNilf(t, m, "%s requires %s", file, module)
		return m[1]
	}
	sdk := version("go.mod", "github.com/pulumi/pulumi/sdk/v3")
	assert.Equal(t, sdk, version("tools/pulumi/go.mod", "github.com/pulumi/pulumi/pkg/v3"), "tools/pulumi builds the CLI of the SDK's version")
	s := newBackend(t).platform("dev", fixtures)
	out, err := s.pulumi("version")
	require.NoError(t, err, out)
	assert.Equal(t, sdk, strings.TrimSpace(out))
}

// TestCLI_acceptsTheUserStacksWithOnlyTheQuickStartSecret: the CLI validates each stack file against
// Pulumi.yaml (required keys, types, secrets) before the program runs; with the apiKey the quick start sets,
// a preview of every stack at the repository root passes and the program plans its whole graph.
func TestCLI_acceptsTheUserStacksWithOnlyTheQuickStartSecret(t *testing.T) {
	t.Parallel()
	acceptsUserStacks(t, repoRoot(t))
}

// acceptsUserStacks previews every stack of the repository at root with the real CLI.
func acceptsUserStacks(t *testing.T, root string) {
	stacks, err := plan.Stacks(root)
	require.NoError(t, err)
	require.NotEmpty(t, stacks)
	b := newBackend(t)
	b.root = root
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			s := b.platform(stack, userFiles)
			r := s.preview()
			require.NoError(t, r.err, r.stdout)
			assert.NotContains(t, r.stdout, "missing configuration")
			ops := r.ops()
			assert.Greater(t, len(ops), 60, "the whole graph is planned")
		})
	}
}

// TestCLI_requiresTheAPIKeyAndNoOtherKey: without the quick start's secret the stack is refused before anything
// is registered, naming that key alone and the command that sets it. Every declared key is optional for the CLI
// (a stack listing services has no apiKey, but one secret per service), so the program is what requires it.
func TestCLI_requiresTheAPIKeyAndNoOtherKey(t *testing.T) {
	t.Parallel()
	s := newBackend(t).platformWithoutAPIKey("dev", fixtures)
	r := s.preview()
	require.Error(t, r.err)
	out := r.stdout + r.err.Error()
	assert.Contains(t, out, "apiKey: is required and missing; set it with `pulumi config set --secret apiKey <value>`")
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`(\w+): is required`).FindAllStringSubmatch(out, -1) {
		keys[m[1]] = true
	}
	assert.Equal(t, map[string]bool{"apiKey": true}, keys, "that key alone")
	for _, step := range r.steps {
		if step.Type != "pulumi:pulumi:Stack" {
			assert.NotEqualf(t, apitype.OpCreate, step.Op, "%s: refused before anything is registered", step.URN)
		}
	}
}

// TestCLI_optionalSecretIsSetWithConfigSetSecretAndRefusedInPlainText: appRepoToken is optional for the CLI,
// works when set with --secret, and the program refuses it in plain text before registering anything.
func TestCLI_optionalSecretIsSetWithConfigSetSecretAndRefusedInPlainText(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	s := b.platform("dev", fixtures)
	s.setSecret("appRepoToken", testRepoToken)
	r := s.preview()
	require.NoError(t, r.err, r.stdout)
	assert.Equal(t, apitype.OpCreate, r.ops()[urn("dev", "platform:infra:GitOps$kubernetes:core/v1:Secret", "gitops-repo-credentials")])

	plain := b.platform("prod", fixtures)
	plain.set("appRepoToken", testRepoToken)
	r = plain.preview()
	require.Error(t, r.err)
	assert.Contains(t, r.stdout, "appRepoToken: is stored in plain text; store it encrypted with `pulumi config set --secret appRepoToken <token>`")
	assert.NotContains(t, r.stdout, testRepoToken, "the refused value is not echoed")
}

// urn is a resource URN of this project, for a type chain (parent types joined with $).
func urn(stack, typeChain, name string) string {
	return "urn:pulumi:" + stack + "::" + project + "::" + typeChain + "::" + name
}
