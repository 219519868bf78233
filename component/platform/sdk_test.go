package platform_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"gopkg.in/yaml.v3"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/stretchr/testify/require"
)

// noReferences loads no other package: the schema references none (its outputs are strings, not resources).
type noReferences struct{}

var errNoReferences = errors.New("the eks-gitops schema references no other package")

func (noReferences) LoadPackage(string, *semver.Version) (*schema.Package, error) {
	return nil, errNoReferences
}
func (noReferences) LoadPackageV2(context.Context, *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, errNoReferences
}
func (noReferences) LoadPackageReference(string, *semver.Version) (schema.PackageReference, error) {
	return nil, errNoReferences
}
func (noReferences) LoadPackageReferenceV2(context.Context, *schema.PackageDescriptor) (schema.PackageReference, error) {
	return nil, errNoReferences
}

// boundSchema binds the committed schema as `pulumi package gen-sdk` does before generating (validated).
func boundSchema(t *testing.T) *schema.Package {
	t.Helper()
	raw, err := os.ReadFile(schemaFile)
	require.NoError(t, err)
	var spec schema.PackageSpec
	require.NoError(t, json.Unmarshal(raw, &spec))
	pkg, diags, err := schema.BindSpec(spec, noReferences{}, schema.ValidationOptions{})
	require.NoError(t, err)
	require.False(t, diags.HasErrors(), "%v", diags)
	return pkg
}

// generate writes an SDK of the schema for a language into dir, with the code generators the Pulumi language
// plugins run for `pulumi package gen-sdk`.
func generate(t *testing.T, language, dir string) {
	t.Helper()
	pkg := boundSchema(t)
	var files map[string][]byte
	var err error
	switch language {
	case "nodejs":
		files, err = nodejs.GeneratePackage("pulumi-language-nodejs", pkg, nil, nil, true, noReferences{})
	case "python":
		files, err = python.GeneratePackage("pulumi-language-python", pkg, nil, noReferences{})
	}
	require.NoError(t, err)
	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, content, 0o644))
	}
}

// tool is a pinned tool `make tools` installs into the repository's .tools.
func tool(t *testing.T, rel string) string {
	t.Helper()
	path := filepath.Join(repoRoot(t), ".tools", rel)
	_, err := os.Stat(path)
	require.NoErrorf(t, err, "%s is missing: run `make tools` at the repository root", path)
	return path
}

func run(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, os.CopyFS(to, os.DirFS(from)))
}

// TestSchema_passesPulumisOwnCheck runs `pulumi schema check` (the pinned CLI) on the committed schema.
func TestSchema_passesPulumisOwnCheck(t *testing.T) {
	t.Parallel()
	out, err := run(t, ".", []string{"PULUMI_HOME=" + t.TempDir(), "PULUMI_SKIP_UPDATE_CHECK=true"},
		tool(t, "bin/pulumi"), "schema", "check", schemaFile)
	require.NoError(t, err, out)
}

// typeScriptConsumer lays out the TypeScript example as `pulumi package add` leaves it (the SDK in
// sdks/eks-gitops), with the pinned node modules, and returns its directory.
func typeScriptConsumer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, filepath.Join(repoRoot(t), "examples", "component", "typescript"), dir)
	generate(t, "nodejs", filepath.Join(dir, "sdks", "eks-gitops"))
	require.NoError(t, os.Symlink(tool(t, "node/node_modules"), filepath.Join(dir, "node_modules")))
	// The example's own compiler options; the package name resolved to the generated SDK, as the file:
	// dependency of package.json does once installed.
	tsconfig := `{"extends": "./tsconfig.json", "compilerOptions": {"baseUrl": ".", "paths": {"@example/eks-gitops": ["sdks/eks-gitops"]}}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tsconfig.check.json"), []byte(tsconfig), 0o644))
	return dir
}

// tscErrors runs the TypeScript compiler once over the consumer's files (the @pulumi/pulumi declarations, which
// take most of a run, are checked once for all of them) and returns each file's error lines.
func tscErrors(t *testing.T, dir string, files ...string) map[string][]string {
	t.Helper()
	list, err := json.Marshal(files)
	require.NoError(t, err)
	config := `{"extends": "./tsconfig.check.json", "files": ` + string(list) + `}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tsconfig.files.json"), []byte(config), 0o644))
	out, err := run(t, dir, nil, "node", tool(t, "node/node_modules/typescript/bin/tsc"), "-p", "tsconfig.files.json")
	// Every error line, under its file ("" for errors of no file, such as a bad compiler option), so that an
	// error in the generated SDK or in a declaration file fails as surely as one in the example.
	errs := map[string][]string{}
	last := ""
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(line, "error TS"):
			file, _, ok := strings.Cut(line, "(")
			if !ok || strings.HasPrefix(line, "error TS") {
				file = ""
			}
			errs[file], last = append(errs[file], line), file
		case last != "" && strings.HasPrefix(line, " "): // the indented lines that explain an error
			errs[last][len(errs[last])-1] += "\n" + line
		}
	}
	if err != nil {
		require.NotEmpty(t, errs, "tsc failed without an error line: %s", out)
	}
	return errs
}

