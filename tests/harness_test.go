package tests

// The test harness: a recording mock of the Pulumi engine, the real stack files as configuration, and helpers
// to query what the program registered. Assertions are made on the recorded graph after the run.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/stacks"
)

const (
	projectName  = "eks-gitops-platform"
	testAccount  = "123456789012"
	testAPIKey   = "test-api-key-value"
	standinMark  = "standin-"
	eksClusterTy = "eks:index:Cluster"
)

var (
	stackNames = []string{"dev", "prod"}
	testZones  = []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"}
)

// record is one resource registration as the engine saw it.
type record struct {
	Type, Name, URN   string
	Parent, Provider  string
	Inputs            resource.PropertyMap
	Dependencies      []string
	PropertyDeps      map[string][]string
	Custom, Remote    bool
	Protect           bool
	IgnoreChanges     []string
	SecretOutputs     []string
	DeleteTimeout     string
	RetainOnDelete    bool
	DeletedWith       string
	ReplaceOnChanges  []string
	DeleteBeforeRepl  bool
	ProviderReference string // the provider named in the request (URN::ID), "" for the default provider
}

// in returns the plain value at a dotted path of the record's inputs ("spec.source.repoURL"), secrets
// unwrapped; nil when absent.
func (r *record) in(path string) any {
	v := resource.NewObjectProperty(r.Inputs)
	for _, k := range strings.Split(path, ".") {
		v = unsecret(v)
		if !v.IsObject() {
			return nil
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	return plain(v)
}

// raw returns the property value at a dotted path without unwrapping the last secret.
func (r *record) raw(path string) resource.PropertyValue {
	v := resource.NewObjectProperty(r.Inputs)
	for _, k := range strings.Split(path, ".") {
		v = unsecret(v)
		if !v.IsObject() {
			return resource.NewNullProperty()
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	return v
}

// secretAt reports whether the value at a dotted path, or any object on the way to it, is secret: either way
// the engine stores it encrypted.
func (r *record) secretAt(path string) bool {
	v := resource.NewObjectProperty(r.Inputs)
	for _, k := range strings.Split(path, ".") {
		if v.IsSecret() {
			return true
		}
		if !v.IsObject() {
			return false
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	return v.IsSecret()
}

func unsecret(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// plain converts a property value to Go values (map[string]any, []any, string, float64, bool), secrets
// unwrapped, resource references as their URN.
func plain(v resource.PropertyValue) any {
	v = unsecret(v)
	switch {
	case v.IsNull():
		return nil
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			m[string(k)] = plain(e)
		}
		return m
	case v.IsArray():
		var a []any
		for _, e := range v.ArrayValue() {
			a = append(a, plain(e))
		}
		return a
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	case v.IsComputed() || v.IsOutput():
		return nil
	default:
		return v.V
	}
}

// str is the plain string at path, "" if absent.
func (r *record) str(path string) string {
	s, _ := r.in(path).(string)
	return s
}

// strs is the plain string list at path.
func (r *record) strs(path string) []string {
	var out []string
	for _, e := range asSlice(r.in(path)) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// recorder is the mock engine. It records every registration, fakes the outputs the program reads, and fails
// on any invoke it does not know.
type recorder struct {
	mu       sync.Mutex
	records  []*record
	invokes  []string
	standins map[string]resource.PropertyValue // resource type -> reference to its stand-in
	stack    string
	cluster  string
	zones    []string // what getAvailabilityZones answers
}

func newRecorder(stack string) *recorder {
	return &recorder{standins: map[string]resource.PropertyValue{}, stack: stack, cluster: projectName + "-" + stack, zones: testZones}
}

func mockURN(stack, parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(stack), tokens.PackageName(projectName), parentType, tokens.Type(typ), name))
}

func (m *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.invokes = append(m.invokes, args.Token)
	m.mu.Unlock()
	switch args.Token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return resource.NewPropertyMapFromMap(map[string]any{"names": m.zones, "zoneIds": m.zones, "id": "region"}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}), nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": testAccount, "arn": "arn:aws:sts::" + testAccount + ":assumed-role/admin/laptop",
			"userId": "AROAEXAMPLE:laptop", "id": testAccount,
		}), nil
	}
	return nil, fmt.Errorf("unmocked invoke %s: add it to the recorder deliberately", args.Token)
}

func (m *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rpc := args.RegisterRPC
	if rpc == nil {
		return "", nil, fmt.Errorf("unexpected read of %s %s", args.TypeToken, args.Name)
	}
	outs := args.Inputs.Copy()
	id := args.Name + "-id"
	set := func(k string, v any) { outs[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	has := func(k string) bool { _, ok := args.Inputs[resource.PropertyKey(k)]; return ok }
	physical := args.Name + "-1a2b3c4"
	arnOf := func(service, kind string) string {
		return fmt.Sprintf("arn:aws:%s:us-east-1:%s:%s/%s", service, testAccount, kind, physical)
	}

	switch args.TypeToken {
	case "aws:iam/role:Role":
		set("name", physical)
		set("arn", "arn:aws:iam::"+testAccount+":role/"+physical)
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		url := strings.TrimPrefix(args.Inputs["url"].StringValue(), "https://")
		set("arn", "arn:aws:iam::"+testAccount+":oidc-provider/"+url)
	case "aws:kms/key:Key":
		set("arn", arnOf("kms", "key"))
	case "aws:ecr/repository:Repository":
		name := args.Inputs["name"].StringValue()
		set("arn", "arn:aws:ecr:us-east-1:"+testAccount+":repository/"+name)
		set("repositoryUrl", testAccount+".dkr.ecr.us-east-1.amazonaws.com/"+name)
	case "aws:cloudwatch/logGroup:LogGroup":
		if !has("name") {
			set("name", physical)
		}
		set("arn", "arn:aws:logs:us-east-1:"+testAccount+":log-group:"+outs["name"].StringValue())
	case "aws:ec2/launchTemplate:LaunchTemplate":
		set("latestVersion", 1)
	case "aws:eks/nodeGroup:NodeGroup":
		set("nodeGroupName", physical)
	case "aws:eks/cluster:Cluster": // the stand-in behind the pulumi-eks component's eksCluster output
		set("name", m.cluster)
		set("arn", "arn:aws:eks:us-east-1:"+testAccount+":cluster/"+m.cluster)
	case eksClusterTy:
		if len(m.standins) < 2 {
			return "", nil, fmt.Errorf("stand-ins for %s are not registered", eksClusterTy)
		}
		set("kubeconfigJson", fmt.Sprintf(`{"apiVersion":"v1","kind":"Config","clusters":[{"name":"kubernetes","cluster":{"server":"https://EXAMPLE.gr7.us-east-1.eks.amazonaws.com"}}],"users":[{"name":"aws","user":{"exec":{"apiVersion":"client.authentication.k8s.io/v1beta1","command":"aws","args":["eks","get-token","--cluster-name","%s","--output","json"]}}}]}`, m.cluster))
		outs["eksCluster"] = m.standins["aws:eks/cluster:Cluster"]
		outs["core"] = resource.NewObjectProperty(resource.PropertyMap{
			"oidcProvider": m.standins["aws:iam/openIdConnectProvider:OpenIdConnectProvider"],
		})
		id = ""
	}

	if strings.HasPrefix(args.Name, standinMark) {
		return id, outs, nil
	}

	rec := &record{
		Type: args.TypeToken, Name: args.Name, Parent: rpc.GetParent(),
		Inputs: args.Inputs, Dependencies: slices.Clone(rpc.GetDependencies()),
		PropertyDeps: map[string][]string{}, Custom: rpc.GetCustom(), Remote: rpc.GetRemote(),
		Protect: rpc.GetProtect(), IgnoreChanges: rpc.GetIgnoreChanges(),
		SecretOutputs: rpc.GetAdditionalSecretOutputs(), RetainOnDelete: rpc.GetRetainOnDelete(),
		DeletedWith: rpc.GetDeletedWith(), ReplaceOnChanges: rpc.GetReplaceOnChanges(),
		DeleteBeforeRepl: rpc.GetDeleteBeforeReplace(), ProviderReference: rpc.GetProvider(),
	}
	rec.Provider = rpc.GetProvider()
	if ct := rpc.GetCustomTimeouts(); ct != nil {
		rec.DeleteTimeout = ct.GetDelete()
	}
	for k, d := range rpc.GetPropertyDependencies() {
		rec.PropertyDeps[k] = d.GetUrns()
	}
	m.mu.Lock()
	rec.URN = mockURN(m.stack, rec.Parent, rec.Type, rec.Name)
	m.records = append(m.records, rec)
	m.mu.Unlock()
	return id, outs, nil
}

// --- configuration from the real files -------------------------------------------------------------------

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "Pulumi.yaml"))
	require.NoError(t, err, "tests run from the tests/ folder of the repository")
	return dir
}

