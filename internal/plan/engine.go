// Package plan runs the program offline: under a recording mock of the Pulumi engine, with a stack's real
// configuration, and no AWS account, backend or network. The tests assert on what it records, the plan
// command prints it, and the plan snapshots are rendered from it.
package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Fixed answers of the offline engine. Fake values are deterministic so that plans can be compared.
const (
	Account = "123456789012"
	Region  = "us-east-1"
	// StandinPrefix marks resources the engine registers for itself; they are not part of the plan.
	StandinPrefix = "standin-"
	// EKSClusterType is pulumi-eks's remote Cluster component.
	EKSClusterType = "eks:index:Cluster"
)

// EKSClusterChildren counts the resources pulumi-eks v2.8.1's remote Cluster registers inside itself in this
// program's configuration (nodejs/eks/cluster.ts and securitygroup.ts at v2.8.1), which EKSClusterChildrenText
// names. The offline engine cannot see them: a remote component's children are registered by its provider.
const (
	EKSClusterChildren     = 13
	EKSClusterChildrenText = "the EKS cluster, its OIDC provider, the nodes' access entry, 2 security groups with 6 rules, 2 Kubernetes providers"
)

// AddonVersion is what getAddonVersion answers offline: a placeholder naming the add-on and Kubernetes version it
// was resolved for (AWS answers the newest version it publishes for them, such as v1.20.1-eksbuild.1).
func AddonVersion(addon, kubernetesVersion string) string {
	return "<newest " + addon + " for " + kubernetesVersion + ">"
}

// stateKey identifies a resource by its qualified type and name, whatever stack and project its URN names (a
// provider test's monitor names its own).
func stateKey(urn string) string {
	u := resource.URN(urn)
	return string(u.QualifiedType()) + "::" + u.Name()
}

// registered is a resource's ID and outputs as the engine answered them.
type registered struct {
	id    string
	state resource.PropertyMap
}

// Zones is what getAvailabilityZones answers by default.
var Zones = []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"}

// Resource is one registration as the engine saw it.
type Resource struct {
	Type, Name, URN     string
	Parent              string // URN of the parent, "" for the stack itself
	Provider            string // provider reference (URN::ID); "" for the default provider
	Inputs              resource.PropertyMap
	Dependencies        []string // URNs from dependsOn
	PropertyDeps        map[string][]string
	Custom, Remote      bool
	Protect             bool
	IgnoreChanges       []string
	SecretOutputs       []string
	ReplaceOnChanges    []string
	DeleteTimeout       string
	UpdateTimeout       string
	RetainOnDelete      bool
	DeletedWith         string
	DeleteBeforeReplace bool
	ImportID            string // the import option: an existing resource adopted
}

// Engine is the mock engine. It records every registration, fakes the outputs the program reads, and fails on
// any invoke it does not know.
type Engine struct {
	mu         sync.Mutex
	project    string
	stack      string
	resources  []*Resource
	invokes    []string
	invokeArgs map[string]resource.PropertyMap
	standins   map[string]resource.PropertyValue // resource type -> reference to its stand-in
	states     map[string]registered             // stateKey -> what NewResource answered, for getResource
	// Zones is what getAvailabilityZones answers.
	Zones []string
	// Roles are the ARNs of the account's roles that getRoles answers (default none: an account of its own).
	Roles []string
	// Nodes is the stack's nodegroup as it runs, which the nodegroup lookups answer; default nil: the cluster
	// does not exist yet (a first `up`).
	Nodes *LiveNodeGroup
	// ClusterVersion is the Kubernetes version the stack's cluster runs, which getCluster answers; default "": no
	// cluster (with Nodes set, a cluster whose version is not known to the test).
	ClusterVersion string
	// CNIPodIdentityRole is the role of the running vpc-cni add-on's Pod Identity association for aws-node, which
	// getAddon answers; default "": none (the node role).
	CNIPodIdentityRole string
	// CNIPodIdentityServiceAccount is that association's ServiceAccount; default aws-node.
	CNIPodIdentityServiceAccount string
	// OIDCProviders are the account's existing OIDC providers, which getOpenIdConnectProvider finds: issuer URL
	// (https://...) to the value of their platform/owner tag ("" for none); default none.
	OIDCProviders map[string]string
}