// tsVariants are changes to the example that the compiler must reject, as the component would at run time.
var tsVariants = []struct{ name, from, to, want string }{
	{"a number for an ID", `githubOwnerId: "61000001",`, `githubOwnerId: 61000001,`, "githubOwnerId"},
	// The single service's keys are optional (a platform of services has none); a service's are required.
	{"a list for the repository", `githubRepository: "acme/shop",`, `githubRepository: ["acme/shop"],`, "githubRepository"},
	{"an output for a list", `action: ["s3:GetObject"]`, `action: pulumi.output(["s3:GetObject"])`, "action"},
}

// tsServiceVariants are changes to the two-service example that the compiler must reject.
var tsServiceVariants = []struct{ name, from, to, want string }{
	{"a service without its API key", `apiKey: config.requireSecret("billingApiKey"),`, ``, "apiKey"},
	{"a service without a name", `name: "billing",`, ``, "name"},
	{"a number for a quota's CPU", `cpu: "1"`, `cpu: 1`, "cpu"},
}

// typeScriptChecked is the one compiler run of the TypeScript tests: the example as shipped (index.ts), each
// rejected variant of it (variant-<n>.ts), and the README's example (readme.ts), with the errors of each.
var typeScriptChecked struct {
	once     sync.Once
	services string // the two-service example (services.ts)
	example  string
	errs     map[string][]string
}

func typeScriptCheck(t *testing.T) (example string, errs map[string][]string) {
	t.Helper()
	typeScriptChecked.once.Do(func() {
		dir := typeScriptConsumer(t)
		b, err := os.ReadFile(filepath.Join(dir, "index.ts"))
		require.NoError(t, err)
		example := string(b)
		files := []string{"index.ts", "readme.ts", "services.ts"}
		b, err = os.ReadFile(filepath.Join(repoRoot(t), "examples", "component", "typescript-services", "index.ts"))
		require.NoError(t, err)
		services := string(b)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "services.ts"), b, 0o644))
		for i, v := range tsServiceVariants {
			require.Contains(t, services, v.from, v.name)
			name := fmt.Sprintf("variant-services-%d.ts", i)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(strings.Replace(services, v.from, v.to, 1)), 0o644))
			files = append(files, name)
		}
		typeScriptChecked.services = services
		require.NoError(t, os.WriteFile(filepath.Join(dir, "readme.ts"), []byte(readmeBlock(t, readmeHeading, "typescript")), 0o644))
		for i, v := range tsVariants {
			require.Contains(t, example, v.from, v.name)
			name := fmt.Sprintf("variant-%d.ts", i)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(strings.Replace(example, v.from, v.to, 1)), 0o644))
			files = append(files, name)
		}
		typeScriptChecked.example, typeScriptChecked.errs = example, tscErrors(t, dir, files...)
	})
	require.NotNil(t, typeScriptChecked.errs, "the TypeScript compiler run failed (see the first test that ran it)")
	return typeScriptChecked.example, typeScriptChecked.errs
}

// TestSDK_typeScriptConsumerTypeChecks: the TypeScript SDK generated from the schema compiles with the example,
// and the compiler rejects what the component would (a number for a string argument, a missing required one).
func TestSDK_typeScriptConsumerTypeChecks(t *testing.T) {
	t.Parallel()
	example, errs := typeScriptCheck(t)
	for file, lines := range errs {
		if !strings.HasPrefix(file, "variant-") && file != "readme.ts" {
			assert.Emptyf(t, lines, "errors in %q: the example as shipped, the generated SDK and the declarations compile", file)
		}
	}
	for i, v := range tsVariants {
		t.Run(v.name, func(t *testing.T) {
			got := errs[fmt.Sprintf("variant-%d.ts", i)]
			require.NotEmpty(t, got, "the compiler accepts it")
			line := strings.Count(strings.SplitN(example, v.from, 2)[0], "\n") + 1
			all := strings.Join(got, "\n")
			assert.True(t, strings.Contains(all, fmt.Sprintf(".ts(%d,", line)) || strings.Contains(all, "'"+v.want+"'"),
				"the error is about the change (%s): %s", v.want, all)
		})
	}
	for i, v := range tsServiceVariants {
		t.Run(v.name, func(t *testing.T) {
			got := errs[fmt.Sprintf("variant-services-%d.ts", i)]
			require.NotEmpty(t, got, "the compiler accepts it")
			line := strings.Count(strings.SplitN(typeScriptChecked.services, v.from, 2)[0], "\n") + 1
			all := strings.Join(got, "\n")
			assert.True(t, strings.Contains(all, fmt.Sprintf(".ts(%d,", line)) || strings.Contains(all, "'"+v.want+"'"),
				"the error is about the change (%s): %s", v.want, all)
		})
	}
}

