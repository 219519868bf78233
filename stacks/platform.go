// Package stacks is the Pulumi program: it reads and validates the stack configuration, wires the infra
// components together and exports the stack outputs. It is the only package that reads config or exports.
package stacks

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/example/eks-gitops-platform/infra"
)

// Env is what the program learns from AWS before it registers anything.
type Env struct {
	AZs     []string // available zones of the region, sorted
	Account infra.Account
	// Nodes is the scaling of the stack's nodegroup as it runs; nil before it exists.
	Nodes *infra.NodeGroupScaling
	// ClusterVersion is the Kubernetes version the stack's cluster runs; "" before it exists.
	ClusterVersion string
	// AdoptIssuers are the account's shared OIDC providers this stack created and an earlier `pulumi destroy`
	// kept, by issuer host: imported, not created again.
	AdoptIssuers map[string]string
}

// Platform holds the components of one environment.
type Platform struct {
	Boundary     *infra.RoleBoundary
	Network      *infra.Network
	Registry     *infra.Registry
	GitHub       *infra.GitHubOIDC
	DeployAccess *infra.DeployAccess // nil unless pulumiOrganization or infraRepository is set
	Cluster      *infra.Cluster
	NodeGroup    *infra.NodeGroup
	Kubernetes   *kubernetes.Provider
	Addons       *infra.ClusterAddons
	// ServiceIdentity is the service's own AWS role; nil unless serviceIamStatements is set.
	ServiceIdentity *infra.WorkloadIdentity
	GitOps          *infra.GitOps
	// Services are the platform's services by name, when the stack lists them; then Registry and ServiceIdentity
	// are nil and GitOps holds Argo CD alone.
	Services map[string]*infra.Service
	// APIPublicAccessCIDRs are the ranges the public API endpoint admits (none: private only).
	APIPublicAccessCIDRs []string
	// Warnings are configuration problems a preview tolerates and `pulumi up` refuses (logged as warnings).
	Warnings []string
	// Notices are logged as warnings on every run and refused never (extended support, a stale calendar).
	Notices []string
	// KubernetesStatus is the cluster version's support and control-plane price today, from the EKS calendar.
	KubernetesStatus string

	pullRequestPreviews bool
	deployWith          string
	protected           bool
}

// Run is the whole program: build the platform and export its outputs.
func Run(ctx *pulumi.Context) error {
	p, err := Build(ctx)
	if err != nil {
		return err
	}
	for name, value := range p.Outputs() {
		ctx.Export(name, value)
	}
	return nil
}

// Build loads and validates the stack configuration, looks up the account, and registers every component.
// Nothing is registered unless the whole configuration is valid.
func Build(ctx *pulumi.Context) (*Platform, error) { return BuildFrom(ctx, StackConfig{Ctx: ctx}, nil) }

// BuildFrom is Build from any source of the configuration's values (a component's arguments), with every
// resource a child of parent and every lookup through parent's providers; a nil parent builds the stack's own
// top-level resources, as the program does.
func BuildFrom(ctx *pulumi.Context, values Values, parent pulumi.Resource) (*Platform, error) {
	cfg, err := LoadFrom(ctx, values)
	if err != nil {
		return nil, err
	}
	var invoke []pulumi.InvokeOption
	var opts []pulumi.ResourceOption
	if parent != nil {
		invoke = append(invoke, pulumi.Parent(parent))
		opts = append(opts, pulumi.Parent(parent))
	}
	env, err := lookupEnv(ctx, invoke...)
	if err != nil {
		return nil, err
	}
	if err := cfg.ValidateAZs(env.AZs); err != nil {
		return nil, err
	}
	roles, err := iam.GetRoles(ctx, &iam.GetRolesArgs{}, invoke...)
	if err != nil {
		return nil, fmt.Errorf("look up the account's roles: %w", err)
	}
	if err := checkAccountIsTheStacksOwn(cfg, roles.Arns); err != nil {
		return nil, err
	}
	if err := checkProtectedRemovals(cfg, roles.Arns, parent != nil); err != nil {
		return nil, err
	}
	if err := checkBoundarySize(cfg); err != nil {
		return nil, err
	}
	if env.ClusterVersion, env.Nodes, err = liveCluster(ctx, cfg.ClusterName(), invoke...); err != nil {
		return nil, err
	}
	if err := cfg.ValidateUpgrade(env.ClusterVersion); err != nil {
		return nil, err
	}
	if err := checkVPCCNIIdentity(ctx, cfg, env.ClusterVersion != "", invoke...); err != nil {
		return nil, err
	}
	if env.AdoptIssuers, err = existingIssuers(ctx, cfg, invoke...); err != nil {
		return nil, err
	}
	for _, w := range append(slices.Clone(cfg.Notices), cfg.Warnings...) {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return nil, err
		}
	}
	p, err := Deploy(ctx, cfg, env, opts...)
	if err != nil {
		return nil, err
	}
	p.Warnings, p.Notices = cfg.Warnings, cfg.Notices
	if v, ok := infra.LookupKubernetesVersion(cfg.KubernetesVersion); ok {
		p.KubernetesStatus = v.Status(Now())
	}
	return p, nil
}