// LiveNodeGroup is a running nodegroup: its name and scaling.
type LiveNodeGroup struct {
	Name              string
	Desired, Min, Max int
}

// NewEngine makes an engine for one stack.
func NewEngine(project, stack string) *Engine {
	return &Engine{project: project, stack: stack, standins: map[string]resource.PropertyValue{}, states: map[string]registered{}, Zones: Zones}
}

func (e *Engine) clusterName() string { return e.project + "-" + e.stack }

// URN is the URN the mock engine gives a registration.
func (e *Engine) URN(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(e.stack), tokens.PackageName(e.project), parentType, tokens.Type(typ), name))
}

// Call answers the invokes the program makes.
func (e *Engine) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	e.mu.Lock()
	e.invokes = append(e.invokes, args.Token)
	if e.invokeArgs == nil {
		e.invokeArgs = map[string]resource.PropertyMap{}
	}
	e.invokeArgs[args.Token] = args.Args
	e.mu.Unlock()
	switch args.Token {
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return resource.NewPropertyMapFromMap(map[string]any{"names": e.Zones, "zoneIds": e.Zones, "id": Region}), nil
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(map[string]any{"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{"name": Region, "id": Region, "description": "US East (N. Virginia)"}), nil
	case "aws:iam/getRoles:getRoles":
		var arns []any
		prefix := ""
		if p, ok := args.Args["pathPrefix"]; ok && p.IsString() {
			prefix = p.StringValue()
		}
		for _, arn := range e.Roles {
			if strings.Contains(arn, ":role"+prefix) {
				arns = append(arns, arn)
			}
		}
		return resource.NewPropertyMapFromMap(map[string]any{"arns": arns, "names": []any{}, "id": Region}), nil
	case "aws:eks/getAddonVersion:getAddonVersion":
		addon, version := args.Args["addonName"], args.Args["kubernetesVersion"]
		if !addon.IsString() || !version.IsString() {
			return nil, fmt.Errorf("getAddonVersion needs addonName and kubernetesVersion, got %v", args.Args)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"addonName": addon.StringValue(), "kubernetesVersion": version.StringValue(),
			"version": AddonVersion(addon.StringValue(), version.StringValue()), "id": addon.StringValue(),
		}), nil
	case "aws:eks/getAddon:getAddon":
		// terraform-provider-aws v5 (eks/addon_data_source.go): the add-on as EKS describes it, with its Pod
		// Identity associations as (roleArn, serviceAccount).
		if e.Nodes == nil && e.ClusterVersion == "" {
			return nil, fmt.Errorf("reading EKS Add-On (%v): couldn't find resource", args.Args["addonName"])
		}
		associations := []any{}
		if args.Args["addonName"].StringValue() == "vpc-cni" && e.CNIPodIdentityRole != "" {
			account := e.CNIPodIdentityServiceAccount
			if account == "" {
				account = "aws-node"
			}
			associations = append(associations, map[string]any{"roleArn": e.CNIPodIdentityRole, "serviceAccount": account})
		}
		return resource.NewPropertyMapFromMap(map[string]any{"addonName": args.Args["addonName"].StringValue(),
			"clusterName": args.Args["clusterName"].StringValue(), "podIdentityAssociations": associations,
			"id": args.Args["clusterName"].StringValue() + ":" + args.Args["addonName"].StringValue()}), nil
	case "aws:eks/getClusters:getClusters":
		names := []any{}
		if e.Nodes != nil || e.ClusterVersion != "" {
			names = append(names, e.clusterName())
		}
		return resource.NewPropertyMapFromMap(map[string]any{"names": names, "id": Region}), nil
	case "aws:eks/getCluster:getCluster":
		if args.Args["name"].StringValue() != e.clusterName() || (e.Nodes == nil && e.ClusterVersion == "") {
			return nil, fmt.Errorf("reading EKS Cluster (%v): couldn't find resource", args.Args["name"])
		}
		version := e.ClusterVersion
		if version == "" {
			version = "(unknown)"
		}
		return resource.NewPropertyMapFromMap(map[string]any{"name": e.clusterName(), "id": e.clusterName(), "version": version}), nil
	case "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider":
		url := args.Args["url"].StringValue()
		owner, ok := e.OIDCProviders[url]
		if !ok {
			return nil, fmt.Errorf("finding IAM OIDC Provider by url (%s): not found", strings.TrimPrefix(url, "https://"))
		}
		arn := "arn:aws:iam::" + Account + ":oidc-provider/" + strings.TrimPrefix(url, "https://")
		tags := map[string]any{}
		if owner != "" {
			tags["platform/owner"] = owner
		}
		return resource.NewPropertyMapFromMap(map[string]any{"arn": arn, "id": arn, "url": url, "tags": tags}), nil
	case "aws:eks/getNodeGroups:getNodeGroups":
		if (e.Nodes == nil && e.ClusterVersion == "") || args.Args["clusterName"].StringValue() != e.clusterName() {
			return nil, fmt.Errorf("getNodeGroups: no cluster %v", args.Args["clusterName"])
		}
		names := []any{}
		if e.Nodes != nil {
			names = append(names, e.Nodes.Name)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"clusterName": e.clusterName(), "names": names,
			"id": e.clusterName()}), nil
	case "aws:eks/getNodeGroup:getNodeGroup":
		if e.Nodes == nil || args.Args["nodeGroupName"].StringValue() != e.Nodes.Name {
			return nil, fmt.Errorf("getNodeGroup: no nodegroup %v", args.Args["nodeGroupName"])
		}
		return resource.NewPropertyMapFromMap(map[string]any{"clusterName": e.clusterName(), "nodeGroupName": e.Nodes.Name,
			"id": e.clusterName() + ":" + e.Nodes.Name, "scalingConfigs": []any{map[string]any{
				"desiredSize": e.Nodes.Desired, "minSize": e.Nodes.Min, "maxSize": e.Nodes.Max}}}), nil
	case "pulumi:pulumi:getResource":
		// A resource reference read back (as a provider's Construct does): what NewResource answered for it.
		urn := args.Args["urn"].StringValue()
		e.mu.Lock()
		r, ok := e.states[stateKey(urn)]
		e.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("getResource: unknown resource %s", urn)
		}
		return resource.PropertyMap{"urn": resource.NewStringProperty(urn), "id": resource.NewStringProperty(r.id),
			"state": resource.NewObjectProperty(r.state)}, nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": Account, "arn": "arn:aws:sts::" + Account + ":assumed-role/admin/laptop",
			"userId": "AROAEXAMPLE:laptop", "id": Account,
		}), nil
	}
	return nil, fmt.Errorf("unmocked invoke %s: add it to the offline engine deliberately", args.Token)
}