// pythonConsumer lays out the Python example with the generated SDK, for mypy with Pulumi's Python SDK (the
// sdk/python of the Go module the program pins).
func pythonConsumer(t *testing.T) (dir string, env []string) {
	t.Helper()
	dir = t.TempDir()
	copyDir(t, filepath.Join(repoRoot(t), "examples", "component", "python"), dir)
	sdk := filepath.Join(dir, "sdks", "eks-gitops")
	generate(t, "python", sdk)
	goSDK, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/pulumi/pulumi/sdk/v3").Output()
	require.NoError(t, err)
	pulumiPython := filepath.Join(strings.TrimSpace(string(goSDK)), "python", "lib")
	_, err = os.Stat(filepath.Join(pulumiPython, "pulumi", "__init__.py"))
	require.NoError(t, err, "Pulumi's Python SDK in the Go module cache")
	return dir, []string{"MYPYPATH=" + sdk + string(os.PathListSeparator) + pulumiPython, "MYPY_CACHE_DIR=" + t.TempDir()}
}

func mypy(t *testing.T, dir string, env []string) (string, error) {
	t.Helper()
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = "python3"
	}
	// Pulumi's own dependencies (grpc, protobuf, ...) are not installed here, nor the generated protobuf modules
	// its stubs import (pulumi.*_pb2): their types stay unchecked, and only theirs; the component's SDK, Pulumi's
	// SDK and the example are checked, and an unresolved import of any of them fails.
	config := "[mypy]\npython_version = 3.11\nfollow_imports = silent\n\n[mypy-google.*,grpc.*,grpc,semver.*,semver,dill.*,dill,yaml.*,yaml,debugpy.*,debugpy,pulumi.*]\nignore_missing_imports = True\n"
	ini := filepath.Join(t.TempDir(), "mypy.ini")
	require.NoError(t, os.WriteFile(ini, []byte(config), 0o644))
	return run(t, dir, env, python, "-m", "mypy", "--config-file", ini, "--no-error-summary", "__main__.py")
}

// TestSDK_pythonConsumerTypeChecks: the Python SDK generated from the schema type-checks with the example under
// mypy, which rejects what the component would.
func TestSDK_pythonConsumerTypeChecks(t *testing.T) {
	t.Parallel()
	dir, env := pythonConsumer(t)
	out, err := mypy(t, dir, env)
	require.NoError(t, err, out)

	example, err := os.ReadFile(filepath.Join(dir, "__main__.py"))
	require.NoError(t, err)
	for name, c := range map[string]struct{ from, to, want string }{
		"a number for an ID":  {`github_owner_id="61000001",`, `github_owner_id=61000001,`, "github_owner_id"},
		"a misspelt argument": {`app_repo_url=`, `app_repository_url=`, `No overload variant of "Platform"`},
	} {
		t.Run(name, func(t *testing.T) {
			require.Contains(t, string(example), c.from)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "__main__.py"), []byte(strings.Replace(string(example), c.from, c.to, 1)), 0o644))
			out, err := mypy(t, dir, env)
			assert.Error(t, err, "mypy accepts it")
			assert.Contains(t, out, c.want)
		})
	}
}

// TestYAMLExample_usesTheSchema: the Pulumi YAML example names the component's type, sets only its arguments
// (every required one), with statements in the schema's shape, and reads only its outputs.
func TestYAMLExample_usesTheSchema(t *testing.T) {
	t.Parallel()
	var spec schema.PackageSpec
	raw, err := os.ReadFile(schemaFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &spec))
	component := spec.Resources["eks-gitops:index:Platform"]

	var program struct {
		Resources map[string]struct {
			Type       string         `yaml:"type"`
			Properties map[string]any `yaml:"properties"`
		} `yaml:"resources"`
		Outputs map[string]string `yaml:"outputs"`
	}
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "component", "yaml", "Pulumi.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &program))
	platform := program.Resources["platform"]
	require.Equal(t, "eks-gitops:index:Platform", platform.Type)
	for key := range platform.Properties {
		assert.Containsf(t, component.InputProperties, key, "%s is an argument of the component", key)
	}
	for _, key := range component.RequiredInputs {
		assert.Containsf(t, platform.Properties, key, "the required argument %s is set", key)
	}
	statement := spec.Types["eks-gitops:index:Statement"]
	for _, s := range platform.Properties["serviceIamStatements"].([]any) {
		for key := range s.(map[string]any) {
			assert.Contains(t, statement.Properties, key)
		}
	}
	for _, expr := range program.Outputs {
		out := strings.TrimSuffix(strings.TrimPrefix(expr, "${platform."), "}")
		assert.Containsf(t, component.Properties, out, "%s is an output of the component", out)
	}
}

