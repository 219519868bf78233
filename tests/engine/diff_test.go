package engine_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/stacks"
)

const goldenDiff = "testdata/preview-diff.golden"

// volatile are the parts of preview text that change from run to run.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?m)^\s*Duration: .*$`), "    Duration: (elided)"},
	{regexp.MustCompile(`(?m)^\s*View (Live|in Browser).*$`), ""},
	{regexp.MustCompile(`\s+\(\d+(\.\d+)?s\)`), ""},
	// Provider instance IDs and generated name suffixes are random per stack.
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "<provider-id>"},
	{regexp.MustCompile(`(\[id=[^\]]*-)[a-z0-9]{7}\]`), "${1}<random>]"},
}

func normalize(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.TrimRight(l, " "))
	}
	return strings.TrimSpace(strings.Join(lines, "\n")) + "\n"
}

// TestPreviewDiff_aTypicalChangeReadsAsTheReviewerNeedsIt: the pull request comment for a typical change
// (more nodes and an Argo CD chart bump) shows exactly those two updates and their properties, and nothing
// replaced. `make golden` rewrites the golden file after a reviewed change.
func TestPreviewDiff_aTypicalChangeReadsAsTheReviewerNeedsIt(t *testing.T) {
	t.Parallel()
	s := shared(t).fork(t).stack("dev", stacks.Run)
	s.setAll([][2]string{{"nodeMaxSize", "5"}, {"argocdChartVersion", "9.1.3"}}, nil)
	r := s.preview(optpreview.Diff())
	require.NoError(t, r.err, r.stdout)
	got := normalize(r.stdout)

	for _, want := range []string{
		"~ aws:eks/nodeGroup:NodeGroup: (update)", "maxSize    : 3 => 5",
		"~ kubernetes:helm.sh/v3:Release: (update)", `~ version: "9.1.0" => "9.1.3"`,
		"~ 2 to update",
	} {
		assert.Contains(t, got, want)
	}
	assert.NotContains(t, got, "replace", "nothing is replaced")
	assert.NotContains(t, got, testAPIKey)

	path := filepath.FromSlash(goldenDiff)
	if os.Getenv("UPDATE_SNAPSHOTS") == "1" {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden preview yet: run `make golden`")
	if string(want) != got {
		diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(want)),
			B: difflib.SplitLines(got), FromFile: goldenDiff + " (committed)", ToFile: "preview now", Context: 3})
		t.Fatalf("the preview text changed; if it is what a reviewer should see, run `make golden`:\n%s", diff)
	}
}
