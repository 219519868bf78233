package tests

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildModules are the Go modules `make test` compiles: the program, the wrapper that builds the Pulumi CLI, and
// the component package. All three build the Pulumi SDK, and two of them pkg/v3 and the provider SDKs.
var buildModules = []string{".", "tools/pulumi", "component"}

// requirements are a module's requirements, by module path, without the ones it replaces.
func requirements(t *testing.T, dir string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "mod", "edit", "-json")
	cmd.Dir = filepath.Join(repoRoot(t), dir)
	out, err := cmd.Output()
	require.NoError(t, err, "go mod edit -json in %s", dir)
	var mod struct {
		Require []struct{ Path, Version string }
		Replace []struct{ Old struct{ Path string } }
	}
	require.NoError(t, json.Unmarshal(out, &mod))
	replaced := map[string]bool{}
	for _, r := range mod.Replace {
		replaced[r.Old.Path] = true
	}
	reqs := map[string]string{}
	for _, r := range mod.Require {
		if !replaced[r.Path] {
			reqs[r.Path] = r.Version
		}
	}
	return reqs
}

// TestModules_shareOneBuildList: every module that two of the build's modules require is required at the same
// version in both. Go's build cache keys a compiled package by the exact versions of everything it imports, so a
// single differing version (grpc, protobuf, OpenTelemetry) makes the Pulumi SDK, pkg/v3 and the provider SDKs
// compile again for each module: minutes of a cold run. Since Go 1.17 a go.mod lists every module that provides a
// package to the build, so comparing requirements compares what is compiled. To fix a mismatch, require the
// higher version in each module (`go mod edit -require=<module>@<version>`, then `go mod tidy`) until none is left.
func TestModules_shareOneBuildList(t *testing.T) {
	t.Parallel()
	seen := map[string]struct{ version, in string }{}
	compared := 0
	for _, dir := range buildModules {
		for path, version := range requirements(t, dir) {
			first, ok := seen[path]
			if !ok {
				seen[path] = struct{ version, in string }{version, dir}
				continue
			}
			compared++
			assert.Equalf(t, first.version, version, "%s: %s requires %s, %s requires %s", path, first.in, first.version, dir, version)
		}
	}
	assert.Greater(t, compared, 100, "the modules share the Pulumi SDK's whole dependency graph")
}
