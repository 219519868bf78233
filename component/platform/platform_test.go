package platform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/component/platform"
	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/cost"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

const (
	project = "eks-gitops-platform"
	apiKey  = "component-test-api-key"
)

var update = os.Getenv("UPDATE_GOLDEN") != ""

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

func loadProject(t testing.TB) *workspace.Project {
	t.Helper()
	proj, err := workspace.LoadProject(filepath.Join(repoRoot(t), "Pulumi.yaml"))
	require.NoError(t, err)
	return proj
}

// server is the provider in process, its children registered with the offline engine.
func server(t *testing.T, engine *plan.Engine) integration.Server {
	t.Helper()
	prov, err := platform.ProviderFor(func(ctx *pulumi.Context, name string, args platform.Args, opts ...pulumi.ResourceOption) (*platform.Platform, error) {
		if err := engine.RegisterStandins(ctx); err != nil {
			return nil, err
		}
		return platform.NewPlatform(ctx, name, args, opts...)
	})
	require.NoError(t, err)
	s, err := integration.NewServer(context.Background(), platform.Package, semver.MustParse(platform.Version),
		integration.WithProvider(prov), integration.WithMocks(engine))
	require.NoError(t, err)
	return s
}

// TestGenerated_argumentDocsFollowPulumiYaml: the arguments' descriptions and defaults are Pulumi.yaml's, generated
// into descriptions_gen.go (UPDATE_GOLDEN=1 regenerates it).
func TestGenerated_argumentDocsFollowPulumiYaml(t *testing.T) {
	proj := loadProject(t)
	keys := make([]string, 0, len(proj.Config))
	for k := range proj.Config {
		if !strings.Contains(k, ":") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("// Code generated from ../Pulumi.yaml by TestGenerated_argumentDocsFollowPulumiYaml; DO NOT EDIT.\n\npackage platform\n\n")
	b.WriteString("var argDescriptions = map[string]string{\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "\t%q: %q,\n", k, proj.Config[k].Description)
	}
	b.WriteString("}\n\nvar argDefaults = map[string]any{\n")
	for _, k := range keys {
		switch d := proj.Config[k].Default.(type) {
		case string:
			if d != "" {
				fmt.Fprintf(&b, "\t%q: %q,\n", k, d)
			}
		case int, bool:
			fmt.Fprintf(&b, "\t%q: %v,\n", k, d)
		}
	}
	b.WriteString("}\n")
	src, err := format.Source([]byte(b.String()))
	require.NoError(t, err)
	path := "descriptions_gen.go"
	if update {
		require.NoError(t, os.WriteFile(path, src, 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(src), string(got), "descriptions_gen.go is stale: run `make golden`")
}

// TestArgs_areTheConfigurationContract: one argument per Pulumi.yaml key, same name, same type, required exactly
// where the program requires the key; the secrets are secret inputs.
func TestArgs_areTheConfigurationContract(t *testing.T) {
	t.Parallel()
	proj := loadProject(t)
	args := reflect.TypeFor[platform.Args]()
	seen := map[string]bool{}
	for i := 0; i < args.NumField(); i++ {
		f := args.Field(i)
		tag := f.Tag.Get("pulumi")
		key, opts, _ := strings.Cut(tag, ",")
		seen[key] = true
		decl, ok := proj.Config[key]
		if !assert.Truef(t, ok, "argument %s is a Pulumi.yaml key", key) {
			continue
		}
		// No argument is required: the single service's keys are not used with services, which need none of them;
		// the program requires them without services (TestConstruct_badArgumentsFailWithTheProgramsMessages).
		assert.Equalf(t, "optional", opts, "%s is optional", key)
		typ := *decl.Type
		switch {
		case key == "apiKey" || key == "appRepoToken":
			assert.Equal(t, "secret", f.Tag.Get("provider"), "%s is a secret input", key)
		case typ == "string":
			assert.Contains(t, []reflect.Kind{reflect.String, reflect.Pointer}, f.Type.Kind(), key)
		case typ == "integer":
			assert.Equal(t, reflect.TypeFor[*int](), f.Type, key)
		case typ == "boolean":
			assert.Equal(t, reflect.TypeFor[*bool](), f.Type, key)
		case typ == "array":
			assert.Equal(t, reflect.Slice, f.Type.Kind(), key)
		}
	}
	for key := range proj.Config {
		if !strings.Contains(key, ":") {
			assert.Truef(t, seen[key], "Pulumi.yaml key %s is an argument", key)
		}
	}
}

// allFeatures is the dev fixture with every optional feature on, as configuration values.
func allFeatures(t *testing.T) plan.Config {
	t.Helper()
	cfg, err := plan.LoadConfigFiles(filepath.Join(repoRoot(t), "Pulumi.yaml"),
		plan.StackFile(filepath.Join(repoRoot(t), "tests", "testdata", "stacks"), "dev"))
	require.NoError(t, err)
	cfg.SetSecret("apiKey", apiKey)
	cfg.SetSecret("appRepoToken", "component-test-repo-token")
	// The consumer's own service repository: an update refuses the template's placeholder.
	cfg.Set("githubRepository", "acme/shop")
	cfg.Set("githubOwnerId", "61000001")
	cfg.Set("githubRepositoryId", "62000002")
	cfg.Set("appRepoUrl", "https://github.com/acme/shop.git")
	cfg.Set("pulumiOrganization", "acme")
	cfg.Set("infraRepository", "acme/platform-infra")
	cfg.Set("infraRepositoryOwnerId", "300000003")
	cfg.Set("infraRepositoryId", "400000004")
	cfg.Set("clusterAdminArns", []string{"arn:aws:iam::111122223333:role/oncall"})
	cfg.Set("serviceIamStatements", []any{map[string]any{"Sid": "ReadAssets", "Effect": "Allow", "Action": []any{"s3:GetObject"},
		"Resource": []any{"arn:aws:s3:::acme-assets/*"}}})
	// As `pulumi up` runs it, so that the offline engine's outputs are known in both runs (a component's preview
	// leaves them unknown).
	cfg.Up = true
	return cfg
}

// withTwoServices is allFeatures as a platform of two services: the single-service keys out, services in, each
// API key its own secret (shopApiKey for the program; each entry's apiKey for the component).
func withTwoServices(t *testing.T) plan.Config {
	t.Helper()
	cfg := allFeatures(t)
	for _, k := range []string{"githubRepository", "githubOwnerId", "githubRepositoryId", "appRepoUrl", "apiKey", "appRepoToken",
		"serviceIamStatements", "serviceName", "appTargetRevision", "githubAllowedSubjects"} {
		cfg.Set(k, nil)
	}
	cfg.Unsecret("apiKey")
	cfg.Unsecret("appRepoToken")
	cfg.Set("services", []any{
		map[string]any{"name": "shop", "githubRepository": "acme/shop", "githubOwnerId": "61000001", "githubRepositoryId": "62000002",
			"appRepoUrl": "https://github.com/acme/shop.git", "iamStatements": []any{map[string]any{"Sid": "ReadAssets", "Effect": "Allow",
				"Action": []any{"s3:GetObject"}, "Resource": []any{"arn:aws:s3:::acme-assets/*"}}}},
		map[string]any{"name": "billing", "githubRepository": "acme/billing", "githubOwnerId": "61000001", "githubRepositoryId": "62000003",
			"appRepoUrl": "https://github.com/acme/billing.git", "quota": map[string]any{"cpu": "1", "memory": "2Gi", "pods": 10},
			"ingressFrom": []any{"shop"}},
	})
	cfg.SetSecret("shopApiKey", apiKey)
	cfg.SetSecret("billingApiKey", apiKey+"-billing")
	return cfg
}

// inputs turns configuration values into the component's inputs, by Pulumi.yaml's types; secrets as secrets.
func inputs(t *testing.T, cfg plan.Config) property.Map {
	t.Helper()
	proj := loadProject(t)
	m := map[string]property.Value{}
	for full, raw := range cfg.Values {
		key, ok := strings.CutPrefix(full, project+":")
		if !ok {
			continue
		}
		decl, declared := proj.Config[key]
		if !declared {
			continue // a service's own secret: the component takes it in the service's entry
		}
		var v property.Value
		switch *decl.Type {
		case "integer":
			n, err := strconv.Atoi(raw)
			require.NoError(t, err)
			v = property.New(float64(n))
		case "boolean":
			v = property.New(raw == "true")
		case "array":
			var list []any
			require.NoError(t, json.Unmarshal([]byte(raw), &list))
			if key == "serviceIamStatements" {
				list = componentStatements(list)
			}
			if key == "services" {
				list = componentServices(cfg, list)
			}
			v = toValue(list)
		default:
			v = property.New(raw)
		}
		if slices.Contains(cfg.Secrets, full) {
			v = v.WithSecret(true)
		}
		m[key] = v
	}
	return property.NewMap(m)
}

// componentServices are services entries in the component's shape: statements in its shape, and the API key, which
// the configuration holds in the secret <name>ApiKey, in the entry.
func componentServices(cfg plan.Config, list []any) []any {
	out := make([]any, 0, len(list))
	for _, e := range list {
		entry := map[string]any{}
		for k, v := range e.(map[string]any) {
			entry[k] = v
		}
		if st, ok := entry["iamStatements"].([]any); ok {
			entry["iamStatements"] = componentStatements(st)
		}
		entry["apiKey"] = secretValue(cfg.Get(entry["name"].(string) + "ApiKey"))
		out = append(out, entry)
	}
	return out
}

// secretValue marks a value secret where toValue builds the inputs.
type secretValue string

// componentStatements are configuration statements in the component's shape (lower-case field names).
func componentStatements(list []any) []any {
	out := make([]any, 0, len(list))
	for _, s := range list {
		st := map[string]any{}
		for k, v := range s.(map[string]any) {
			st[strings.ToLower(k[:1])+k[1:]] = v
		}
		out = append(out, st)
	}
	return out
}

type constructed struct {
	engine *plan.Engine
	urn    presource.URN
	resp   p.ConstructResponse
	err    error
	result *plan.Result
}

func construct(t *testing.T, stack string, in property.Map, dryRun bool) constructed {
	t.Helper()
	engine := plan.NewEngine(project, stack)
	s := server(t, engine)
	urn := presource.NewURN("dev", project, "", platform.Token, "platform")
	resp, err := s.Construct(p.ConstructRequest{Urn: urn, Inputs: in, DryRun: dryRun})
	return constructed{engine: engine, urn: urn, resp: resp, err: err, result: engine.Recorded()}
}

// programRun is the Go program's offline run on the same values, its outputs resolved.
func programRun(t *testing.T, cfg plan.Config) *plan.Result {
	t.Helper()
	program := plan.Run(project, "dev", cfg, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		p, err := stacks.Build(ctx)
		if err != nil {
			return nil, err
		}
		return p.Outputs(), nil
	}, nil)
	require.NoError(t, program.Err)
	return program
}

// TestConstruct_buildsTheProgramsGraphUnderTheComponent: from the same values, the component registers exactly the
// resources the program registers (same types, names and inputs), each a descendant of the component; the
// Kubernetes resources use the explicit provider; the secrets arrive and leave as secrets.
func TestConstruct_buildsTheProgramsGraphUnderTheComponent(t *testing.T) {
	t.Parallel()
	got, c := sameGraph(t, allFeatures(t))

	// The API key arrives secret and stays secret in the Secret; the kubeconfig leaves secret.
	secret := got["kubernetes:core/v1:Secret gitops-api-key"]
	require.NotNil(t, secret)
	assert.True(t, secret.SecretAt("stringData.api-key"), "the API key stays secret")
	kubeconfig, ok := c.resp.State.GetOk("kubeconfig")
	require.True(t, ok)
	assert.True(t, kubeconfig.Secret(), "the kubeconfig output is secret")
}

// TestConstruct_servicesAreTheProgramsServices: a component given two services builds the program's two-service
// graph: each Service with its own API key (secret, from the entry), repository, push role and tenancy.
func TestConstruct_servicesAreTheProgramsServices(t *testing.T) {
	t.Parallel()
	got, c := sameGraph(t, withTwoServices(t))
	for _, name := range []string{"shop", "billing"} {
		require.NotNilf(t, got["platform:infra:Service "+name], "the Service %s", name)
		secret := got["kubernetes:core/v1:Secret "+name+"-api-key"]
		require.NotNil(t, secret)
		assert.True(t, secret.SecretAt("stringData.api-key"), "%s's API key stays secret", name)
		require.NotNil(t, got["kubernetes:networking.k8s.io/v1:NetworkPolicy "+name+"-isolation"])
	}
	assert.Equal(t, apiKey+"-billing", got["kubernetes:core/v1:Secret billing-api-key"].Str("stringData.api-key"), "each its own key")
	services, ok := c.resp.State.GetOk("services")
	require.True(t, ok, "the services output")
	assert.ElementsMatch(t, []string{"shop", "billing"}, slices.Collect(mapKeys(services.AsMap().AsMap())))
}

// sameGraph constructs the component from cfg and checks that it registers exactly the resources the program
// registers from cfg (same types, names, inputs and protection), each a descendant of the component, the
// Kubernetes ones through the explicit provider. It returns the component's resources by type and name.
func sameGraph(t *testing.T, cfg plan.Config) (map[string]*plan.Resource, constructed) {
	t.Helper()
	program := programRun(t, cfg)

	c := construct(t, "dev", inputs(t, cfg), false)
	require.NoError(t, c.err)
	// The provider test's monitor names URNs with its own stack and project: resources are known by their
	// qualified type and name.
	ident := func(urn string) string {
		u := presource.URN(urn)
		return string(u.QualifiedType()) + "::" + u.Name()
	}
	byURN := map[string]*plan.Resource{}
	for _, r := range c.result.Resources {
		byURN[ident(r.URN)] = r
	}
	var component *plan.Resource
	for _, r := range c.result.Resources {
		if r.Type == platform.Token {
			component = r
		}
	}
	require.NotNil(t, component, "the component registers itself")

	key := func(r *plan.Resource) string { return r.Type + " " + r.Name }
	want := map[string]*plan.Resource{}
	for _, r := range program.Resources {
		if !strings.HasPrefix(r.Name, plan.StandinPrefix) {
			want[key(r)] = r
		}
	}
	got := map[string]*plan.Resource{}
	for _, r := range c.result.Resources {
		if strings.HasPrefix(r.Name, plan.StandinPrefix) || r == component {
			continue
		}
		got[key(r)] = r
		// Every child descends from the component.
		ancestor := r
		for ancestor != nil && ident(ancestor.Parent) != ident(component.URN) {
			ancestor = byURN[ident(ancestor.Parent)]
		}
		assert.NotNilf(t, ancestor, "%s is a descendant of the component", key(r))
	}
	assert.ElementsMatch(t, slices.Collect(mapKeys(want)), slices.Collect(mapKeys(got)), "the same resources as the program")
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			continue
		}
		assert.Equalf(t, withoutURNs(plan.Redacted(w.Inputs)), withoutURNs(plan.Redacted(g.Inputs)), "%s has the program's inputs", k)
		assert.Equalf(t, w.Protect, g.Protect, "%s protect", k)
		if strings.HasPrefix(g.Type, "kubernetes:") && !strings.HasPrefix(g.Type, "pulumi:providers:") {
			assert.Containsf(t, g.Provider, "pulumi:providers:kubernetes::k8s::", "%s uses the explicit Kubernetes provider", k)
		}
	}
	return got, c
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestConstruct_outputsAreTheStackOutputs: the component's outputs are the program's stack outputs, with every
// feature on, under the same names.
func TestConstruct_outputsAreTheStackOutputs(t *testing.T) {
	t.Parallel()
	cfg := allFeatures(t)
	program := programRun(t, cfg)
	c := construct(t, "dev", inputs(t, cfg), false)
	require.NoError(t, c.err)
	var got []string
	for k := range c.resp.State.AsMap() {
		got = append(got, k)
	}
	// services is the one output the single-service program does not export; the component's is empty then.
	assert.ElementsMatch(t, append(slices.Collect(mapKeys(program.Outputs)), "services"), got)
}

// TestConstruct_badArgumentsFailWithTheProgramsMessages: invalid arguments fail with the program's messages, every
// problem at once, before any resource but the component exists.
func TestConstruct_badArgumentsFailWithTheProgramsMessages(t *testing.T) {
	t.Parallel()
	cfg := allFeatures(t)
	cfg.Set("vpcCidr", "10.0.0.0/8")
	cfg.Set("nodeMinSize", 5)
	cfg.Set("serviceIamStatements", []any{map[string]any{"Effect": "Allow", "Action": []any{"s3:GetObject"}, "Resource": []any{"*"}}})
	delete(cfg.Values, project+":githubRepository")
	delete(cfg.Values, project+":apiKey") // optional in the schema (services need none), required by the program
	cfg.Unsecret("apiKey")
	program := plan.Run(project, "dev", cfg, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		_, err := stacks.Build(ctx)
		return nil, err
	}, nil)
	require.Error(t, program.Err)
	var cfgErr *stacks.ConfigError
	require.ErrorAs(t, program.Err, &cfgErr)
	require.GreaterOrEqual(t, len(cfgErr.Problems), 5)
	assert.Contains(t, program.Err.Error(), "apiKey: is required and missing")

	c := construct(t, "dev", inputs(t, cfg), false)
	require.Error(t, c.err)
	assert.Contains(t, c.err.Error(), "invalid Platform arguments")
	for _, problem := range cfgErr.Problems {
		assert.Contains(t, c.err.Error(), problem)
	}
	for _, r := range c.result.Resources {
		assert.Truef(t, r.Type == platform.Token || strings.HasPrefix(r.Name, plan.StandinPrefix), "%s registered despite invalid arguments", r.Name)
	}
}

