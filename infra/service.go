package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const serviceType = "platform:infra:Service" // frozen; renaming needs an alias

// ServiceType is the Service component's type token, which its children's URNs carry.
const ServiceType = serviceType

// ServiceArgs configures one tenant of a shared platform: everything one service has of its own.
type ServiceArgs struct {
	Account Account      // (required)
	Roles   RoleSettings // the stack's role path and boundary, which the push role carries (required)

	// ECRRepositoryName is the service's repository (required); KeepTaggedImages and Protected as in RegistryArgs.
	ECRRepositoryName string
	KeepTaggedImages  int
	Protected         bool

	// Push is the service repository's GitHub push role, without its ECR repository (the component's own) and
	// with the account's GitHub OIDC provider (required).
	Push PushRoleArgs

	// ClusterName and Cluster (an output of the cluster) name the cluster of the Pod Identity association.
	ClusterName string
	Cluster     pulumi.StringInput
	// Policy is the service's own AWS permissions; with statements, its ServiceAccount gets a Pod Identity role of
	// its own under a boundary made of Boundary alone. Default none: no role.
	Policy, Boundary PolicyDocument
	ServiceAccount   string // the pods' ServiceAccount (required with Policy)

	Provider *kubernetes.Provider // the cluster's Kubernetes provider (required)
	// App is the service's place in the cluster; the component fills ServiceRoleARN and ServiceWaitFor.
	App ServiceAppArgs
}

// Service is one service of a platform shared by several: its ECR repository, GitHub push role, optional Pod
// Identity role with its own boundary, and in the cluster its namespace (with quota, limits and isolation), API key
// Secret, Argo CD project and Application. Adding or removing one touches nothing of the others'.
type Service struct {
	pulumi.ResourceState
	Namespace      pulumi.StringOutput `pulumi:"namespace"`
	RepositoryURL  pulumi.StringOutput `pulumi:"repositoryUrl"`
	PushRoleARN    pulumi.StringOutput `pulumi:"pushRoleArn"`
	ServiceRoleARN pulumi.StringOutput `pulumi:"serviceRoleArn"` // "" without Policy
}

// NewService creates one service's resources, each named <name>-...
func NewService(ctx *pulumi.Context, name string, args *ServiceArgs, opts ...pulumi.ResourceOption) (*Service, error) {
	if args == nil || !args.Account.valid() || !args.Roles.valid() || args.Provider == nil || args.ECRRepositoryName == "" ||
		len(args.Policy.Statement) > 0 && (args.ClusterName == "" || args.Cluster == nil || args.ServiceAccount == "" ||
			len(args.Boundary.Statement) == 0) {
		return nil, fmt.Errorf("service %q: account, roles, provider and repository are required, and a cluster, "+
			"ServiceAccount and boundary with a policy", name)
	}
	s := &Service{}
	if err := ctx.RegisterComponentResource(serviceType, name, s, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)
	wrap := func(what string, err error) error { return fmt.Errorf("service %q: %s: %w", name, what, err) }

	registry, err := NewRegistry(ctx, name+"-registry", &RegistryArgs{RepositoryName: args.ECRRepositoryName,
		KeepTaggedImages: args.KeepTaggedImages, Protected: args.Protected, Account: args.Account}, parent)
	if err != nil {
		return nil, wrap("registry", err)
	}
	push := args.Push
	push.ECRRepositoryARN, push.Roles = registry.RepositoryARN, args.Roles
	if s.PushRoleARN, err = NewPushRole(ctx, name, push, parent); err != nil {
		return nil, wrap("push role", err)
	}

	app := args.App
	s.ServiceRoleARN = pulumi.String("").ToStringOutput()
	if len(args.Policy.Statement) > 0 {
		// Its own boundary, at its own statements: the stack's boundary never widens for a service.
		boundary, err := NewRoleBoundary(ctx, name+"-roles", &RoleBoundaryArgs{Path: args.Roles.Path,
			Description: "Permissions boundary of the service " + name + "'s own role", Policy: args.Boundary}, parent)
		if err != nil {
			return nil, wrap("boundary", err)
		}
		identity, err := NewWorkloadIdentity(ctx, name+"-identity", &WorkloadIdentityArgs{
			ClusterName: args.ClusterName, Cluster: args.Cluster, Account: args.Account,
			Roles:     RoleSettings{Path: args.Roles.Path, Boundary: boundary.PolicyARN},
			Namespace: app.Namespace, ServiceAccount: args.ServiceAccount,
			Description: "The service " + name + " (ServiceAccount " + app.Namespace + "/" + args.ServiceAccount + ")",
			Policy:      args.Policy,
		}, parent)
		if err != nil {
			return nil, wrap("identity", err)
		}
		s.ServiceRoleARN = identity.RoleARN
		app.ServiceRoleARN = identity.RoleARN
		app.ServiceWaitFor = append(app.ServiceWaitFor, identity.Ready...)
	}
	created, err := NewServiceApp(ctx, name, &app, parent, pulumi.Provider(args.Provider))
	if err != nil {
		return nil, wrap("gitops", err)
	}
	s.Namespace, s.RepositoryURL = created.Namespace, registry.RepositoryURL
	if err := ctx.RegisterResourceOutputs(s, pulumi.Map{"namespace": s.Namespace, "repositoryUrl": s.RepositoryURL,
		"pushRoleArn": s.PushRoleARN, "serviceRoleArn": s.ServiceRoleARN}); err != nil {
		return nil, wrap("register outputs", err)
	}
	return s, nil
}