func lookupEnv(ctx *pulumi.Context, opts ...pulumi.InvokeOption) (Env, error) {
	zones, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
		State: pulumi.StringRef("available"),
		// Local Zones and Wavelength Zones cannot host EKS control-plane subnets.
		Filters: []aws.GetAvailabilityZonesFilter{{Name: "opt-in-status", Values: []string{"opt-in-not-required"}}},
		// Zones where EKS cannot place a control plane (EKS user guide, cluster creation).
		ExcludeZoneIds: []string{"use1-az3", "usw1-az2", "cac1-az3"},
	}, opts...)
	if err != nil {
		return Env{}, fmt.Errorf("look up availability zones: %w", err)
	}
	partition, err := aws.GetPartition(ctx, nil, opts...)
	if err != nil {
		return Env{}, fmt.Errorf("look up partition: %w", err)
	}
	caller, err := aws.GetCallerIdentity(ctx, nil, opts...)
	if err != nil {
		return Env{}, fmt.Errorf("look up account: %w", err)
	}
	region, err := aws.GetRegion(ctx, nil, opts...)
	if err != nil {
		return Env{}, fmt.Errorf("look up region: %w", err)
	}
	azs := slices.Clone(zones.Names)
	slices.Sort(azs)
	return Env{AZs: azs, Account: infra.Account{Partition: partition.Partition, Region: region.Name, ID: caller.AccountId}}, nil
}

// checkAccountIsTheStacksOwn refuses to share an AWS account between a stack with a deploy role and any other
// stack of the platform. The deploy role's ec2:*, kms:* and logs:* cannot be scoped to autonamed resources, so in a
// shared account dev's unreviewed automation could run code on prod's nodes through user data, or delete prod's
// keys and logs. The platform's stacks, of this project or of any program using the Platform component, are found
// by their roles: a node role, and maybe a deploy role, under /<project>/<stack>/.
func checkAccountIsTheStacksOwn(cfg *Config, roleARNs []string) error {
	others := map[string]bool{}
	deployRoles := map[string]bool{}
	for _, arn := range roleARNs {
		_, pathName, _ := strings.Cut(arn, ":role")
		i := strings.LastIndex(pathName, "/")
		path, name := pathName[:i+1], pathName[i+1:]
		if path == cfg.RolePath() || strings.Count(path, "/") != 3 {
			continue
		}
		stack := strings.Trim(path, "/")
		switch {
		case strings.HasPrefix(name, infra.DeployRoleName(deployName)+"-"):
			deployRoles[stack], others[stack] = true, true
		case strings.HasPrefix(name, infra.NodeRoleName(clusterName)+"-"):
			others[stack] = true
		}
	}
	var problem string
	switch {
	case len(deployRoles) > 0:
		problem = fmt.Sprintf("stack %s has a deploy role in this account, which reaches this stack's resources: move one of "+
			"the two to an AWS account of its own, or remove that deploy role (unset pulumiOrganization and infraRepository "+
			"there and `pulumi up` it from a laptop)", strings.Join(slices.Sorted(maps.Keys(deployRoles)), ", "))
	case cfg.DeployWith != "" && len(others) > 0:
		problem = fmt.Sprintf("this stack's deploy role would reach stack %s in the same account: give this stack an AWS "+
			"account of its own, or deploy it from a laptop only (unset pulumiOrganization and infraRepository)",
			strings.Join(slices.Sorted(maps.Keys(others)), ", "))
	default:
		return nil
	}
	return &ConfigError{Source: cfg.source, Problems: []string{"deployWith: " + problem + ". A deploy role manages EC2, " +
		"KMS and CloudWatch Logs account-wide (they are autonamed), so each stack with automated deploys needs an AWS " +
		"account of its own"}}
}