// withoutURNs replaces resource URNs (which name the parent's type) by type and name, which the two runs share.
func withoutURNs(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = withoutURNs(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = withoutURNs(e)
		}
		return out
	case string:
		if u, err := presource.ParseURN(v); err == nil {
			return string(u.Type()) + "::" + u.Name()
		}
	}
	return v
}

// toValue turns JSON-decoded values into property values.
func toValue(v any) property.Value {
	switch v := v.(type) {
	case []any:
		items := make([]property.Value, len(v))
		for i, e := range v {
			items[i] = toValue(e)
		}
		return property.New(property.NewArray(items))
	case map[string]any:
		m := map[string]property.Value{}
		for k, e := range v {
			m[k] = toValue(e)
		}
		return property.New(property.NewMap(m))
	case string:
		return property.New(v)
	case float64:
		return property.New(v)
	case bool:
		return property.New(v)
	case nil:
		return property.New(property.Null)
	case secretValue:
		return property.New(string(v)).WithSecret(true)
	}
	panic(fmt.Sprintf("unsupported value %T", v))
}

const schemaFile = "../schema.json"

// TestSchema_isTheCommittedGolden: the schema the provider serves is the committed schema.json (UPDATE_GOLDEN=1
// rewrites it), so a change to the arguments or outputs shows in review.
func TestSchema_isTheCommittedGolden(t *testing.T) {
	prov, err := platform.Provider()
	require.NoError(t, err)
	s, err := integration.NewServer(context.Background(), platform.Package, semver.MustParse(platform.Version), integration.WithProvider(prov))
	require.NoError(t, err)
	resp, err := s.GetSchema(p.GetSchemaRequest{})
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.Schema), &doc))
	pretty, err := json.MarshalIndent(doc, "", "  ")
	require.NoError(t, err)
	pretty = append(pretty, '\n')
	if update {
		require.NoError(t, os.WriteFile(schemaFile, pretty, 0o644))
	}
	golden, err := os.ReadFile(schemaFile)
	require.NoError(t, err)
	assert.Equal(t, string(golden), string(pretty), "component/schema.json is stale: run `make golden`")
}