func loadProject(t testing.TB) *workspace.Project {
	t.Helper()
	proj, err := workspace.LoadProject(filepath.Join(repoRoot(t), "Pulumi.yaml"))
	require.NoError(t, err)
	return proj
}

// stackConfig is the configuration the Pulumi CLI would hand the program for a stack: the project's declared
// defaults, overlaid by the stack file, plus test values for the secrets a user sets on the command line.
type stackConfig struct {
	values  map[string]string // full keys (project:key) to the string form the engine passes
	secrets []string          // full keys that are secret
}

func (c stackConfig) clone() stackConfig {
	v := map[string]string{}
	for k, s := range c.values {
		v[k] = s
	}
	return stackConfig{values: v, secrets: slices.Clone(c.secrets)}
}

// set overrides a project key; Go values are encoded as the engine encodes them (lists as JSON).
func (c stackConfig) set(key string, value any) {
	full := projectName + ":" + key
	switch v := value.(type) {
	case nil:
		delete(c.values, full)
	case string:
		c.values[full] = v
	case int, bool:
		c.values[full] = fmt.Sprint(v)
	default:
		b, _ := json.Marshal(v)
		c.values[full] = string(b)
	}
}

func (c stackConfig) get(key string) string { return c.values[projectName+":"+key] }

func loadStackConfig(t testing.TB, stack string) stackConfig {
	t.Helper()
	proj := loadProject(t)
	ps, err := workspace.LoadProjectStack(nil, proj, filepath.Join(repoRoot(t), "Pulumi."+stack+".yaml"))
	require.NoError(t, err)

	cfg := stackConfig{values: map[string]string{}}
	for key, decl := range proj.Config {
		if decl.Default == nil || strings.Contains(key, ":") {
			continue
		}
		switch d := decl.Default.(type) {
		case string:
			cfg.values[projectName+":"+key] = d
		case []any:
			b, err := json.Marshal(d)
			require.NoError(t, err)
			cfg.values[projectName+":"+key] = string(b)
		default:
			cfg.values[projectName+":"+key] = fmt.Sprint(d)
		}
	}
	for k, v := range ps.Config {
		full := k.Namespace() + ":" + k.Name()
		if v.Secure() {
			cfg.values[full] = "test-secret-for-" + k.Name()
			cfg.secrets = append(cfg.secrets, full)
			continue
		}
		s, err := v.Value(config.NewPanicCrypter())
		require.NoError(t, err, full)
		cfg.values[full] = s
	}
	if _, ok := cfg.values[projectName+":apiKey"]; !ok {
		cfg.values[projectName+":apiKey"] = testAPIKey
		cfg.secrets = append(cfg.secrets, projectName+":apiKey")
	}
	return cfg
}

