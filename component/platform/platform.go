// Package platform is the platform as one Pulumi component, eks-gitops:index:Platform: its arguments are the
// program's configuration contract (Pulumi.yaml), its outputs the program's stack outputs. It builds the same
// resources as the program, through the same code (stacks.BuildFrom), as children of the component.
package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/example/eks-gitops-platform/stacks"
)

// The package and its one component.
const (
	Package = "eks-gitops"
	Version = "0.1.0"
	Token   = Package + ":index:Platform"
)

// Statement is one IAM policy statement of the service's own role (serviceIamStatements).
type Statement struct {
	Sid       *string                        `pulumi:"sid,optional"`
	Effect    string                         `pulumi:"effect"`
	Action    []string                       `pulumi:"action"`
	Resource  []string                       `pulumi:"resource"`
	Condition map[string]map[string][]string `pulumi:"condition,optional"`
}

// Annotate names the type and documents its fields.
func (s *Statement) Annotate(a infer.Annotator) {
	a.SetToken("index", "Statement")
	a.Describe(s, "One IAM policy statement of the service's own role.")
	a.Describe(&s.Sid, "Statement ID: letters and digits.")
	a.Describe(&s.Effect, "Allow or Deny.")
	a.Describe(&s.Action, "IAM actions, such as s3:GetObject; wildcards within a verb (s3:Get*) but never service:*.")
	a.Describe(&s.Resource, "Resource ARNs; \"*\" only for actions that have no resource-level permissions.")
	a.Describe(&s.Condition, "Condition operators to keys to values, such as {StringEquals: {\"aws:SourceVpc\": [\"vpc-1\"]}}.")
}

// Args are the configuration contract of Pulumi.yaml, one argument per key, under the same names. Each is
// plain (known when the component is constructed, so that it can be validated before anything exists) but for
// the two secrets, which stay secret. Unset arguments take the program's defaults.
type Args struct {
	VPCCIDR                   *string     `pulumi:"vpcCidr,optional"`
	AZCount                   *int        `pulumi:"azCount,optional"`
	NATGateways               *string     `pulumi:"natGateways,optional"`
	LogRetentionDays          *int        `pulumi:"logRetentionDays,optional"`
	KubernetesVersion         *string     `pulumi:"kubernetesVersion,optional"`
	EndpointPublicAccessCIDRs []string    `pulumi:"endpointPublicAccessCidrs,optional"`
	ClusterAdminARNs          []string    `pulumi:"clusterAdminArns,optional"`
	NodeInstanceTypes         []string    `pulumi:"nodeInstanceTypes,optional"`
	NodeCapacityType          *string     `pulumi:"nodeCapacityType,optional"`
	NodeMinSize               *int        `pulumi:"nodeMinSize,optional"`
	NodeDesiredSize           *int        `pulumi:"nodeDesiredSize,optional"`
	NodeMaxSize               *int        `pulumi:"nodeMaxSize,optional"`
	NodeDiskSizeGiB           *int        `pulumi:"nodeDiskSizeGiB,optional"`
	ServiceName               *string     `pulumi:"serviceName,optional"`
	ECRRepositoryName         *string     `pulumi:"ecrRepositoryName,optional"`
	ImageRetainCount          *int        `pulumi:"imageRetainCount,optional"`
	GitHubRepository          string      `pulumi:"githubRepository"`
	GitHubAllowedSubjects     []string    `pulumi:"githubAllowedSubjects,optional"`
	GitHubOwnerID             string      `pulumi:"githubOwnerId"`
	GitHubRepositoryID        string      `pulumi:"githubRepositoryId"`
	GitHubNameSubjects        *bool       `pulumi:"githubNameSubjects,optional"`
	GitHubOIDCProviderARN     *string     `pulumi:"githubOidcProviderArn,optional"`
	ArgoCDChartVersion        *string     `pulumi:"argocdChartVersion,optional"`
	ServiceIAMStatements      []Statement `pulumi:"serviceIamStatements,optional"`
	AppRepoURL                string      `pulumi:"appRepoUrl"`
	AppChartPath              *string     `pulumi:"appChartPath,optional"`
	AppTargetRevision         *string     `pulumi:"appTargetRevision,optional"`
	// The secrets: kept secret in the state and in every output built from them.
	AppRepoToken          pulumi.StringInput `pulumi:"appRepoToken,optional" provider:"secret"`
	APIKey                pulumi.StringInput `pulumi:"apiKey" provider:"secret"`
	PulumiOrganization    *string            `pulumi:"pulumiOrganization,optional"`
	DeployWith            *string            `pulumi:"deployWith,optional"`
	PulumiOIDCProviderARN *string            `pulumi:"pulumiOidcProviderArn,optional"`
	InfraRepository       *string            `pulumi:"infraRepository,optional"`
	InfraRepositoryOwner  *string            `pulumi:"infraRepositoryOwnerId,optional"`
	InfraRepositoryID     *string            `pulumi:"infraRepositoryId,optional"`
	Protect               *bool              `pulumi:"protect,optional"`
}