// existingIssuers finds the account's GitHub and Pulumi OIDC providers that this stack would create. The stack
// retains them on delete (other stacks' roles may trust them), so after a `pulumi destroy` they are still there,
// and IAM refuses to create a second provider for an issuer: one this stack created (its owner tag names the
// stack's role path; an untagged one predates the tag) is adopted; one another stack created is refused before
// anything is registered, naming the key that reuses it. The lookup fails when there is none
// (terraform-provider-aws v5.100.0, openid_connect_provider_data_source.go); any failure leaves the create to
// report the real error.
func existingIssuers(ctx *pulumi.Context, cfg *Config, opts ...pulumi.InvokeOption) (map[string]string, error) {
	type issuer struct{ host, key, existing string }
	issuers := []issuer{{infra.GitHubIssuerHost, "githubOidcProviderArn", cfg.GitHubOIDCProviderARN}}
	if cfg.DeployWith == DeployWithDeployments {
		issuers = append(issuers, issuer{infra.PulumiIssuerHost, "pulumiOidcProviderArn", cfg.PulumiOIDCProviderARN})
	}
	adopt := map[string]string{}
	var problems []string
	for _, is := range issuers {
		if is.existing != "" {
			continue
		}
		url := "https://" + is.host
		found, err := iam.LookupOpenIdConnectProvider(ctx, &iam.LookupOpenIdConnectProviderArgs{Url: &url}, opts...)
		if err != nil || found == nil || found.Arn == "" {
			continue
		}
		switch owner := found.Tags[infra.OIDCOwnerTag]; owner {
		case "", cfg.RolePath():
			adopt[is.host] = found.Arn
		default:
			problems = append(problems, fmt.Sprintf("%s: the account already has the OIDC provider for %s (%s), created by the "+
				"stack of role path %s; reuse it with `pulumi config set %s %s`", is.key, is.host, found.Arn, owner, is.key, found.Arn))
		}
	}
	if len(problems) > 0 {
		return nil, &ConfigError{Source: cfg.source, Problems: problems}
	}
	return adopt, nil
}

// checkProtectedRemovals explains an update that protect would stop halfway, with the command that unprotects
// exactly the resources it deletes; the resources are found by their roles among the account's roles (a role's
// physical name is its logical one with a suffix). The program cannot see whether they are still protected (that
// is in the state), so what the user can fix with that command is a notice, said on every run, and the engine's
// protection does the refusing: after the command, the same update goes through. Only the removal of a whole
// service is refused outright, until its entry says `remove: true` (stacks/services.go).
func checkProtectedRemovals(cfg *Config, roleARNs []string, inComponent bool) error {
	if !cfg.Protect {
		return nil
	}
	if cfg.MultiService() {
		return checkProtectedServiceRemovals(cfg, roleARNs, inComponent)
	}
	var services []string
	for _, arn := range roleARNs {
		_, pathName, _ := strings.Cut(arn, ":role"+cfg.RolePath())
		if m := pushRoleRe.FindStringSubmatch(pathName); m != nil && m[1] != "github" {
			services = append(services, m[1])
		}
	}
	if len(services) > 0 {
		slices.Sort(services)
		return &ConfigError{Source: cfg.source, Problems: []string{fmt.Sprintf("%s: is empty, and this protected stack "+
			"runs the services %s: the single-service layout would replace them all, which protect refuses. Keep them "+
			"listed; to retire one, see `remove: true` in docs/services.md", keyServices, strings.Join(services, ", "))}}
	}
	if len(cfg.ServiceIAMStatements) > 0 || !hasRole(cfg, roleARNs, infra.WorkloadRoleName(serviceIdentityName)) {
		return nil
	}
	var urns []string
	for _, child := range [][2]string{
		{infra.WorkloadIdentityType, serviceIdentityName},
		{infra.WorkloadIdentityType + "$aws:iam/role:Role", infra.WorkloadRoleName(serviceIdentityName)},
		{infra.WorkloadIdentityType + "$aws:iam/rolePolicy:RolePolicy", serviceIdentityName + "-policy"},
		{infra.WorkloadIdentityType + "$aws:eks/podIdentityAssociation:PodIdentityAssociation", serviceIdentityName + "-association"},
		{infra.RoleBoundaryType, serviceRolesName},
		{infra.RoleBoundaryType + "$aws:iam/policy:Policy", serviceRolesName + "-policy"},
	} {
		urns = append(urns, cfg.urn(child[0], child[1]))
	}
	cfg.Notices = append(cfg.Notices, keyServiceIAMStatements+": is empty, which deletes the service's AWS role, its "+
		"policy and Pod Identity association and its boundary, and this stack protects them (protect: true): `pulumi up` "+
		"stops at them until you "+unprotect(urns, inComponent)+"; to keep them, set the statements again")
	return nil
}

