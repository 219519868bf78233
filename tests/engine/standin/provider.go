// Package standin serves resource providers that stand in for aws, eks and kubernetes, so that the real Pulumi
// CLI and engine can run the program offline. A stand-in is generic: every resource passes its inputs through as
// outputs, plus the outputs the real provider computes (ARNs, names, versions), which a per-type Rules entry
// adds. Rules also list the inputs whose change makes the real provider replace the resource, which is what the
// engine's replace decisions rest on. Remote components (pulumi-eks) are built by a Go function that registers
// the component's children through the engine, as the real provider does.
//
// The engine attaches to a stand-in through PULUMI_DEBUG_PROVIDERS (package:port); nothing is downloaded.
// Every create, update, read and delete is written to a Journal, so tests can assert what the engine did and
// in which order.
package standin

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumiprovider "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Call is what a Rules function sees of one create or update.
type Call struct {
	Type, Name string
	URN        resource.URN
	Inputs     resource.PropertyMap // after Check: autonames filled in
	Olds       resource.PropertyMap // previous outputs on update, nil on create
	// Generation is how many times this cloud created the resource before (a replacement, or a create after a
	// destroy): cloud-assigned IDs differ between generations, name-derived ones do not.
	Generation int
}

// Str is the string input at key, "" if absent or not a known string.
func (c Call) Str(key string) string {
	v := unsecret(c.Inputs[resource.PropertyKey(key)])
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// Rules describe one resource type as the real provider treats it.
type Rules struct {
	// Replace are the inputs (dotted paths) whose change makes the real provider replace the resource: ForceNew
	// in the provider's schema. A replace input that is unknown during a preview counts as changed, as in the
	// real provider.
	Replace []string
	// AutoName is the input the real provider fills from the logical name when the program leaves it out
	// ("name" for most AWS resources). The generated name is kept across updates.
	AutoName string
	// Outputs are what the real provider computes, added to the inputs. During a preview of a create they are
	// unknown, as they are from the real provider.
	Outputs func(c Call) resource.PropertyMap
	// ReplaceFor adds inputs whose change replaces the resource under the provider's configuration (the
	// provider's config variables, such as kubernetes:config:enableSecretMutable).
	ReplaceFor func(config map[string]string, news resource.PropertyMap) []string
	// DeleteBeforeReplace says whether the real provider asks the engine to delete the old resource before it
	// creates its replacement (one name cannot exist twice).
	DeleteBeforeReplace func(olds, news resource.PropertyMap) bool
	// Live adds what the real service sets on the live resource beyond the computed outputs (a Kubernetes
	// object's resourceVersion); preview says whether this is a preview.
	Live func(c Call, outs resource.PropertyMap, preview bool)
	// ID is the resource's ID; default: the autoname, or the logical name with an -id suffix. A create whose ID
	// the cloud already holds fails, as the real API refuses a second resource of one name.
	ID func(c Call) string
}

// Invoke answers one function (data source) call.
type Invoke func(args resource.PropertyMap) (resource.PropertyMap, error)

// Component builds a remote component: it registers the component resource and its children on ctx and
// returns the component's outputs.
type Component func(ctx *pulumi.Context, typ, name string, inputs pulumiprovider.ConstructInputs,
	opts pulumi.ResourceOption) (*pulumiprovider.ConstructResult, error)

// ConfigDiff decides whether a change of a provider's configuration replaces the provider (and so every
// resource it manages). Default: a configuration change updates the provider in place.
type ConfigDiff func(olds, news resource.PropertyMap) (replaces []string)

// Provider is one stand-in provider package.
type Provider struct {
	pulumirpc.UnimplementedResourceProviderServer

	Package string // aws, eks, kubernetes
	Version string // the version the program's SDK asks for
	Types   map[string]Rules
	// Default applies to types not in Types; nil makes an unknown type an error, so that every type is
	// described deliberately.
	Default *Rules
	Invokes map[string]Invoke
	// Scope, if set, names the part of the cloud a provider instance manages, from its configuration: a
	// Kubernetes provider's cluster. The cloud keeps such resources as SCOPE:ID, so two clusters may hold objects
	// of one name.
	Scope func(config map[string]string) string
	// AlreadyExists is the error code the real API answers a create of a name that exists with; default the
	// generic "AlreadyExists".
	AlreadyExists func(typ string) string
	Components    map[string]Component
	ConfigDiff    ConfigDiff
	Journal       *Journal
	// Cloud, if set, keeps what this provider created, as AWS would show it; default none (reads echo the state).
	Cloud *Cloud

	mu         sync.Mutex
	engineAddr string
	// configs are the config variables of each provider instance the engine configured, by connection: the
	// engine dials a stand-in once per provider resource.
	configs map[string]map[string]string
}

var _ pulumirpc.ResourceProviderServer = (*Provider)(nil)

// Serve starts the provider on a free loopback port and returns the port; it stops when ctx is done.
func (p *Provider) Serve(ctx context.Context) (int, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(1 << 28))
	pulumirpc.RegisterResourceProviderServer(srv, p)
	go func() { _ = srv.Serve(lis) }()
	go func() { <-ctx.Done(); srv.Stop() }()
	return lis.Addr().(*net.TCPAddr).Port, nil
}