// Annotate documents every argument with its Pulumi.yaml description and default (descriptions_gen.go).
func (a *Args) Annotate(an infer.Annotator) {
	v := reflect.ValueOf(a).Elem()
	for i := 0; i < v.NumField(); i++ {
		key := argKey(v.Type().Field(i))
		field := v.Field(i).Addr().Interface()
		an.Describe(field, argDescriptions[key])
		if def, ok := argDefaults[key]; ok {
			an.SetDefault(field, def)
		}
	}
}

// argKey is a field's configuration key: its pulumi tag's name.
func argKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("pulumi"), ",")
	return name
}

// Platform is the component: the stack outputs of the program, under the same names. Outputs the program
// exports only sometimes (deployRoleArn, previewRoleArn, serviceRoleArn) are "" when absent.
type Platform struct {
	pulumi.ResourceState
	VPCID                  pulumi.StringOutput      `pulumi:"vpcId"`
	PrivateSubnetIDs       pulumi.StringArrayOutput `pulumi:"privateSubnetIds"`
	PublicSubnetIDs        pulumi.StringArrayOutput `pulumi:"publicSubnetIds"`
	ClusterName            pulumi.StringOutput      `pulumi:"clusterName"`
	Kubeconfig             pulumi.StringOutput      `pulumi:"kubeconfig" provider:"secret"`
	ClusterOIDCProviderARN pulumi.StringOutput      `pulumi:"clusterOidcProviderArn"`
	ClusterOIDCProviderURL pulumi.StringOutput      `pulumi:"clusterOidcProviderUrl"`
	NodeRoleARN            pulumi.StringOutput      `pulumi:"nodeRoleArn"`
	NodeGroupName          pulumi.StringOutput      `pulumi:"nodeGroupName"`
	ECRRepositoryURL       pulumi.StringOutput      `pulumi:"ecrRepositoryUrl"`
	GitHubActionsRoleARN   pulumi.StringOutput      `pulumi:"githubActionsRoleArn"`
	GitHubOIDCProviderARN  pulumi.StringOutput      `pulumi:"githubOidcProviderArn"`
	ArgoCDNamespace        pulumi.StringOutput      `pulumi:"argocdNamespace"`
	ServiceNamespace       pulumi.StringOutput      `pulumi:"serviceNamespace"`
	APIPublicAccessCIDRs   pulumi.StringArrayOutput `pulumi:"apiPublicAccessCidrs"`
	AutoscalerRoleARN      pulumi.StringOutput      `pulumi:"autoscalerRoleArn"`
	DeployRoleARN          pulumi.StringOutput      `pulumi:"deployRoleArn"`
	DeployWith             pulumi.StringOutput      `pulumi:"deployWith"`
	PreviewRoleARN         pulumi.StringOutput      `pulumi:"previewRoleArn"`
	ServiceRoleARN         pulumi.StringOutput      `pulumi:"serviceRoleArn"`
}