// hasRole reports whether the account has a role of the stack's path whose logical name is name.
func hasRole(cfg *Config, roleARNs []string, name string) bool {
	prefix := ":role" + cfg.RolePath() + name + "-"
	return slices.ContainsFunc(roleARNs, func(arn string) bool { return strings.Contains(arn, prefix) })
}

// urn is the URN of a top-level resource of the stack's program by its type chain and name.
func (c *Config) urn(typeChain, name string) string {
	return "urn:pulumi:" + c.Stack + "::" + c.Project + "::" + typeChain + "::" + name
}

// unprotect is the one command that unprotects urns (in a component, their URNs are the consumer's, so the
// command names how to list them).
func unprotect(urns []string, inComponent bool) string {
	if inComponent {
		return "unprotect them with `pulumi state unprotect --yes <urn>...` (`pulumi stack --show-urns` lists them)"
	}
	return "unprotect them with `pulumi state unprotect --yes '" + strings.Join(urns, "' '") + "'`"
}

// The logical names of the service's own identity and its boundary.
const (
	serviceIdentityName = "service-identity"
	serviceRolesName    = "service-roles"
)

// The logical names of the components whose roles identify the platform's stacks in an account.
const (
	clusterName = "cluster"
	deployName  = "deploy"
)

// Deploy registers every component for a validated configuration, each with opts (a parent, for the Platform
// component; none for the program, whose components are the stack's top level).
func Deploy(ctx *pulumi.Context, cfg *Config, env Env, opts ...pulumi.ResourceOption) (*Platform, error) {
	if len(env.AZs) < cfg.AZCount {
		return nil, fmt.Errorf("deploy: %d zones requested, %d available", cfg.AZCount, len(env.AZs))
	}
	p := &Platform{APIPublicAccessCIDRs: cfg.EndpointPublicAccessCIDRs, pullRequestPreviews: cfg.PullRequestPreviews(),
		deployWith: cfg.DeployWith, protected: cfg.Protect}
	var err error
	// Production mode protects every resource of the stack: no delete and no replacement, so a `pulumi destroy`
	// deletes nothing and stops. The engine goes on deleting whatever it can after a refusal, so a partial
	// protection would still take down what is not protected. The exceptions are the cluster's access entries
	// and the repository credentials, which follow their configuration (infra sets those).
	protect := pulumi.Composite(append([]pulumi.ResourceOption{pulumi.Protect(cfg.Protect)}, opts...)...)

	// Every role lives under the stack's IAM path and carries the boundary; the deploy role may touch no other.
	p.Boundary, err = infra.NewRoleBoundary(ctx, "roles", &infra.RoleBoundaryArgs{Path: cfg.RolePath(),
		Description: "Permissions boundary of the platform's roles", Policy: infra.BoundaryPolicy(boundaryScope(cfg, env))}, protect)
	if err != nil {
		return nil, err
	}
	roles := infra.RoleSettings{Path: cfg.RolePath(), Boundary: p.Boundary.PolicyARN}

	// Critical path: Network -> Cluster -> NodeGroup -> Kubernetes provider -> GitOps. Registry, GitHub OIDC and
	// the deploy roles depend on none of it and are created in parallel.
	p.Network, err = infra.NewNetwork(ctx, "network", &infra.NetworkArgs{
		CIDR:                 cfg.VPCCIDR,
		AZs:                  env.AZs[:cfg.AZCount],
		NATGateways:          cfg.NATGateways,
		ClusterName:          cfg.ClusterName(),
		FlowLogRetentionDays: cfg.LogRetentionDays,
		FlowLogGroupName:     cfg.FlowLogGroupName(),
		Account:              env.Account,
		Roles:                roles,
	}, protect)
	if err != nil {
		return nil, err
	}

	github := &infra.GitHubOIDCArgs{
		ExistingProviderARN: cfg.GitHubOIDCProviderARN,
		AdoptProviderARN:    env.AdoptIssuers[infra.GitHubIssuerHost],
		Roles:               roles,
	}
	if !cfg.MultiService() {
		// The one service's repository and push role; with services, each Service holds its own.
		p.Registry, err = infra.NewRegistry(ctx, "registry", &infra.RegistryArgs{
			RepositoryName:   cfg.ECRRepositoryName,
			KeepTaggedImages: cfg.ImageRetainCount,
			Protected:        cfg.Protect,
			Account:          env.Account,
		}, protect)
		if err != nil {
			return nil, err
		}
		github.Repository, github.OwnerID, github.RepositoryID = cfg.GitHubRepository, cfg.GitHubOwnerID, cfg.GitHubRepositoryID
		github.AllowedSubjects, github.NameSubjects = cfg.GitHubAllowedSubjects, cfg.GitHubNameSubjects
		github.ECRRepositoryARN = p.Registry.RepositoryARN
	}
	p.GitHub, err = infra.NewGitHubOIDC(ctx, "github", github, protect)
	if err != nil {
		return nil, err
	}

	access := adminGrants(cfg.ClusterAdminARNs)
	if cfg.DeployWith != "" {
		p.DeployAccess, err = infra.NewDeployAccess(ctx, deployName, &infra.DeployAccessArgs{
			Project:                   cfg.Project,
			Stack:                     cfg.Stack,
			Flow:                      cfg.DeployWith,
			PulumiOrganization:        cfg.PulumiOrganization,
			ExistingPulumiProviderARN: cfg.PulumiOIDCProviderARN,
			AdoptPulumiProviderARN:    env.AdoptIssuers[infra.PulumiIssuerHost],
			InfraRepository:           cfg.InfraRepository,
			InfraOwnerID:              cfg.InfraOwnerID,
			InfraRepositoryID:         cfg.InfraRepositoryID,
			NameSubjects:              cfg.GitHubNameSubjects,
			// Pull request code reads the configuration it previews (secrets included): never a protected stack's.
			PullRequestPreviews: cfg.PullRequestPreviews(),
			GitHubProviderARN:   p.GitHub.ProviderARN,
			Account:             env.Account,
			Roles:               roles,
			ClusterName:         cfg.ClusterName(),
			ECRRepositoryName:   cfg.ServiceECRPattern(),
			StackTag:            infra.StackTagValue(cfg.Project, cfg.Stack),
			LogGroups:           []string{infra.ClusterLogGroupName(cfg.ClusterName()), cfg.FlowLogGroupName()},
			AdminARNs:           cfg.ClusterAdminARNs,
			NodeRole:            infra.NodeRoleName(clusterName),
			Protected:           cfg.Protect,
		}, protect)
		if err != nil {
			return nil, err
		}
		access = append(access, infra.AccessGrant{Key: "deploy", PrincipalARN: p.DeployAccess.DeployRoleARN,
			Policies: []infra.AccessPolicy{{Policy: infra.AccessPolicyClusterAdmin}}})
		if cfg.PullRequestPreviews() {
			// View only: no Secrets anywhere (Argo CD's hold its signing key and the repository token). Previews
			// of Kubernetes objects it may not dry-run fall back to their inputs.
			access = append(access, infra.AccessGrant{Key: "preview", PrincipalARN: p.DeployAccess.PreviewRoleARN,
				Policies: []infra.AccessPolicy{{Policy: infra.AccessPolicyView}}})
		}
	}

	p.Cluster, err = infra.NewCluster(ctx, clusterName, &infra.ClusterArgs{
		Name:              cfg.ClusterName(),
		Version:           cfg.KubernetesVersion,
		VPCID:             p.Network.VPCID,
		PrivateSubnetIDs:  p.Network.PrivateSubnetIDs,
		PublicSubnetIDs:   p.Network.PublicSubnetIDs,
		PublicAccessCIDRs: cfg.EndpointPublicAccessCIDRs,
		LogRetentionDays:  cfg.LogRetentionDays,
		Account:           env.Account,
		Roles:             roles,
		Access:            access,
		VPCCNIIdentity:    cfg.VPCCNIIdentity,
		// Tenants are isolated by NetworkPolicies, which the VPC CNI enforces only with this.
		NetworkPolicy: cfg.MultiService(),
	}, protect)
	if err != nil {
		return nil, err
	}

	p.NodeGroup, err = infra.NewNodeGroup(ctx, nodesName, &infra.NodeGroupArgs{
		ClusterName:   p.Cluster.Name,
		Role:          p.Cluster.NodeRole,
		SubnetIDs:     p.Network.PrivateSubnetIDs,
		Version:       cfg.KubernetesVersion,
		InstanceTypes: cfg.NodeInstanceTypes,
		CapacityType:  cfg.NodeCapacityType,
		MinSize:       cfg.NodeMinSize,
		DesiredSize:   cfg.NodeDesiredSize,
		MaxSize:       cfg.NodeMaxSize,
		Live:          env.Nodes,
		// The largest group still rolls within the provider's timeout.
		MaxUnavailable: infra.MaxUnavailableFor(cfg.NodeMaxSize),
		DiskSizeGiB:    cfg.NodeDiskSizeGiB,
		Labels:         map[string]string{"platform/nodegroup": "default"},
		// The node role's policies and private egress first. On destroy this also keeps the whole network
		// (internet gateway, NAT gateways, routes) until the nodes, and so every Kubernetes object and its load
		// balancer, are gone.
		// The add-ons they need to become Ready (pod networking, Service routing, Pod Identity) as well, which a
		// version bump therefore upgrades after the control plane and before the nodes.
		WaitFor: slices.Concat(p.Cluster.NodeRolePolicies, p.Network.Egress, p.Cluster.NodeAddons),
	}, protect)
	if err != nil {
		return nil, err
	}

	// One explicit provider for every Kubernetes resource. It waits for the nodes (so ArgoCD pods can schedule
	// and pull) and for the access entries (so the identity running Pulumi can reach the API). Its cluster
	// identifier is the API endpoint, which only a new cluster changes: a refreshed kubeconfig token replaces
	// nothing, and a replaced cluster replaces the provider and so everything deployed through it.
	// Helm keeps its release records in Secrets (its default): previews never read them, and `helm` commands
	// work without a driver setting.
	deps := append([]pulumi.Resource{p.NodeGroup.Group}, p.Cluster.AccessResources...)
	p.Kubernetes, err = kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{
		Kubeconfig:        p.Cluster.Kubeconfig,
		ClusterIdentifier: p.Cluster.Endpoint,
		// A Secret whose data changes is updated in place, not deleted and re-created (pulumi-kubernetes v4.32.0
		// replaces it otherwise: provider/pkg/provider/diff.go:28-29), so rotating the API key works in protected
		// prod and leaves no window without the Secret. Adding the setting updates the provider in place: the
		// pinned clusterIdentifier suppresses every provider replacement (provider.go:495-502).
		EnableSecretMutable: pulumi.Bool(true),
	}, pulumi.DependsOn(deps), protect)
	if err != nil {
		return nil, fmt.Errorf("kubernetes provider: %w", err)
	}

	// DNS, metrics for HPAs, and the autoscaler, once nodes exist.
	p.Addons, err = infra.NewClusterAddons(ctx, addonsName, &infra.ClusterAddonsArgs{
		ClusterName:       cfg.ClusterName(),
		Cluster:           p.Cluster.Name,
		KubernetesVersion: cfg.KubernetesVersion,
		Account:           env.Account,
		Roles:             roles,
		Provider:          p.Kubernetes,
		Nodes:             []pulumi.Resource{p.NodeGroup.Group},
		HA:                cfg.Protect,
	}, protect)
	if err != nil {
		return nil, err
	}

	if cfg.MultiService() {
		if err := deployServices(ctx, cfg, env, p, roles, protect); err != nil {
			return nil, err
		}
		return p, nil
	}

	// The service's own AWS identity, only when it has permissions to hold.
	var serviceReady []pulumi.Resource
	var serviceRole pulumi.StringInput
	if len(cfg.ServiceIAMStatements) > 0 {
		// Its own boundary, at its own statements: the stack's boundary never widens for the service.
		boundary, err := infra.NewRoleBoundary(ctx, serviceRolesName, &infra.RoleBoundaryArgs{Path: cfg.RolePath(),
			Description: "Permissions boundary of the service's own role", Policy: infra.ServiceBoundary(cfg.ServiceIAMStatements)}, protect)
		if err != nil {
			return nil, err
		}
		p.ServiceIdentity, err = infra.NewWorkloadIdentity(ctx, serviceIdentityName, &infra.WorkloadIdentityArgs{
			ClusterName: cfg.ClusterName(), Cluster: p.Cluster.Name, Account: env.Account,
			Roles:     infra.RoleSettings{Path: cfg.RolePath(), Boundary: boundary.PolicyARN},
			Namespace: cfg.ServiceNamespace(), ServiceAccount: cfg.ServiceAccountName(),
			Description: "The service " + cfg.ServiceName + " (ServiceAccount " + cfg.ServiceNamespace() + "/" + cfg.ServiceAccountName() + ")",
			Policy:      cfg.ServicePolicy(),
		}, protect)
		if err != nil {
			return nil, err
		}
		serviceReady = p.ServiceIdentity.Ready
		serviceRole = p.ServiceIdentity.RoleARN
	}

	gitops := &infra.GitOpsArgs{
		Provider:     p.Kubernetes,
		ChartVersion: cfg.ArgoCDChartVersion,
		HA:           cfg.Protect,
		ServiceSource: infra.ServiceSource{ServiceName: cfg.ServiceName, Namespace: cfg.ServiceNamespace(), Stack: cfg.Stack,
			RepoURL: cfg.AppRepoURL, ChartPath: cfg.AppChartPath, TargetRevision: cfg.AppTargetRevision},
		APIKey:         cfg.APIKey,
		WaitFor:        p.Addons.Ready,
		ServiceWaitFor: serviceReady,
		ServiceRoleARN: serviceRole,
	}
	if cfg.HasAppRepoToken {
		gitops.RepoToken = cfg.AppRepoToken
	}
	p.GitOps, err = infra.NewGitOps(ctx, "gitops", gitops, protect)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkVPCCNIIdentity refuses to take the CNI policy from the nodes of a running cluster whose VPC CNI has no Pod