var marshal = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, KeepByteString: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, marshal)
}

func unsecret(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// --- handshake and configuration ---------------------------------------------------------------------------

func (p *Provider) Handshake(_ context.Context, req *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	p.mu.Lock()
	p.engineAddr = req.GetEngineAddress()
	p.mu.Unlock()
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *Provider) Attach(_ context.Context, req *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	p.mu.Lock()
	p.engineAddr = req.GetAddress()
	p.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (p *Provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.Version}, nil
}

func (p *Provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: fmt.Sprintf(`{"name":%q,"version":%q}`, p.Package, p.Version)}, nil
}

func (p *Provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *Provider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	changed := changedKeys(olds, news, nil)
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	var replaces []string
	if p.ConfigDiff != nil {
		replaces = p.ConfigDiff(olds, news)
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: changed, Replaces: replaces}, nil
}

func (p *Provider) Configure(ctx context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	p.mu.Lock()
	if p.configs == nil {
		p.configs = map[string]map[string]string{}
	}
	p.configs[connection(ctx)] = req.GetVariables()
	p.mu.Unlock()
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, AcceptResources: true, SupportsPreview: true}, nil
}

// config is the configuration of the provider instance a request comes from.
func (p *Provider) config(ctx context.Context) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.configs[connection(ctx)]
}

// connection names the client connection of a request.
func connection(ctx context.Context) string {
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		return pr.Addr.String()
	}
	return ""
}

func (p *Provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// --- resources ------------------------------------------------------------------------------------------------

func (p *Provider) rules(typ string) Rules {
	if r, ok := p.Types[typ]; ok {
		return r
	}
	if p.Default != nil {
		return *p.Default
	}
	return Rules{}
}

func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if _, known := p.Types[req.GetType()]; !known && p.Default == nil {
		return nil, fmt.Errorf("stand-in %s provider: no rules for %s: describe it in the stand-in deliberately", p.Package, req.GetType())
	}
	rules := p.rules(req.GetType())
	if rules.AutoName == "" {
		return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	key := resource.PropertyKey(rules.AutoName)
	if _, set := news[key]; !set {
		olds, err := unmarshal(req.GetOlds())
		if err != nil {
			return nil, err
		}
		if old, ok := olds[key]; ok && !old.IsNull() {
			news[key] = old // the real providers keep a generated name across updates
		} else {
			news[key] = resource.NewStringProperty(autoName(req.GetName(), req.GetRandomSeed()))
		}
	}
	inputs, err := plugin.MarshalProperties(news, marshal)
	return &pulumirpc.CheckResponse{Inputs: inputs}, err
}

// autoName is what Pulumi's autonaming makes of a logical name: the name, a dash and seven random characters,
// here derived from the engine's per-resource seed so that a preview and the update agree.
func autoName(name string, seed []byte) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	suffix := make([]byte, 7)
	for i := range suffix {
		var b byte
		if i < len(seed) {
			b = seed[i]
		}
		suffix[i] = alphabet[int(b)%len(alphabet)]
	}
	return name + "-" + string(suffix)
}