// Annotate gives the component its token and documents its outputs.
func (c *Platform) Annotate(a infer.Annotator) {
	a.SetToken("index", "Platform")
	a.Describe(&c, "A complete, secure AWS platform for one containerised service: VPC, EKS with a managed nodegroup "+
		"and its autoscaler, ECR, GitHub Actions OIDC push role, Argo CD and the service's Application, least-privilege "+
		"roles. One per stack: its names derive from the project and stack.")
	v := reflect.ValueOf(c).Elem()
	for i := 0; i < v.NumField(); i++ {
		if key := argKey(v.Type().Field(i)); key != "" {
			a.Describe(v.Field(i).Addr().Interface(), outputDescriptions[key])
		}
	}
}

// NewPlatform creates the component and, as its children, every resource of the program.
func NewPlatform(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Platform, error) {
	c := &Platform{}
	if err := ctx.RegisterComponentResource(Token, name, c, opts...); err != nil {
		return nil, err
	}
	built, err := stacks.BuildFrom(ctx, argValues{args}, c)
	if err != nil {
		return nil, err
	}
	outputs := built.Outputs()
	str := func(key string) pulumi.StringOutput {
		if o, ok := outputs[key]; ok {
			return o.(pulumi.StringOutput)
		}
		return pulumi.String("").ToStringOutput()
	}
	list := func(key string) pulumi.StringArrayOutput { return outputs[key].(pulumi.StringArrayOutput) }
	c.VPCID = str(stacks.OutputVPCID)
	c.PrivateSubnetIDs = list(stacks.OutputPrivateSubnetIDs)
	c.PublicSubnetIDs = list(stacks.OutputPublicSubnetIDs)
	c.ClusterName = str(stacks.OutputClusterName)
	c.Kubeconfig = pulumi.ToSecret(str(stacks.OutputKubeconfig)).(pulumi.StringOutput)
	c.ClusterOIDCProviderARN = str(stacks.OutputClusterOIDCProvider)
	c.ClusterOIDCProviderURL = str(stacks.OutputClusterOIDCIssuerURL)
	c.NodeRoleARN = str(stacks.OutputNodeRoleARN)
	c.NodeGroupName = str(stacks.OutputNodeGroupName)
	c.ECRRepositoryURL = str(stacks.OutputECRRepositoryURL)
	c.GitHubActionsRoleARN = str(stacks.OutputGitHubActionsRoleARN)
	c.GitHubOIDCProviderARN = str(stacks.OutputGitHubOIDCProviderARN)
	c.ArgoCDNamespace = str(stacks.OutputArgoCDNamespace)
	c.ServiceNamespace = str(stacks.OutputServiceNamespace)
	c.APIPublicAccessCIDRs = list(stacks.OutputAPIPublicAccessCIDRs)
	c.AutoscalerRoleARN = str(stacks.OutputAutoscalerRoleARN)
	c.DeployRoleARN = str(stacks.OutputDeployRoleARN)
	c.DeployWith = str(stacks.OutputDeployWith)
	c.PreviewRoleARN = str(stacks.OutputPreviewRoleARN)
	c.ServiceRoleARN = str(stacks.OutputServiceRoleARN)
	return c, nil
}

// Provider serves the component.
func Provider() (p.Provider, error) { return ProviderFor(NewPlatform) }

// ProviderFor serves the component with construct, which wraps NewPlatform (a test registers the offline
// engine's stand-ins first).
func ProviderFor(construct func(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Platform, error)) (p.Provider, error) {
	prov, err := infer.NewProviderBuilder().
		WithDisplayName("EKS GitOps platform").
		WithDescription("A complete, secure AWS platform for one containerised service, as one component.").
		WithNamespace("example").
		WithKeywords("aws", "eks", "argocd", "gitops", "kind/component").
		WithComponents(infer.ComponentF(construct)).
		Build()
	if err != nil {
		return prov, err
	}
	inner := prov.GetSchema
	prov.GetSchema = func(ctx context.Context, req p.GetSchemaRequest) (p.GetSchemaResponse, error) {
		resp, err := inner(ctx, req)
		if err != nil {
			return resp, err
		}
		resp.Schema, err = plainArguments(resp.Schema)
		return resp, err
	}
	return prov, nil
}

