package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	return string(b)
}

// codeBlocks returns the README's fenced blocks of a language.
func codeBlocks(doc, lang string) []string {
	re := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestREADME_configReferenceListsEveryDeclaredKey keeps the user's manual in step with Pulumi.yaml.
func TestREADME_configReferenceListsEveryDeclaredKey(t *testing.T) {
	t.Parallel()
	doc := readme(t)
	for key := range loadProject(t).Config {
		if strings.Contains(key, ":") {
			continue
		}
		assert.Regexp(t, regexp.MustCompile("(?m)^\\| [^|]*`"+regexp.QuoteMeta(key)+"`"), doc, "README's configuration table documents %s", key)
	}
}

func TestREADME_outputsTableListsEveryOutput(t *testing.T) {
	t.Parallel()
	doc := readme(t)
	r := runStack(t, "dev", deployConfig(t, "dev")).ok()
	require.NotEmpty(t, r.outputs)
	for name := range r.outputs {
		assert.Regexp(t, regexp.MustCompile("(?m)^\\| [^|]*`"+regexp.QuoteMeta(name)+"`"), doc, "README's outputs table documents %s", name)
	}
	assert.Contains(t, doc, "`"+stacks.OutputKubeconfig+"` | kubeconfig using `aws eks get-token` (**secret**)")
}

// TestREADME_entryPointsAreWhatCIRuns: the README's test command is what .ci/run runs, and every make target
// the README names exists.
func TestREADME_entryPointsAreWhatCIRuns(t *testing.T) {
	t.Parallel()
	doc := readme(t)
	ci, err := os.ReadFile(filepath.Join(repoRoot(t), ".ci", "run"))
	require.NoError(t, err)
	assert.Contains(t, doc, "| `make test` |")
	assert.Regexp(t, regexp.MustCompile(`(?m)^make test$`), string(ci), ".ci/run runs the README's test command")
	mk, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile("`make ([a-z-]+)").FindAllStringSubmatch(doc, -1) {
		assert.Regexpf(t, regexp.MustCompile(`(?m)^`+m[1]+`:`), string(mk), "the Makefile has the target make %s", m[1])
	}
	assert.Regexp(t, regexp.MustCompile(`(?m)^export GOFLAGS := -trimpath$`), string(mk), "every entry point sets GOFLAGS=-trimpath")
	assert.Contains(t, doc, stacks.DefaultArgoCDChartVersion+" ships Argo CD "+stacks.ArgoCDAppVersion)
}

// TestREADME_sampleOutputIsWhatThePlanPrints: every line of the first screen's sample is real output of `make plan` on the
// template's dev stack.
func TestREADME_sampleOutputIsWhatThePlanPrints(t *testing.T) {
	t.Parallel()
	doc := readme(t)
	at := strings.Index(doc, "The output looks like this (an excerpt):")
	require.Positive(t, at)
	sample := codeBlocks(doc[at:], "")[0]
	res := plan.Run(projectName, "dev", fixtureConfig(t, "dev"), buildPlatform, nil) // the template's dev
	require.NoError(t, res.Err)
	tree := plan.Tree(res)
	for _, line := range strings.Split(strings.TrimSpace(sample), "\n") {
		assert.Containsf(t, tree, line+"\n", "`make plan` prints the README's sample line %q", line)
	}
}

// TestREADME_commandsThatNeedTheCloudSaySo: every command that talks to AWS, a cluster or a live backend is
// marked, so that the rest runs as written on a machine with Go and make.
func TestREADME_commandsThatNeedTheCloudSaySo(t *testing.T) {
	t.Parallel()
	cloud := regexp.MustCompile(`^\s*(aws |kubectl |helm |argocd |gh |crane |uv |pulumi (up|destroy|refresh|login|state |stack output|stack init [^<\s]+ --secrets-provider))`)
	marked := regexp.MustCompile(`# needs (AWS|GitHub|Pulumi Cloud|PyPI)`)
	var checked int
	for _, block := range codeBlocks(readme(t), "bash") {
		for _, line := range strings.Split(block, "\n") {
			if cloud.MatchString(line) {
				checked++
				assert.Regexpf(t, marked, line, "mark what this needs: %s", line)
			}
		}
	}
	assert.Greater(t, checked, 10)
}

// TestREADME_linksPointAtFilesThatExist.
func TestREADME_linksPointAtFilesThatExist(t *testing.T) {
	t.Parallel()
	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`).FindAllStringSubmatch(readme(t), -1) {
		_, err := os.Stat(filepath.Join(repoRoot(t), m[1]))
		assert.NoErrorf(t, err, "README links to %s", m[1])
	}
}

// readmeLimit is the size of a guide a newcomer reads in minutes; depth goes to docs/.
const readmeLimit = 30_000

// TestREADME_isAShortGuideWithAContentsList: the README stays under its size, and its contents list links every
// section, in order.
func TestREADME_isAShortGuideWithAContentsList(t *testing.T) {
	t.Parallel()
	doc := readme(t)
	assert.LessOrEqualf(t, len(doc), readmeLimit, "README.md is %d bytes: move depth to docs/", len(doc))
	contents := regexp.MustCompile(`(?s)\*\*Contents:\*\*(.*?)\n\n`).FindStringSubmatch(doc)
	require.NotNil(t, contents, "README has a **Contents:** list")
	var listed, sections []string
	for _, m := range regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(contents[1], -1) {
		listed = append(listed, m[1])
	}
	for _, m := range regexp.MustCompile(`(?m)^## (.+)$`).FindAllStringSubmatch(doc, -1) {
		sections = append(sections, anchor(m[1]))
	}
	assert.Equal(t, sections, listed, "the contents list links every section, in order")
}