// Identity role yet: aws-node would keep calling EC2 with the node role, now without the policy, and no pod would
// get an address. An add-on's new association reaches only aws-node pods started after it (EKS documents a restart
// of the add-on's pods; aws/amazon-vpc-cni-k8s#1338 reports none for its IRSA role), hence the step in between.
func checkVPCCNIIdentity(ctx *pulumi.Context, cfg *Config, clusterExists bool, opts ...pulumi.InvokeOption) error {
	if cfg.VPCCNIIdentity != infra.VPCCNIPodIdentity || !clusterExists {
		return nil
	}
	addon, err := awseks.LookupAddon(ctx, &awseks.LookupAddonArgs{ClusterName: cfg.ClusterName(), AddonName: infra.AddonVPCCNI}, opts...)
	if err != nil {
		return fmt.Errorf("look up the %s add-on of %s: %w", infra.AddonVPCCNI, cfg.ClusterName(), err)
	}
	for _, a := range addon.PodIdentityAssociations {
		if a.ServiceAccount == infra.VPCCNIServiceAccount {
			return nil
		}
	}
	return &ConfigError{Source: cfg.source, Problems: []string{fmt.Sprintf("vpcCniIdentity: %s takes the CNI policy from the "+
		"nodes, and the running VPC CNI has no Pod Identity role yet, so aws-node would lose its permissions and new pods "+
		"no address. Set %s first and `pulumi up`; check that aws-node restarted onto its role (else `kubectl -n %s "+
		"rollout restart daemonset %s`); then set %s (docs/iam.md)",
		infra.VPCCNIPodIdentity, infra.VPCCNIBoth, infra.VPCCNINamespace, infra.VPCCNIServiceAccount, infra.VPCCNIPodIdentity)}}
}