func (p *Provider) Diff(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if req.GetOldInputs() == nil {
		if olds, err = unmarshal(req.GetOlds()); err != nil {
			return nil, err
		}
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	rules := p.rules(req.GetType())
	changed := changedKeys(olds, news, req.GetIgnoreChanges())
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}, nil
	}
	resp := &pulumirpc.DiffResponse{
		Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: changed, HasDetailedDiff: true,
		DetailedDiff: map[string]*pulumirpc.PropertyDiff{},
	}
	replace := rules.Replace
	if rules.ReplaceFor != nil {
		replace = append(slices.Clone(replace), rules.ReplaceFor(p.config(ctx), news)...)
	}
	for _, path := range replace {
		if !valueAt(olds, path).DeepEquals(valueAt(news, path)) || valueAt(news, path).ContainsUnknowns() {
			top, _, _ := strings.Cut(path, ".")
			if !slices.Contains(resp.Replaces, top) {
				resp.Replaces = append(resp.Replaces, top)
			}
		}
	}
	if len(resp.Replaces) > 0 && rules.DeleteBeforeReplace != nil {
		resp.DeleteBeforeReplace = rules.DeleteBeforeReplace(olds, news)
	}
	for _, k := range changed {
		kind := pulumirpc.PropertyDiff_UPDATE
		if slices.Contains(resp.Replaces, k) {
			kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
		}
		if _, had := olds[resource.PropertyKey(k)]; !had {
			kind = pulumirpc.PropertyDiff_ADD
			if slices.Contains(resp.Replaces, k) {
				kind = pulumirpc.PropertyDiff_ADD_REPLACE
			}
		}
		resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return resp, nil
}

// changedKeys are the top-level keys whose values differ (secrets compared by value), sorted.
func changedKeys(olds, news resource.PropertyMap, ignore []string) []string {
	var out []string
	for _, k := range unionKeys(olds, news) {
		if slices.Contains(ignore, string(k)) {
			continue
		}
		o, n := unsecretDeep(olds[k]), unsecretDeep(news[k])
		if o.IsNull() && n.IsNull() {
			continue
		}
		if !o.DeepEquals(n) || n.ContainsUnknowns() {
			out = append(out, string(k))
		}
	}
	return out
}