// ServiceProtectedChildren are the type chains (below the Service's own type) and names of the resources NewService
// creates that a protected stack protects: all but the repository credentials. withIdentity adds the service's
// Pod Identity role and its boundary.
func ServiceProtectedChildren(name string, withIdentity bool) [][2]string {
	const registry = registryType
	children := [][2]string{
		{registry, name + "-registry"},
		{registry + "$aws:kms/key:Key", name + "-registry-key"},
		{registry + "$aws:ecr/repository:Repository", name + "-registry-repo"},
		{registry + "$aws:ecr/lifecyclePolicy:LifecyclePolicy", name + "-registry-lifecycle"},
		{"aws:iam/role:Role", name + "-push-role"},
		{"aws:iam/rolePolicy:RolePolicy", name + "-push-policy"},
		{"kubernetes:core/v1:Namespace", name + "-service-ns"},
		{"kubernetes:core/v1:Secret", name + "-api-key"},
		{"kubernetes:core/v1:ResourceQuota", name + "-quota"},
		{"kubernetes:core/v1:LimitRange", name + "-limits"},
		{"kubernetes:networking.k8s.io/v1:NetworkPolicy", name + "-isolation"},
		{"kubernetes:argoproj.io/v1alpha1:AppProject", name + "-project"},
		{"kubernetes:argoproj.io/v1alpha1:Application", name + "-application"},
	}
	if withIdentity {
		children = append(children, ServiceIdentityChildren(name)...)
	}
	return children
}

// ServiceIdentityChildren are the type chains and names of a Service's Pod Identity role and its boundary.
func ServiceIdentityChildren(name string) [][2]string {
	return [][2]string{
		{roleBoundaryType, name + "-roles"},
		{roleBoundaryType + "$aws:iam/policy:Policy", name + "-roles-policy"},
		{workloadIdentityType, name + "-identity"},
		{workloadIdentityType + "$aws:iam/role:Role", WorkloadRoleName(name + "-identity")},
		{workloadIdentityType + "$aws:iam/rolePolicy:RolePolicy", name + "-identity-policy"},
		{workloadIdentityType + "$aws:eks/podIdentityAssociation:PodIdentityAssociation", name + "-identity-association"},
	}
}