// nodesName names the nodegroup; autonaming makes its physical name nodesName-<random>.
const nodesName = "nodes"

// liveCluster reads the stack's cluster as it runs in AWS: its Kubernetes version ("" before it exists), which an
// upgrade may move by one minor version only, and the scaling of its nodegroup, where the autoscaler moves the
// desired size (nil before the nodegroup exists). While a replacement is under way two groups exist: the larger
// desired size is kept.
func liveCluster(ctx *pulumi.Context, clusterName string, opts ...pulumi.InvokeOption) (string, *infra.NodeGroupScaling, error) {
	clusters, err := awseks.GetClusters(ctx, opts...)
	if err != nil {
		return "", nil, fmt.Errorf("look up the account's EKS clusters: %w", err)
	}
	if !slices.Contains(clusters.Names, clusterName) {
		return "", nil, nil
	}
	cluster, err := awseks.LookupCluster(ctx, &awseks.LookupClusterArgs{Name: clusterName}, opts...)
	if err != nil {
		return "", nil, fmt.Errorf("look up cluster %s: %w", clusterName, err)
	}
	nodes, err := liveNodes(ctx, clusterName, opts...)
	return cluster.Version, nodes, err
}

func liveNodes(ctx *pulumi.Context, clusterName string, opts ...pulumi.InvokeOption) (*infra.NodeGroupScaling, error) {
	groups, err := awseks.GetNodeGroups(ctx, &awseks.GetNodeGroupsArgs{ClusterName: clusterName}, opts...)
	if err != nil {
		return nil, fmt.Errorf("look up the nodegroups of %s: %w", clusterName, err)
	}
	var live *infra.NodeGroupScaling
	for _, name := range groups.Names {
		if !strings.HasPrefix(name, nodesName+"-") {
			continue
		}
		ng, err := awseks.LookupNodeGroup(ctx, &awseks.LookupNodeGroupArgs{ClusterName: clusterName, NodeGroupName: name}, opts...)
		if err != nil {
			return nil, fmt.Errorf("look up nodegroup %s: %w", name, err)
		}
		for _, sc := range ng.ScalingConfigs {
			if live == nil || sc.DesiredSize > live.Desired {
				live = &infra.NodeGroupScaling{Desired: sc.DesiredSize, Min: sc.MinSize, Max: sc.MaxSize}
			}
		}
	}
	return live, nil
}