func unionKeys(a, b resource.PropertyMap) []resource.PropertyKey {
	seen := map[resource.PropertyKey]bool{}
	var out []resource.PropertyKey
	for _, m := range []resource.PropertyMap{a, b} {
		for k := range m {
			if !seen[k] && !strings.HasPrefix(string(k), "__") {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func unsecretDeep(v resource.PropertyValue) resource.PropertyValue {
	v = unsecret(v)
	switch {
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			m[k] = unsecretDeep(e)
		}
		return resource.NewObjectProperty(m)
	case v.IsArray():
		var a []resource.PropertyValue
		for _, e := range v.ArrayValue() {
			a = append(a, unsecretDeep(e))
		}
		return resource.NewArrayProperty(a)
	}
	return v
}

func valueAt(m resource.PropertyMap, path string) resource.PropertyValue {
	v := resource.NewObjectProperty(m)
	for _, k := range strings.Split(path, ".") {
		v = unsecret(v)
		if !v.IsObject() {
			return resource.NewNullProperty()
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	return unsecretDeep(v)
}

func (p *Provider) outputs(c Call, preview bool) resource.PropertyMap {
	outs := c.Inputs.Copy()
	rules := p.rules(c.Type)
	if rules.Live != nil {
		rules.Live(c, outs, preview)
	}
	if rules.Outputs == nil {
		return outs
	}
	for k, v := range rules.Outputs(c) {
		if _, isInput := c.Inputs[k]; isInput {
			continue
		}
		if preview && c.Olds == nil {
			v = resource.MakeComputed(resource.NewStringProperty(""))
		} else if old, ok := c.Olds[k]; ok && !old.IsNull() && !preview {
			v = old // computed once, at creation
		}
		outs[k] = v
	}
	return outs
}

// key is where the cloud keeps a resource of this provider instance.
func (p *Provider) key(ctx context.Context, id string) string {
	if p.Scope == nil || id == "" {
		return id
	}
	return p.Scope(p.config(ctx)) + ":" + id
}

func (p *Provider) alreadyExists(typ string) string {
	if p.AlreadyExists != nil {
		return p.AlreadyExists(typ)
	}
	return "AlreadyExists"
}

func (p *Provider) id(c Call) string {
	rules := p.rules(c.Type)
	if rules.ID != nil {
		return rules.ID(c)
	}
	if rules.AutoName != "" {
		if s := c.Str(rules.AutoName); s != "" {
			return s
		}
	}
	return c.Name + "-id"
}

func (p *Provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	c := Call{Type: req.GetType(), Name: req.GetName(), URN: resource.URN(req.GetUrn()), Inputs: inputs}
	outs := p.outputs(c, req.GetPreview())
	id := ""
	if !req.GetPreview() {
		c.Generation = p.Cloud.generation(c.URN)
		id = p.id(c)
		if err := p.Cloud.takeFailure(c.Name); err != nil {
			p.Journal.record(OpFailedCreate, c.URN, "")
			return nil, err
		}
		if _, exists := p.Cloud.get(c.Type, p.key(ctx, id)); exists {
			p.Journal.record(OpFailedCreate, c.URN, "")
			return nil, fmt.Errorf("creating %s (%s): %s", c.Type, id, p.alreadyExists(c.Type))
		}
		p.Journal.record(OpCreate, c.URN, id)
		p.Cloud.put(c.Type, p.key(ctx, id), inputs, outs)
	}
	props, err := plugin.MarshalProperties(outs, marshal)
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, err
}

func (p *Provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	c := Call{Type: req.GetType(), Name: req.GetName(), URN: resource.URN(req.GetUrn()), Inputs: news, Olds: olds}
	outs := p.outputs(c, req.GetPreview())
	if !req.GetPreview() {
		p.Journal.record(OpUpdate, c.URN, req.GetId())
		p.Cloud.put(c.Type, p.key(ctx, req.GetId()), news, outs)
	}
	props, err := plugin.MarshalProperties(outs, marshal)
	return &pulumirpc.UpdateResponse{Properties: props}, err
}

// Read is what a refresh or an import sees: the resource as the cloud holds it, changes made outside Pulumi
// included, with the inputs that describe it (as terraform-provider-aws's read and pulumi-kubernetes' read of the
// live object do); no ID when it is gone. A provider without a cloud echoes the state.
func (p *Provider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	p.Journal.record(OpRead, resource.URN(req.GetUrn()), req.GetId())
	if p.Cloud == nil {
		return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
	}
	typ := string(resource.URN(req.GetUrn()).Type())
	r, ok := p.Cloud.get(typ, p.key(ctx, req.GetId()))
	if !ok {
		return &pulumirpc.ReadResponse{}, nil
	}
	props, err := plugin.MarshalProperties(r.outputs, marshal)
	if err != nil {
		return nil, err
	}
	inputs, err := plugin.MarshalProperties(r.inputs, marshal)
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: props, Inputs: inputs}, err
}

func (p *Provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	p.Journal.record(OpDelete, resource.URN(req.GetUrn()), req.GetId())
	p.Cloud.remove(req.GetType(), p.key(ctx, req.GetId()))
	return &emptypb.Empty{}, nil
}

// --- functions and components --------------------------------------------------------------------------------

func (p *Provider) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	f, ok := p.Invokes[req.GetTok()]
	if !ok {
		return nil, fmt.Errorf("stand-in %s provider: unknown function %s: add it to the stand-in deliberately", p.Package, req.GetTok())
	}
	args, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	out, err := f(args)
	if err != nil {
		return &pulumirpc.InvokeResponse{Failures: []*pulumirpc.CheckFailure{{Reason: err.Error()}}}, nil
	}
	ret, err := plugin.MarshalProperties(out, marshal)
	return &pulumirpc.InvokeResponse{Return: ret}, err
}

func (p *Provider) Construct(ctx context.Context, req *pulumirpc.ConstructRequest) (*pulumirpc.ConstructResponse, error) {
	build, ok := p.Components[req.GetType()]
	if !ok {
		return nil, fmt.Errorf("stand-in %s provider: unknown component %s", p.Package, req.GetType())
	}
	p.mu.Lock()
	addr := p.engineAddr
	p.mu.Unlock()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("stand-in %s provider: dial engine: %w", p.Package, err)
	}
	defer conn.Close()
	return pulumiprovider.Construct(ctx, req, conn, pulumiprovider.ConstructFunc(build))
}