// --- running the program ---------------------------------------------------------------------------------

// run is the outcome of one program run under the recorder.
type run struct {
	t       testing.TB
	stack   string
	err     error
	records []*record
	invokes []string
	outputs map[string]internals.UnsafeAwaitOutputResult
}

// runStack runs stacks.Build (what stacks.Run runs before exporting) with the stack's configuration and
// resolves every stack output.
func runStack(t testing.TB, stack string, cfg stackConfig) *run {
	t.Helper()
	return runStackWith(t, stack, cfg, nil)
}

// runStackWith is runStack with a changed mock engine.
func runStackWith(t testing.TB, stack string, cfg stackConfig, change func(*recorder)) *run {
	t.Helper()
	m := newRecorder(stack)
	if change != nil {
		change(m)
	}
	r := &run{t: t, stack: stack, outputs: map[string]internals.UnsafeAwaitOutputResult{}}
	r.err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := registerStandins(ctx, m); err != nil {
			return err
		}
		p, err := stacks.Build(ctx)
		if err != nil {
			return err
		}
		for name, out := range p.Outputs() {
			res, err := internals.UnsafeAwaitOutput(ctx.Context(), out)
			if err != nil {
				return fmt.Errorf("output %s: %w", name, err)
			}
			r.outputs[name] = res
		}
		return nil
	}, pulumi.WithMocks(projectName, stack, m), withConfig(cfg))
	r.records = m.records
	r.invokes = m.invokes
	return r
}

// runProgram runs the real entry point, stacks.Run, exports included.
func runProgram(t testing.TB, stack string, cfg stackConfig) error {
	t.Helper()
	m := newRecorder(stack)
	return pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := registerStandins(ctx, m); err != nil {
			return err
		}
		return stacks.Run(ctx)
	}, pulumi.WithMocks(projectName, stack, m), withConfig(cfg))
}

func withConfig(cfg stackConfig) pulumi.RunOption {
	return func(info *pulumi.RunInfo) {
		info.Config = cfg.values
		info.ConfigSecretKeys = cfg.secrets
	}
}