// addonsName names the ClusterAddons component, whose autoscaler role the boundary lets read launch templates.
const addonsName = "addons"

// boundaryScope is what the stack's permissions boundary confines its roles to.
func boundaryScope(cfg *Config, env Env) infra.BoundaryScope {
	return infra.BoundaryScope{
		Account: env.Account, ClusterName: cfg.ClusterName(),
		FlowLogGroupName: cfg.FlowLogGroupName(), RolePath: cfg.RolePath(),
		ECRRepositoryName:     cfg.ServiceECRPattern(),
		LaunchTemplateReaders: []string{infra.AutoscalerRoleName(addonsName)},
	}
}

// maxManagedPolicy is IAM's limit on a managed policy document, such as the boundary.
const maxManagedPolicy = 6144

// checkBoundarySize refuses, before anything exists, service statements that would make the service's boundary
// larger than IAM accepts (it carries them).
func checkBoundarySize(cfg *Config) error {
	if len(cfg.ServiceIAMStatements) == 0 {
		return nil
	}
	doc, err := infra.ServiceBoundary(cfg.ServiceIAMStatements).JSON()
	if err != nil {
		return err
	}
	if len(doc) > maxManagedPolicy {
		return &ConfigError{Source: cfg.source, Problems: []string{fmt.Sprintf("%s: the service role's permissions boundary carries its statements and would be "+
			"%d characters, and IAM accepts %d for a managed policy: merge statements, or use wildcards within one service (s3:Get*)",
			keyServiceIAMStatements, len(doc), maxManagedPolicy)}}
	}
	return nil
}