// anchor is the fragment GitHub gives a Markdown heading.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocs_linksAndAnchorsResolve: every relative link of the README and docs/ names a file that exists, and every
// #fragment a heading of its target.
func TestDocs_linksAndAnchorsResolve(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	pages = append(pages, filepath.Join(root, "README.md"))
	headings := func(path string) []string {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var out []string
		for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(string(b), -1) {
			out = append(out, anchor(m[1]))
		}
		return out
	}
	link := regexp.MustCompile(`\]\(([^)#:]*)(#[^)]*)?\)`)
	for _, page := range pages {
		b, err := os.ReadFile(page)
		require.NoError(t, err)
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := page
			if m[1] != "" {
				target = filepath.Join(filepath.Dir(page), m[1])
				if _, err := os.Stat(target); !assert.NoErrorf(t, err, "%s links to %s", page, m[1]) {
					continue
				}
			}
			if m[2] != "" && strings.HasSuffix(target, ".md") {
				assert.Containsf(t, headings(target), strings.TrimPrefix(m[2], "#"), "%s links to %s%s", filepath.Base(page), m[1], m[2])
			}
		}
	}
}

// TestREADME_configTableAgreesWithPulumiYaml: each row's type is the one Pulumi.yaml declares, and where
// Pulumi.yaml declares a default other than "", the row shows that default.
func TestREADME_configTableAgreesWithPulumiYaml(t *testing.T) {
	t.Parallel()
	proj := loadProject(t)
	doc := readme(t)
	start, end := strings.Index(doc, "## Configuration reference"), strings.Index(doc, "## Outputs")
	require.True(t, start >= 0 && end > start, "README has its configuration reference before its outputs")
	rows := regexp.MustCompile("(?m)^\\| (`[^|]+) \\| ([^|]+) \\| ([^|]+) \\|").FindAllStringSubmatch(doc[start:end], -1)
	seen := 0
	for _, row := range rows {
		for _, key := range regexp.MustCompile("`([A-Za-z]+)`").FindAllStringSubmatch(row[1], -1) {
			decl, ok := proj.Config[key[1]]
			if !ok || decl.Type == nil {
				continue
			}
			seen++
			assert.Truef(t, strings.HasPrefix(row[2], *decl.Type), "%s: README says type %q, Pulumi.yaml %q", key[1], row[2], *decl.Type)
			if decl.Default == nil || decl.Default == "" {
				continue
			}
			want := fmt.Sprint(decl.Default)
			if list, ok := decl.Default.([]any); ok {
				want = "[" + strings.Trim(fmt.Sprint(list), "[]") + "]"
			}
			assert.Equalf(t, "`"+want+"`", row[3], "%s: README's default", key[1])
		}
	}
	assert.Greater(t, seen, 30, "the table's rows were read")
}