// registerStandins registers the resources that pulumi-eks's remote Cluster component returns references to
// (its eksCluster and core.oidcProvider outputs). References must name URNs the mock engine has seen.
func registerStandins(ctx *pulumi.Context, m *recorder) error {
	ec, err := awseks.NewCluster(ctx, standinMark+"eks-cluster", &awseks.ClusterArgs{
		RoleArn:   pulumi.String("arn:aws:iam::" + testAccount + ":role/standin"),
		VpcConfig: &awseks.ClusterVpcConfigArgs{SubnetIds: pulumi.StringArray{pulumi.String("subnet-standin")}},
	})
	if err != nil {
		return err
	}
	oidc, err := iam.NewOpenIdConnectProvider(ctx, standinMark+"cluster-oidc", &iam.OpenIdConnectProviderArgs{
		Url:           pulumi.String("https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"),
		ClientIdLists: pulumi.StringArray{pulumi.String("sts.amazonaws.com")},
	})
	if err != nil {
		return err
	}
	for typ, res := range map[string]pulumi.CustomResource{"aws:eks/cluster:Cluster": ec, "aws:iam/openIdConnectProvider:OpenIdConnectProvider": oidc} {
		urn, err := internals.UnsafeAwaitOutput(ctx.Context(), res.URN())
		if err != nil {
			return err
		}
		id, err := internals.UnsafeAwaitOutput(ctx.Context(), res.ID())
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.standins[typ] = resource.MakeCustomResourceReference(resource.URN(urn.Value.(pulumi.URN)), resource.ID(id.Value.(pulumi.ID)), "")
		m.mu.Unlock()
	}
	return nil
}

// --- querying the graph ----------------------------------------------------------------------------------

func (r *run) ok() *run {
	r.t.Helper()
	require.NoError(r.t, r.err)
	return r
}

func (r *run) all(typ string) []*record {
	var out []*record
	for _, rec := range r.records {
		if rec.Type == typ {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *run) one(typ, name string) *record {
	r.t.Helper()
	for _, rec := range r.records {
		if rec.Type == typ && rec.Name == name {
			return rec
		}
	}
	require.Failf(r.t, "resource not registered", "%s %q in stack %s", typ, name, r.stack)
	return nil
}

func (r *run) single(typ string) *record {
	r.t.Helper()
	all := r.all(typ)
	require.Lenf(r.t, all, 1, "exactly one %s in stack %s", typ, r.stack)
	return all[0]
}

func (r *run) byURN(urn string) *record {
	for _, rec := range r.records {
		if rec.URN == urn {
			return rec
		}
	}
	return nil
}

// dependsOn reports whether a depends on b directly, through an input, or through a component b belongs to.
func (r *run) dependsOn(a, b *record) bool {
	targets := map[string]bool{b.URN: true}
	for p := r.byURN(b.Parent); p != nil; p = r.byURN(p.Parent) {
		targets[p.URN] = true
	}
	urns := slices.Clone(a.Dependencies)
	for _, d := range a.PropertyDeps {
		urns = append(urns, d...)
	}
	for _, u := range urns {
		if targets[u] {
			return true
		}
	}
	return false
}

// dependsOnTransitively follows dependency and provider edges, and a child's edge to its component's
// dependencies.
func (r *run) dependsOnTransitively(a, b *record) bool {
	seen := map[string]bool{}
	var walk func(*record) bool
	walk = func(x *record) bool {
		if x == nil || seen[x.URN] {
			return false
		}
		seen[x.URN] = true
		if x.URN == b.URN {
			return true
		}
		next := slices.Clone(x.Dependencies)
		for _, d := range x.PropertyDeps {
			next = append(next, d...)
		}
		next = append(next, providerURN(x.Provider))
		for _, u := range next {
			if walk(r.byURN(u)) {
				return true
			}
		}
		// Children of a component wait for what their component waits for only if they depend on it; a
		// dependency on a component means waiting for all its children.
		for _, u := range next {
			if c := r.byURN(u); c != nil && !c.Custom {
				for _, child := range r.records {
					if child.Parent == c.URN && walk(child) {
						return true
					}
				}
			}
		}
		return false
	}
	return walk(a)
}

// providerURN strips the ID from a provider reference (URN::ID).
func providerURN(ref string) string {
	if i := strings.LastIndex(ref, "::"); i > 0 {
		return ref[:i]
	}
	return ref
}

func (r *run) children(parent *record) []*record {
	var out []*record
	for _, rec := range r.records {
		if rec.Parent == parent.URN {
			out = append(out, rec)
		}
	}
	return out
}

// jsonInput decodes a JSON document held in a string input.
func jsonInput[T any](t testing.TB, rec *record, key string) T {
	t.Helper()
	var v T
	s := rec.str(key)
	require.NotEmptyf(t, s, "%s %s has no %s", rec.Type, rec.Name, key)
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}

func mustAtoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// trustDoc is an IAM policy document as the program writes it.
type trustDoc = infra.PolicyDocument

func resourcePropertyObject(m resource.PropertyMap) resource.PropertyValue {
	return resource.NewObjectProperty(m)
}