// adminGrants turns clusterAdminArns into access grants keyed by the principal, not by list position, so
// reordering the list changes nothing.
func adminGrants(arns []string) []infra.AccessGrant {
	var grants []infra.AccessGrant
	for _, arn := range arns {
		grants = append(grants, infra.AccessGrant{
			Key:          "admin-" + principalKey(arn),
			PrincipalARN: pulumi.String(arn),
			Policies:     []infra.AccessPolicy{{Policy: infra.AccessPolicyClusterAdmin}},
		})
	}
	return grants
}

// principalKey is account-kind-name of an IAM principal ARN, usable in a logical name.
func principalKey(arn string) string {
	parts := strings.SplitN(arn, ":", 6) // arn partition iam "" account resource
	if len(parts) < 6 {
		return sanitize(arn)
	}
	return sanitize(parts[4] + "-" + parts[5])
}

// Outputs are the stack outputs, keyed by their contract names.
func (p *Platform) Outputs() map[string]pulumi.Output {
	out := map[string]pulumi.Output{
		OutputVPCID:                 p.Network.VPCID,
		OutputPrivateSubnetIDs:      p.Network.PrivateSubnetIDs,
		OutputPublicSubnetIDs:       p.Network.PublicSubnetIDs,
		OutputClusterName:           p.Cluster.Name,
		OutputKubeconfig:            p.Cluster.Kubeconfig,
		OutputClusterOIDCProvider:   p.Cluster.OIDCProviderARN,
		OutputClusterOIDCIssuerURL:  p.Cluster.OIDCProviderURL,
		OutputNodeRoleARN:           p.Cluster.NodeRole.Arn,
		OutputNodeGroupName:         p.NodeGroup.NodeGroupName,
		OutputGitHubOIDCProviderARN: p.GitHub.ProviderARN,
		OutputArgoCDNamespace:       p.GitOps.ArgoCDNamespace,
		OutputAPIPublicAccessCIDRs:  pulumi.ToStringArray(append([]string{}, p.APIPublicAccessCIDRs...)).ToStringArrayOutput(),
		OutputAutoscalerRoleARN:     p.Addons.AutoscalerRoleARN,
	}
	if p.Services == nil {
		out[OutputECRRepositoryURL] = p.Registry.RepositoryURL
		out[OutputGitHubActionsRoleARN] = p.GitHub.PushRoleARN
		out[OutputServiceNamespace] = p.GitOps.ServiceNamespace
	} else {
		out[OutputServices] = p.servicesOutput()
	}
	if p.ServiceIdentity != nil {
		out[OutputServiceRoleARN] = p.ServiceIdentity.RoleARN
	}
	if p.DeployAccess != nil {
		out[OutputDeployRoleARN] = p.DeployAccess.DeployRoleARN
		out[OutputDeployWith] = pulumi.String(p.deployWith).ToStringOutput()
		out[OutputProtected] = pulumi.Bool(p.protected).ToBoolOutput()
		if p.pullRequestPreviews {
			out[OutputPreviewRoleARN] = p.DeployAccess.PreviewRoleARN
		}
	}
	return out
}