// TestSchema_isWhatPulumiPackageGetSchemaPrints builds the provider binary and asks the pinned CLI for its schema,
// as `pulumi package add` does: it is the committed schema.
func TestSchema_isWhatPulumiPackageGetSchemaPrints(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "pulumi-resource-eks-gitops")
	out, err := run(t, "..", nil, "go", "build", "-o", bin, ".")
	require.NoError(t, err, out)
	cmd := exec.Command(tool(t, "bin/pulumi"), "package", "get-schema", bin)
	cmd.Env = append(os.Environ(), "PULUMI_HOME="+t.TempDir(), "PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true")
	printed, err := cmd.Output()
	require.NoError(t, err)
	golden, err := os.ReadFile(schemaFile)
	require.NoError(t, err)
	assert.JSONEq(t, string(golden), string(printed))
}

// readmeBlock is the first code block of a language after a heading of the component's guide, docs/component.md.
func readmeBlock(t *testing.T, heading, language string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "component.md"))
	require.NoError(t, err)
	doc := string(b)
	at := strings.Index(doc, heading)
	require.GreaterOrEqual(t, at, 0, "docs/component.md has %q", heading)
	doc = doc[at:]
	start := strings.Index(doc, "```"+language+"\n")
	require.GreaterOrEqual(t, start, 0, "docs/component.md has a %s example under %q", language, heading)
	doc = doc[start+len("```"+language+"\n"):]
	return doc[:strings.Index(doc, "```")]
}

// readmeHeading is the section of the component's guide with the ten-line consumer examples.
const readmeHeading = "## Examples"

// TestSDK_readmeExamplesTypeCheck: the ten-line examples of the component's guide (docs/component.md) compile
// against the generated SDKs.
func TestSDK_readmeExamplesTypeCheck(t *testing.T) {
	t.Parallel()
	_, errs := typeScriptCheck(t)
	assert.Empty(t, errs["readme.ts"], "the TypeScript example of docs/component.md")

	py, env := pythonConsumer(t)
	require.NoError(t, os.WriteFile(filepath.Join(py, "__main__.py"), []byte(readmeBlock(t, readmeHeading, "python")), 0o644))
	out, err := mypy(t, py, env)
	require.NoError(t, err, "the Python example of docs/component.md: %s", out)
}

// TestGuide_namesWhatPackageAddGenerates: docs/component.md names the SDK directory and packages that
// `pulumi package add` writes for this schema. The directory is sdks/<namespace>-<name> (pulumi/pulumi pkg/v3
// v3.274.1, cmd/pulumi/packages/packages.go, GenSDK: outName = pkg.Namespace + "-" + pkg.Name).
func TestGuide_namesWhatPackageAddGenerates(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(schemaFile)
	require.NoError(t, err)
	var schema struct{ Name, Namespace string }
	require.NoError(t, json.Unmarshal(b, &schema))
	require.NotEmpty(t, schema.Namespace)
	guide, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "component.md"))
	require.NoError(t, err)
	for _, want := range []string{
		"`sdks/" + schema.Namespace + "-" + schema.Name + "`",
		"`@" + schema.Namespace + "/" + schema.Name + "`",
		"`" + strings.ReplaceAll(schema.Namespace+"_"+schema.Name, "-", "_") + "`",
		"`WithNamespace(\"" + schema.Namespace + "\")`",
	} {
		assert.Contains(t, string(guide), want)
	}
	// The Node.js the pinned @pulumi/pulumi declares it needs.
	pj, err := os.ReadFile(tool(t, "node/node_modules/@pulumi/pulumi/package.json"))
	require.NoError(t, err)
	var pkg struct{ Engines struct{ Node string } }
	require.NoError(t, json.Unmarshal(pj, &pkg))
	require.Regexp(t, `^>=\d+$`, pkg.Engines.Node)
	assert.Contains(t, string(guide), "Node.js "+strings.TrimPrefix(pkg.Engines.Node, ">=")+" or later")
	assert.Less(t, strings.Index(string(guide), "pulumi package add https://"), strings.Index(string(guide), "\nnpm install"),
		"package add comes before npm install, which needs the SDK it writes")
}