// NewResource records a registration and returns the outputs the program reads.
func (e *Engine) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rpc := args.RegisterRPC
	if rpc == nil {
		return "", nil, fmt.Errorf("unexpected read of %s %s", args.TypeToken, args.Name)
	}
	outs := args.Inputs.Copy()
	id := args.Name + "-id"
	set := func(k string, v any) { outs[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	physical := args.Name + "-1a2b3c4" // what autonaming would make of the logical name

	switch args.TypeToken {
	case "aws:iam/role:Role", "aws:iam/policy:Policy":
		path := "/"
		if p, ok := args.Inputs["path"]; ok && p.IsString() {
			path = p.StringValue()
		}
		kind := "role"
		if args.TypeToken == "aws:iam/policy:Policy" {
			kind = "policy"
		}
		set("name", physical)
		set("arn", "arn:aws:iam::"+Account+":"+kind+path+physical)
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		set("arn", "arn:aws:iam::"+Account+":oidc-provider/"+strings.TrimPrefix(args.Inputs["url"].StringValue(), "https://"))
	case "aws:kms/key:Key":
		set("arn", "arn:aws:kms:"+Region+":"+Account+":key/"+physical)
	case "aws:ecr/repository:Repository":
		name := args.Inputs["name"].StringValue()
		set("arn", "arn:aws:ecr:"+Region+":"+Account+":repository/"+name)
		set("repositoryUrl", Account+".dkr.ecr."+Region+".amazonaws.com/"+name)
	case "aws:cloudwatch/logGroup:LogGroup":
		if _, ok := args.Inputs["name"]; !ok {
			set("name", physical)
		}
		set("arn", "arn:aws:logs:"+Region+":"+Account+":log-group:"+outs["name"].StringValue())
	case "aws:ec2/launchTemplate:LaunchTemplate":
		set("latestVersion", 1)
	case "kubernetes:core/v1:Secret":
		// The API server's version of the stored object, which the Application's pod annotation follows.
		meta := resource.PropertyMap{}
		if m, ok := outs["metadata"]; ok && m.IsObject() {
			meta = m.ObjectValue().Copy()
		}
		meta["resourceVersion"] = resource.NewStringProperty("resource-version-1")
		outs["metadata"] = resource.NewObjectProperty(meta)
	case "aws:eks/nodeGroup:NodeGroup":
		set("nodeGroupName", physical)
	case "aws:eks/cluster:Cluster": // the stand-in behind the pulumi-eks component's eksCluster output
		set("name", e.clusterName())
		set("arn", "arn:aws:eks:"+Region+":"+Account+":cluster/"+e.clusterName())
		set("endpoint", "https://EXAMPLE.gr7."+Region+".eks.amazonaws.com")
		set("identities", []any{map[string]any{"oidcs": []any{map[string]any{"issuer": "https://oidc.eks." + Region + ".amazonaws.com/id/EXAMPLE"}}}})
	case EKSClusterType:
		if len(e.standins) < 2 {
			return "", nil, fmt.Errorf("stand-ins for %s are not registered", EKSClusterType)
		}
		set("kubeconfigJson", fmt.Sprintf(`{"apiVersion":"v1","kind":"Config","clusters":[{"name":"kubernetes","cluster":{"server":"https://EXAMPLE.gr7.%s.eks.amazonaws.com"}}],"users":[{"name":"aws","user":{"exec":{"apiVersion":"client.authentication.k8s.io/v1beta1","command":"aws","args":["eks","get-token","--cluster-name","%s","--output","json"]}}}]}`, Region, e.clusterName()))
		outs["eksCluster"] = e.standins["aws:eks/cluster:Cluster"]
		outs["core"] = resource.NewObjectProperty(resource.PropertyMap{
			"oidcProvider": e.standins["aws:iam/openIdConnectProvider:OpenIdConnectProvider"],
		})
		id = ""
	}

	e.mu.Lock()
	e.states[stateKey(e.URN(rpc.GetParent(), args.TypeToken, args.Name))] = registered{id: id, state: outs}
	e.mu.Unlock()
	if strings.HasPrefix(args.Name, StandinPrefix) {
		return id, outs, nil
	}
	r := &Resource{
		Type: args.TypeToken, Name: args.Name, Parent: rpc.GetParent(), Provider: rpc.GetProvider(),
		Inputs: args.Inputs, Dependencies: slices.Clone(rpc.GetDependencies()),
		PropertyDeps: map[string][]string{}, Custom: rpc.GetCustom(), Remote: rpc.GetRemote(),
		Protect: rpc.GetProtect(), IgnoreChanges: rpc.GetIgnoreChanges(),
		SecretOutputs: rpc.GetAdditionalSecretOutputs(), ReplaceOnChanges: rpc.GetReplaceOnChanges(),
		RetainOnDelete: rpc.GetRetainOnDelete(), DeletedWith: rpc.GetDeletedWith(),
		DeleteBeforeReplace: rpc.GetDeleteBeforeReplace(), ImportID: rpc.GetImportId(),
	}
	if ct := rpc.GetCustomTimeouts(); ct != nil {
		r.DeleteTimeout = ct.GetDelete()
		r.UpdateTimeout = ct.GetUpdate()
	}
	for k, d := range rpc.GetPropertyDependencies() {
		r.PropertyDeps[k] = d.GetUrns()
	}
	r.URN = e.URN(r.Parent, r.Type, r.Name)
	e.mu.Lock()
	e.resources = append(e.resources, r)
	e.mu.Unlock()
	return id, outs, nil
}

// registerStandins registers the resources that pulumi-eks's remote Cluster component returns references to
// (its eksCluster and core.oidcProvider outputs): references must name URNs the engine has seen.
func (e *Engine) registerStandins(ctx *pulumi.Context) error {
	ec, err := awseks.NewCluster(ctx, StandinPrefix+"eks-cluster", &awseks.ClusterArgs{
		RoleArn:   pulumi.String("arn:aws:iam::" + Account + ":role/standin"),
		VpcConfig: &awseks.ClusterVpcConfigArgs{SubnetIds: pulumi.StringArray{pulumi.String("subnet-standin")}},
	})
	if err != nil {
		return err
	}
	oidc, err := iam.NewOpenIdConnectProvider(ctx, StandinPrefix+"cluster-oidc", &iam.OpenIdConnectProviderArgs{
		Url:           pulumi.String("https://oidc.eks." + Region + ".amazonaws.com/id/EXAMPLE"),
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
		e.mu.Lock()
		e.standins[typ] = resource.MakeCustomResourceReference(resource.URN(urn.Value.(pulumi.URN)), resource.ID(id.Value.(pulumi.ID)), "")
		e.mu.Unlock()
	}
	return nil
}

// Output is a resolved stack output.
type Output = internals.UnsafeAwaitOutputResult

// Result is one offline run.
type Result struct {
	Stack     string
	Err       error
	Resources []*Resource // sorted by URN
	Invokes   []string
	// InvokeArgs are the arguments of the last call of each invoke.
	InvokeArgs map[string]resource.PropertyMap
	Outputs    map[string]Output
}

// Build is the program under plan: it registers resources and returns the stack outputs.
type Build func(ctx *pulumi.Context) (map[string]pulumi.Output, error)

// Run runs build for a stack with cfg under a new engine; change, if not nil, adjusts the engine first.
func Run(project, stack string, cfg Config, build Build, change func(*Engine)) *Result {
	e := NewEngine(project, stack)
	if change != nil {
		change(e)
	}
	res := &Result{Stack: stack, Outputs: map[string]Output{}}
	res.Err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := e.registerStandins(ctx); err != nil {
			return err
		}
		outputs, err := build(ctx)
		if err != nil {
			return err
		}
		for name, out := range outputs {
			v, err := internals.UnsafeAwaitOutput(ctx.Context(), out)
			if err != nil {
				return fmt.Errorf("output %s: %w", name, err)
			}
			res.Outputs[name] = v
		}
		return nil
	}, pulumi.WithMocks(project, stack, e), cfg.runOption())
	res.Resources = slices.Clone(e.resources)
	sort.Slice(res.Resources, func(i, j int) bool { return res.Resources[i].URN < res.Resources[j].URN })
	res.Invokes = slices.Clone(e.invokes)
	res.InvokeArgs = e.invokeArgs
	return res
}

// RegisterStandins registers the stand-ins of pulumi-eks's references in a program the engine mocks but did not
// start itself (a component's Construct, which a provider test serves through the engine).
func (e *Engine) RegisterStandins(ctx *pulumi.Context) error { return e.registerStandins(ctx) }

// Recorded is what the engine has recorded so far, as a Result without outputs.
func (e *Engine) Recorded() *Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	res := &Result{Stack: e.stack, Outputs: map[string]Output{}, Resources: slices.Clone(e.resources),
		Invokes: slices.Clone(e.invokes), InvokeArgs: e.invokeArgs}
	sort.Slice(res.Resources, func(i, j int) bool { return res.Resources[i].URN < res.Resources[j].URN })
	return res
}

// RunProgram runs a whole Pulumi program (such as stacks.Run, exports included) under a new engine.
func RunProgram(project, stack string, cfg Config, program pulumi.RunFunc) error {
	e := NewEngine(project, stack)
	return pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := e.registerStandins(ctx); err != nil {
			return err
		}
		return program(ctx)
	}, pulumi.WithMocks(project, stack, e), cfg.runOption())
}