// plainArguments marks the component's list and object arguments plain, as infer marks its scalar ones: every
// argument is read (and validated) when the component is constructed, so an SDK must not accept an output there.
func plainArguments(raw string) (string, error) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return "", err
	}
	resources, _ := doc["resources"].(map[string]any)
	component, _ := resources[Token].(map[string]any)
	inputs, _ := component["inputProperties"].(map[string]any)
	types, _ := doc["types"].(map[string]any)
	for _, v := range inputs {
		prop, _ := v.(map[string]any)
		if secret, _ := prop["secret"].(bool); !secret { // a secret stays an input: it may come from a secret output
			markPlain(prop, types)
		}
	}
	b, err := json.Marshal(doc)
	return string(b), err
}

// markPlain marks a type spec plain, with its items, values and the properties of the object types it names.
func markPlain(spec map[string]any, types map[string]any) {
	spec["plain"] = true
	for _, nested := range []string{"items", "additionalProperties"} {
		if n, ok := spec[nested].(map[string]any); ok {
			markPlain(n, types)
		}
	}
	if ref, ok := spec["$ref"].(string); ok {
		if object, ok := types[strings.TrimPrefix(ref, "#/types/")].(map[string]any); ok {
			properties, _ := object["properties"].(map[string]any)
			for _, p := range properties {
				if prop, ok := p.(map[string]any); ok && prop["plain"] != true {
					markPlain(prop, types)
				}
			}
		}
	}
}

// argValues are a component's arguments as the program's configuration values: the same keys, lists and objects
// as JSON, so that stacks validates and defaults them exactly as it does a stack's configuration.
type argValues struct{ args Args }

func (v argValues) field(key string) (reflect.Value, bool) {
	rv := reflect.ValueOf(v.args)
	for i := 0; i < rv.NumField(); i++ {
		if argKey(rv.Type().Field(i)) == key {
			return rv.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func (v argValues) Get(key string) (string, bool) {
	f, ok := v.field(key)
	if !ok {
		return "", false
	}
	switch f.Kind() {
	case reflect.String:
		return f.String(), f.String() != ""
	case reflect.Pointer:
		if f.IsNil() {
			return "", false
		}
		switch e := f.Elem(); e.Kind() {
		case reflect.String:
			return e.String(), true
		case reflect.Int:
			return strconv.FormatInt(e.Int(), 10), true
		case reflect.Bool:
			return strconv.FormatBool(e.Bool()), true
		}
	case reflect.Slice:
		if f.IsNil() {
			return "", false
		}
		value := f.Interface()
		if statements, ok := value.([]Statement); ok {
			value = configStatements(statements)
		}
		b, err := json.Marshal(value)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
	panic(fmt.Sprintf("argument %s: unsupported kind %s", key, f.Kind()))
}

// Secret: a component's secrets arrive as inputs, which the component keeps secret; they are never plain text.
func (v argValues) Secret(key string) (pulumi.StringOutput, bool, bool) {
	f, ok := v.field(key)
	if !ok || f.IsNil() {
		return pulumi.ToSecret(pulumi.String("")).(pulumi.StringOutput), false, false
	}
	in := f.Interface().(pulumi.StringInput)
	return pulumi.ToSecret(in.ToStringOutput()).(pulumi.StringOutput), true, true
}

func (argValues) Source() string { return "Platform arguments" }

// configStatements are statements in the configuration's shape (IAM's own field names).
func configStatements(statements []Statement) []map[string]any {
	out := make([]map[string]any, 0, len(statements))
	for _, s := range statements {
		m := map[string]any{"Effect": s.Effect, "Action": s.Action, "Resource": s.Resource}
		if s.Sid != nil {
			m["Sid"] = *s.Sid
		}
		if s.Condition != nil {
			m["Condition"] = s.Condition
		}
		out = append(out, m)
	}
	return out
}
