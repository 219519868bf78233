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

// Service is one entry of services: a tenant of the platform's cluster with its own namespace, repository, push
// role, Argo CD project and Application, and optionally its own Pod Identity role.
type Service struct {
	Name                  string             `pulumi:"name"`
	GitHubRepository      string             `pulumi:"githubRepository"`
	GitHubOwnerID         string             `pulumi:"githubOwnerId"`
	GitHubRepositoryID    string             `pulumi:"githubRepositoryId"`
	GitHubAllowedSubjects []string           `pulumi:"githubAllowedSubjects,optional"`
	AppRepoURL            string             `pulumi:"appRepoUrl"`
	AppChartPath          *string            `pulumi:"appChartPath,optional"`
	AppTargetRevision     *string            `pulumi:"appTargetRevision,optional"`
	IAMStatements         []Statement        `pulumi:"iamStatements,optional"`
	Quota                 *Quota             `pulumi:"quota,optional"`
	Limits                *Limits            `pulumi:"limits,optional"`
	IngressFrom           []string           `pulumi:"ingressFrom,optional"`
	Remove                *bool              `pulumi:"remove,optional"`
	APIKey                pulumi.StringInput `pulumi:"apiKey" provider:"secret"`
	AppRepoToken          pulumi.StringInput `pulumi:"appRepoToken,optional" provider:"secret"`
}

// Annotate names the type and documents its fields.
func (s *Service) Annotate(a infer.Annotator) {
	a.SetToken("index", "Service")
	a.Describe(s, "One service of the platform, a tenant of its cluster (the configuration's services entry).")
	a.Describe(&s.Name, "A DNS label of at most 42 characters: names its namespace, repository <stack>/<name>, project, Application and roles.")
	a.Describe(&s.GitHubRepository, "owner/name of the service repository whose GitHub Actions push its images.")
	a.Describe(&s.GitHubOwnerID, "Numeric GitHub ID of the repository's owner.")
	a.Describe(&s.GitHubRepositoryID, "Numeric GitHub ID of the repository.")
	a.Describe(&s.GitHubAllowedSubjects, "Subjects that may push; default [ref:refs/heads/main].")
	a.Describe(&s.AppRepoURL, "https URL of the repository holding the service's Helm chart.")
	a.Describe(&s.AppChartPath, "Chart directory in that repository; default helm/<name>.")
	a.Describe(&s.AppTargetRevision, "Branch, tag or commit Argo CD follows; default main.")
	a.Describe(&s.IAMStatements, "The service's own AWS permissions; default none (no role).")
	a.Describe(&s.Quota, "The namespace's ResourceQuota; defaults 2 CPUs, 4Gi, 16 pods, no load balancer (nor node port).")
	a.Describe(&s.Limits, "A container's default requests and memory limit; defaults 100m, 128Mi, 256Mi.")
	a.Describe(&s.IngressFrom, "Other services whose pods may open connections to this one's.")
	a.Describe(&s.Remove, "Acknowledges the service's removal from a protected platform: nothing of it is registered.")
	a.Describe(&s.APIKey, "The service's API key (secret): Secret <name>-secret, key api-key.")
	a.Describe(&s.AppRepoToken, "A read token for a private chart repository (secret).")
}

// Quota is a service namespace's ResourceQuota.
type Quota struct {
	CPU           *string `pulumi:"cpu,optional"`
	Memory        *string `pulumi:"memory,optional"`
	Pods          *int    `pulumi:"pods,optional"`
	LoadBalancers *int    `pulumi:"loadBalancers,optional"`
}

// Annotate names the type and documents its fields.
func (q *Quota) Annotate(a infer.Annotator) {
	a.SetToken("index", "Quota")
	a.Describe(q, "What a service's namespace may hold.")
	a.Describe(&q.CPU, "CPU requests of all its pods together, such as \"2\" or \"500m\".")
	a.Describe(&q.Memory, "Memory requests and limits of all its pods together, such as 4Gi.")
	a.Describe(&q.Pods, "Pods at most.")
	a.Describe(&q.LoadBalancers, "Services of type LoadBalancer at most (each an AWS load balancer).")
}

// Limits are the defaults of a service's containers.
type Limits struct {
	CPU         *string `pulumi:"cpu,optional"`
	Memory      *string `pulumi:"memory,optional"`
	MemoryLimit *string `pulumi:"memoryLimit,optional"`
}