// TestConstruct_costIsTheProgramsEstimate: the cost estimate is one function over the planned resources, and the
// component's resources give it the same lines as the program's, from the same values.
func TestConstruct_costIsTheProgramsEstimate(t *testing.T) {
	t.Parallel()
	cfg := allFeatures(t)
	program := programRun(t, cfg)
	c := construct(t, "dev", inputs(t, cfg), false)
	require.NoError(t, c.err)
	day, err := time.Parse(time.DateOnly, infra.CalendarChecked)
	require.NoError(t, err)
	want := cost.Of(program, "us-east-1", infra.Prices, day)
	got := cost.Of(c.result, "us-east-1", infra.Prices, day)
	require.Len(t, want.Lines, 6, "every priced item of the program")
	assert.Equal(t, want.Lines, got.Lines)
	assert.Equal(t, want.Usage, got.Usage)
	assert.Equal(t, want.Monthly, got.Monthly)
}

// TestConstruct_protectedIsTheStacksProtection: the protected output says whether protect holds the platform, the
// program's own output with a deploy role (which the Deployments settings read) and the protect argument without.
func TestConstruct_protectedIsTheStacksProtection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		protect, deploys bool
	}{{"unprotected, deploy role", false, true}, {"protected, deploy role", true, true},
		{"unprotected, no deploy role", false, false}, {"protected, no deploy role", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := allFeatures(t)
			cfg.Set("protect", tc.protect)
			if tc.protect { // what a protected stack must be (prod), and no pull-request previews
				cfg.Set("endpointPublicAccessCidrs", []string{"198.18.7.0/24"})
				cfg.Set("natGateways", "perAz")
				cfg.Set("nodeMinSize", 3)
				cfg.Set("nodeDesiredSize", 3)
				for _, k := range []string{"infraRepository", "infraRepositoryOwnerId", "infraRepositoryId"} {
					delete(cfg.Values, project+":"+k)
				}
			}
			if !tc.deploys {
				for _, k := range []string{"pulumiOrganization", "infraRepository", "infraRepositoryOwnerId", "infraRepositoryId"} {
					delete(cfg.Values, project+":"+k)
				}
			}
			if tc.deploys {
				program := programRun(t, cfg)
				require.Contains(t, program.Outputs, "protected", "the program exports it with a deploy role")
				assert.Equal(t, tc.protect, program.Outputs["protected"].Value)
			}
			c := construct(t, "dev", inputs(t, cfg), false)
			require.NoError(t, c.err)
			got, ok := c.resp.State.GetOk("protected")
			require.True(t, ok)
			assert.Equal(t, tc.protect, got.AsBool())
		})
	}
}