// Annotate names the type and documents its fields.
func (l *Limits) Annotate(a infer.Annotator) {
	a.SetToken("index", "Limits")
	a.Describe(l, "A service's container defaults (its LimitRange).")
	a.Describe(&l.CPU, "CPU request of a container that names none.")
	a.Describe(&l.Memory, "Memory request of a container that names none.")
	a.Describe(&l.MemoryLimit, "Memory limit of a container that names none.")
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
	GitHubRepository          string      `pulumi:"githubRepository,optional"`
	GitHubAllowedSubjects     []string    `pulumi:"githubAllowedSubjects,optional"`
	GitHubOwnerID             string      `pulumi:"githubOwnerId,optional"`
	GitHubRepositoryID        string      `pulumi:"githubRepositoryId,optional"`
	GitHubNameSubjects        *bool       `pulumi:"githubNameSubjects,optional"`
	GitHubOIDCProviderARN     *string     `pulumi:"githubOidcProviderArn,optional"`
	ArgoCDChartVersion        *string     `pulumi:"argocdChartVersion,optional"`
	ServiceIAMStatements      []Statement `pulumi:"serviceIamStatements,optional"`
	AppRepoURL                string      `pulumi:"appRepoUrl,optional"`
	Services                  []Service   `pulumi:"services,optional"`
	AppChartPath              *string     `pulumi:"appChartPath,optional"`
	AppTargetRevision         *string     `pulumi:"appTargetRevision,optional"`
	// The secrets: kept secret in the state and in every output built from them.
	AppRepoToken          pulumi.StringInput `pulumi:"appRepoToken,optional" provider:"secret"`
	APIKey                pulumi.StringInput `pulumi:"apiKey,optional" provider:"secret"`
	PulumiOrganization    *string            `pulumi:"pulumiOrganization,optional"`
	DeployWith            *string            `pulumi:"deployWith,optional"`
	PulumiOIDCProviderARN *string            `pulumi:"pulumiOidcProviderArn,optional"`
	InfraRepository       *string            `pulumi:"infraRepository,optional"`
	InfraRepositoryOwner  *string            `pulumi:"infraRepositoryOwnerId,optional"`
	InfraRepositoryID     *string            `pulumi:"infraRepositoryId,optional"`
	Protect               *bool              `pulumi:"protect,optional"`
	VPCCNIIdentity        *string            `pulumi:"vpcCniIdentity,optional"`
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
	VPCID                  pulumi.StringOutput       `pulumi:"vpcId"`
	PrivateSubnetIDs       pulumi.StringArrayOutput  `pulumi:"privateSubnetIds"`
	PublicSubnetIDs        pulumi.StringArrayOutput  `pulumi:"publicSubnetIds"`
	ClusterName            pulumi.StringOutput       `pulumi:"clusterName"`
	Kubeconfig             pulumi.StringOutput       `pulumi:"kubeconfig" provider:"secret"`
	ClusterOIDCProviderARN pulumi.StringOutput       `pulumi:"clusterOidcProviderArn"`
	ClusterOIDCProviderURL pulumi.StringOutput       `pulumi:"clusterOidcProviderUrl"`
	NodeRoleARN            pulumi.StringOutput       `pulumi:"nodeRoleArn"`
	NodeGroupName          pulumi.StringOutput       `pulumi:"nodeGroupName"`
	ECRRepositoryURL       pulumi.StringOutput       `pulumi:"ecrRepositoryUrl"`
	GitHubActionsRoleARN   pulumi.StringOutput       `pulumi:"githubActionsRoleArn"`
	GitHubOIDCProviderARN  pulumi.StringOutput       `pulumi:"githubOidcProviderArn"`
	ArgoCDNamespace        pulumi.StringOutput       `pulumi:"argocdNamespace"`
	ServiceNamespace       pulumi.StringOutput       `pulumi:"serviceNamespace"`
	APIPublicAccessCIDRs   pulumi.StringArrayOutput  `pulumi:"apiPublicAccessCidrs"`
	AutoscalerRoleARN      pulumi.StringOutput       `pulumi:"autoscalerRoleArn"`
	DeployRoleARN          pulumi.StringOutput       `pulumi:"deployRoleArn"`
	DeployWith             pulumi.StringOutput       `pulumi:"deployWith"`
	Protected              pulumi.BoolOutput         `pulumi:"protected"`
	PreviewRoleARN         pulumi.StringOutput       `pulumi:"previewRoleArn"`
	ServiceRoleARN         pulumi.StringOutput       `pulumi:"serviceRoleArn"`
	Services               pulumi.StringMapMapOutput `pulumi:"services"`
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
	c.Protected = pulumi.Bool(args.Protect != nil && *args.Protect).ToBoolOutput() // the program's default is false
	if o, ok := outputs[stacks.OutputProtected]; ok {
		c.Protected = o.(pulumi.BoolOutput)
	}
	c.PreviewRoleARN = str(stacks.OutputPreviewRoleARN)
	c.ServiceRoleARN = str(stacks.OutputServiceRoleARN)
	c.Services = pulumi.StringMapMap{}.ToStringMapMapOutput()
	if o, ok := outputs[stacks.OutputServices]; ok {
		c.Services = o.(pulumi.StringMapMapOutput)
	}
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
				// A secret (a service's API key) stays an input: it may come from a secret output.
				if prop, ok := p.(map[string]any); ok && prop["plain"] != true && prop["secret"] != true {
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
		if services, ok := value.([]Service); ok {
			value = configServices(services)
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
// A service's secrets are asked for under the keys configServices names them by.
func (v argValues) Secret(key string) (pulumi.StringOutput, bool, bool) {
	var in pulumi.StringInput
	if f, ok := v.field(key); ok && !f.IsNil() {
		in = f.Interface().(pulumi.StringInput)
	}
	for _, s := range v.args.Services {
		switch key {
		case serviceSecret(s.Name, "ApiKey"):
			in = s.APIKey
		case serviceSecret(s.Name, "AppRepoToken"):
			in = s.AppRepoToken
		}
	}
	if in == nil {
		return pulumi.ToSecret(pulumi.String("")).(pulumi.StringOutput), false, false
	}
	return pulumi.ToSecret(in.ToStringOutput()).(pulumi.StringOutput), true, true
}

// serviceSecret is the key a service's secret is asked for by: services.<name>.apiKey, as a component user names it.
func serviceSecret(name, suffix string) string {
	return "services." + name + "." + strings.ToLower(suffix[:1]) + suffix[1:]
}

// configServices are services in the configuration's shape: their secrets named, not included.
func configServices(services []Service) []map[string]any {
	out := make([]map[string]any, 0, len(services))
	for _, s := range services {
		m := map[string]any{"name": s.Name, "githubRepository": s.GitHubRepository, "githubOwnerId": s.GitHubOwnerID,
			"githubRepositoryId": s.GitHubRepositoryID, "appRepoUrl": s.AppRepoURL, "apiKeySecret": serviceSecret(s.Name, "ApiKey")}
		if s.GitHubAllowedSubjects != nil {
			m["githubAllowedSubjects"] = s.GitHubAllowedSubjects
		}
		if s.AppChartPath != nil {
			m["appChartPath"] = *s.AppChartPath
		}
		if s.AppTargetRevision != nil {
			m["appTargetRevision"] = *s.AppTargetRevision
		}
		if s.IAMStatements != nil {
			m["iamStatements"] = configStatements(s.IAMStatements)
		}
		if s.IngressFrom != nil {
			m["ingressFrom"] = s.IngressFrom
		}
		if s.Remove != nil {
			m["remove"] = *s.Remove
		}
		if s.AppRepoToken != nil {
			m["appRepoTokenSecret"] = serviceSecret(s.Name, "AppRepoToken")
		}
		if q := s.Quota; q != nil {
			quota := map[string]any{}
			for k, v := range map[string]any{"cpu": q.CPU, "memory": q.Memory, "pods": q.Pods, "loadBalancers": q.LoadBalancers} {
				if rv := reflect.ValueOf(v); !rv.IsNil() {
					quota[k] = rv.Elem().Interface()
				}
			}
			m["quota"] = quota
		}
		if l := s.Limits; l != nil {
			limits := map[string]any{}
			for k, v := range map[string]*string{"cpu": l.CPU, "memory": l.Memory, "memoryLimit": l.MemoryLimit} {
				if v != nil {
					limits[k] = *v
				}
			}
			m["limits"] = limits
		}
		out = append(out, m)
	}
	return out
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
