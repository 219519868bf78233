package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const gitOpsType = "platform:infra:GitOps" // frozen; renaming needs an alias

// ArgoCD installation constants.
const (
	ArgoCDNamespace     = "argocd"
	ArgoCDChart         = "argo-cd"
	ArgoCDChartRepo     = "https://argoproj.github.io/argo-helm"
	ArgoCDReleaseName   = "argocd"
	InClusterServer     = "https://kubernetes.default.svc"
	ResourcesFinalizer  = "resources-finalizer.argocd.argoproj.io"
	APIKeySecretKey     = "api-key"
	HelmTimeoutSeconds  = 900 // a cold cluster pulls every ArgoCD image first; Helm's 300 s default is too short
	RepoSecretTypeLabel = "argocd.argoproj.io/secret-type"
)

// GitOpsArgs configures ArgoCD and the service's Application.
type GitOpsArgs struct {
	Provider     *kubernetes.Provider // explicit Kubernetes provider for every child (required)
	ChartVersion string               // exact argo-cd chart version (required)
	HA           bool                 // several replicas and redis-ha (needs 3 nodes); default false (dev)

	// ServiceSource is the one service's chart and namespace; with no ServiceName, Argo CD is installed alone.
	ServiceSource

	APIKey pulumi.StringInput // secret; becomes Secret <ServiceName>-secret key api-key (required)
	// RepoToken, when set, is a secret HTTPS token that lets ArgoCD read a private repository. Default nil: the
	// repository is public.
	RepoToken pulumi.StringInput
	// WaitFor is what Argo CD and the service's namespace need in the cluster first (DNS, the metrics API); they are
	// deleted before it. Default none.
	WaitFor []pulumi.Resource
	// ServiceWaitFor is what the service needs before Argo CD deploys it, such as its Pod Identity association
	// (pods get credentials only if it exists when they start). Default none.
	ServiceWaitFor []pulumi.Resource
	// ServiceRoleARN is the service's own AWS role, if it has one. The chart gets it as the pod annotation
	// ServiceRoleAnnotation, so that a new or changed role rolls the pods: EKS Pod Identity gives credentials only
	// to pods started after their association. Default nil.
	ServiceRoleARN pulumi.StringInput
	// Tenants is set for a platform of several tenants: Argo CD's namespace admits only Argo CD's own pods (a
	// NetworkPolicy), and no Service may take external IPs (CVE-2020-8554, an admission policy). Default false.
	Tenants bool
}

// GitOps is ArgoCD installed by Helm plus the service's namespace, Secret, AppProject and Application.
type GitOps struct {
	pulumi.ResourceState
	ArgoCDNamespace  pulumi.StringOutput `pulumi:"argocdNamespace"`
	ServiceNamespace pulumi.StringOutput `pulumi:"serviceNamespace"`
	ApplicationName  pulumi.StringOutput `pulumi:"applicationName"`
	// Release is Argo CD's Helm release, which the services' projects and Applications wait for (its CRDs).
	Release pulumi.Resource
}

// ArgoCDValues are the argo-cd chart values. HA follows the chart's documented HA setup: redis-ha, and two
// replicas with disruption budgets for the stateless parts. The application controller stays at one replica:
// it shards by cluster, and this platform has one cluster, so a second replica would only idle.
func ArgoCDValues(ha bool) map[string]any {
	replicas := 1
	if ha {
		replicas = 2
	}
	pdb := map[string]any{"enabled": ha, "minAvailable": 1}
	return map[string]any{
		// No Ingress, no LoadBalancer: reach the UI with kubectl port-forward.
		"server": map[string]any{
			"replicas": replicas,
			"service":  map[string]any{"type": "ClusterIP"},
			"pdb":      pdb,
		},
		"repoServer":     map[string]any{"replicas": replicas, "pdb": pdb},
		"applicationSet": map[string]any{"replicas": replicas, "pdb": pdb},
		"controller":     map[string]any{"replicas": 1, "pdb": map[string]any{"enabled": false}},
		"redis-ha":       map[string]any{"enabled": ha},
		"redis":          map[string]any{"enabled": !ha},
		// No SSO is configured; Dex would be one more exposed component.
		"dex": map[string]any{"enabled": false},
	}
}

// AppProjectSpec limits the service's Application to its repository and namespace.
func AppProjectSpec(args *ServiceAppArgs) map[string]any {
	blacklist := []any{
		map[string]any{"group": "", "kind": "ResourceQuota"},
		map[string]any{"group": "", "kind": "LimitRange"},
	}
	if args.Tenancy != nil {
		blacklist = append(blacklist,
			// A tenant's chart must not open its namespace, or replace the platform's policy, with one of its own;
			// nor write the VPC CNI's resolved policies (PolicyEndpoints, which EKS manages and the node agent
			// trusts as they are).
			map[string]any{"group": "networking.k8s.io", "kind": "NetworkPolicy"},
			map[string]any{"group": "networking.k8s.aws", "kind": "*"},
			// Argo CD's controller may write anything, so Kubernetes would let it bind cluster-admin in the
			// namespace, and a pod with that binding could delete the quota and the isolation policy.
			map[string]any{"group": "rbac.authorization.k8s.io", "kind": "Role"},
			map[string]any{"group": "rbac.authorization.k8s.io", "kind": "RoleBinding"},
		)
	}
	return map[string]any{
		"description": fmt.Sprintf("%s: one repository, one namespace", args.ServiceName),
		"sourceRepos": []any{args.RepoURL},
		"destinations": []any{map[string]any{
			"server":    InClusterServer,
			"namespace": args.Namespace,
		}},
		// No cluster-scoped kind at all: Pulumi owns the namespace, and a chart that could write a Namespace could
		// relabel any namespace to Pod Security "privileged" and take a node.
		"clusterResourceWhitelist":   []any{},
		"namespaceResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
		// A chart must not change the namespace's quotas or limits set by the platform team.
		"namespaceResourceBlacklist": blacklist,
	}
}

// ServiceRoleAnnotation is the pod annotation that names the service's AWS role (the chart's podAnnotations).
const ServiceRoleAnnotation = "platform/service-role"

// APIKeyVersionAnnotation is the pod annotation that follows the API key Secret's resourceVersion: the service
// reads the key from its environment at start, so a rotated key reaches it only through new pods, and a changed
// pod template is what makes the Deployment roll them (Argo CD syncs the Application's new parameter).
const APIKeyVersionAnnotation = "platform/api-key-version"

// ApplicationSpec deploys the service chart from Git with automated sync, prune and self-heal. apiKeyVersion is the
// API key Secret's resourceVersion, which the pods carry as an annotation.
func ApplicationSpec(args *ServiceAppArgs, apiKeyVersion pulumi.StringInput) map[string]any {
	helm := map[string]any{
		// The chart reads Secret <release>-secret; pin the release name to the service name.
		"releaseName": args.ServiceName,
		// values-<stack>.yaml lets dev and prod differ in the service repository, if it wants to.
		"valueFiles":              []any{"values.yaml", "values-" + args.Stack + ".yaml"},
		"ignoreMissingValueFiles": true,
	}
	parameters := []any{map[string]any{
		"name": "podAnnotations." + APIKeyVersionAnnotation, "value": apiKeyVersion, "forceString": true,
	}}
	if args.ServiceRoleARN != nil {
		parameters = append(parameters, map[string]any{
			"name": "podAnnotations." + ServiceRoleAnnotation, "value": args.ServiceRoleARN, "forceString": true,
		})
	}
	helm["parameters"] = parameters
	return map[string]any{
		"project": args.ServiceName,
		"source": map[string]any{
			"repoURL":        args.RepoURL,
			"targetRevision": args.TargetRevision,
			"path":           args.ChartPath,
			"helm":           helm,
		},
		"destination": map[string]any{
			"server":    InClusterServer,
			"namespace": args.Namespace,
		},
		"syncPolicy": map[string]any{
			"automated": map[string]any{"prune": true, "selfHeal": true},
			// No CreateNamespace: Pulumi creates the namespace before the Application, with its Pod Security labels.
			"syncOptions": []any{
				"PrunePropagationPolicy=foreground",
				"PruneLast=true",
			},
			"retry": map[string]any{
				"limit": 5,
				"backoff": map[string]any{
					"duration":    "10s",
					"factor":      2,
					"maxDuration": "3m",
				},
			},
		},
		"revisionHistoryLimit": 10,
	}
}

// NewGitOps installs ArgoCD and registers the service's Application. Destroy runs in reverse: the Application
// (with the resources finalizer, so ArgoCD deletes the workloads and their load balancers) goes before ArgoCD.
// With no ServiceName it installs Argo CD alone, for a platform whose services are Service components.
func NewGitOps(ctx *pulumi.Context, name string, args *GitOpsArgs, opts ...pulumi.ResourceOption) (*GitOps, error) {
	if args == nil || args.Provider == nil || args.ChartVersion == "" || args.ServiceName != "" && (args.Namespace == "" ||
		args.RepoURL == "" || args.ChartPath == "" || args.TargetRevision == "" || args.APIKey == nil || args.Stack == "") {
		return nil, fmt.Errorf("gitops %q: provider, chart version, service, namespace, stack, repository and API key are required", name)
	}
	g := &GitOps{}
	if err := ctx.RegisterComponentResource(gitOpsType, name, g, append(opts, pulumi.Providers(args.Provider))...); err != nil {
		return nil, err
	}
	// Every child names the provider itself as well, so none can fall back to a default provider.
	child := []pulumi.ResourceOption{pulumi.Parent(g), pulumi.Provider(args.Provider)}
	with := func(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
		return append(append([]pulumi.ResourceOption{}, child...), extra...)
	}
	wrap := func(what string, err error) error { return fmt.Errorf("gitops %q: %s: %w", name, what, err) }

	// Pulumi creates the namespace; Helm does not (createNamespace false), so it is created exactly once.
	// Every child waits for WaitFor, so on destroy all of them go first: a namespace deleted after the metrics API
	// lost its server would hang in Terminating.
	waitFor := pulumi.DependsOn(args.WaitFor)
	argoNS, err := corev1.NewNamespace(ctx, name+"-argocd-ns", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(ArgoCDNamespace)},
	}, with(waitFor)...)
	if err != nil {
		return nil, wrap("create argocd namespace", err)
	}

	noNamespace := false
	release, err := newHelmRelease(ctx, name+"-argocd", HelmReleaseArgs{
		Name:            ArgoCDReleaseName,
		Chart:           ArgoCDChart,
		Version:         args.ChartVersion,
		Repo:            ArgoCDChartRepo,
		Namespace:       argoNS.Metadata.Name().Elem(),
		CreateNamespace: &noNamespace,
		Atomic:          true,
		CleanupOnFail:   true,
		Timeout:         HelmTimeoutSeconds,
		MaxHistory:      10,
		Values:          ArgoCDValues(args.HA),
	}, with(waitFor)...)
	if err != nil {
		return nil, wrap("install argocd", err)
	}
	g.ArgoCDNamespace = argoNS.Metadata.Name().Elem()
	g.Release = release
	outputs := pulumi.Map{"argocdNamespace": g.ArgoCDNamespace}

	if args.Tenants {
		// Tenants' pods may not reach Argo CD (its API, repo server and Redis): only Argo CD's own pods may.
		// kubectl port-forward enters the pod's own network namespace and is not subject to it.
		if _, err := newNetworkPolicy(ctx, name+"-argocd-isolation", g.ArgoCDNamespace, nil, with(waitFor)...); err != nil {
			return nil, wrap("isolate argocd", err)
		}
		if err := denyExternalIPs(ctx, name, with(waitFor)...); err != nil {
			return nil, wrap("deny external IPs", err)
		}
	}

	if args.ServiceName != "" {
		app, err := NewServiceApp(ctx, name, &ServiceAppArgs{
			ServiceSource: args.ServiceSource, APIKey: args.APIKey, RepoToken: args.RepoToken,
			ServiceRoleARN: args.ServiceRoleARN, ServiceWaitFor: args.ServiceWaitFor, WaitFor: args.WaitFor,
			ArgoCDNamespace: g.ArgoCDNamespace, ArgoCD: release,
		}, child...)
		if err != nil {
			return nil, wrap("service", err)
		}
		g.ServiceNamespace, g.ApplicationName = app.Namespace, app.ApplicationName
		outputs["serviceNamespace"], outputs["applicationName"] = g.ServiceNamespace, g.ApplicationName
	}
	if err := ctx.RegisterResourceOutputs(g, outputs); err != nil {
		return nil, wrap("register outputs", err)
	}
	return g, nil
}

// ServiceSource is where a service's chart comes from and where it is deployed.
type ServiceSource struct {
	ServiceName    string // names the Application, AppProject, Helm release and Secret
	Namespace      string // service namespace
	Stack          string // stack name; selects the optional values-<stack>.yaml of the chart
	RepoURL        string // Git repository of the service chart
	ChartPath      string // chart directory in that repository
	TargetRevision string // branch, tag or commit
}

// ServiceAppArgs configures one service's place in the cluster: its namespace, API key Secret, Argo CD project and
// Application, and with Tenancy its quotas, limits and network isolation.
type ServiceAppArgs struct {
	ServiceSource // (required)

	APIKey         pulumi.StringInput // secret; becomes Secret <ServiceName>-secret key api-key (required)
	RepoToken      pulumi.StringInput // secret token for a private repository; default nil (public)
	ServiceRoleARN pulumi.StringInput // the service's own AWS role (pod annotation ServiceRoleAnnotation); default nil
	WaitFor        []pulumi.Resource  // what the namespace needs in the cluster first (GitOpsArgs.WaitFor)
	ServiceWaitFor []pulumi.Resource  // what the Application waits for (GitOpsArgs.ServiceWaitFor)

	ArgoCDNamespace pulumi.StringInput // Argo CD's namespace (required)
	ArgoCD          pulumi.Resource    // Argo CD's Helm release, which brings the CRDs (required)
	// Tenancy makes the namespace a tenant's: a ResourceQuota, a LimitRange and a NetworkPolicy that admits only
	// its own pods (and the namespaces it names). Default nil: none of them (the single-service layout).
	Tenancy *Tenancy
}

// ServiceApp is what NewServiceApp created.
type ServiceApp struct {
	Namespace       pulumi.StringOutput
	ApplicationName pulumi.StringOutput
}

// NewServiceApp creates the service's namespace, API key Secret, optional repository credentials, AppProject and
// Application, named <name>-..., with opts (the parent and the Kubernetes provider).
func NewServiceApp(ctx *pulumi.Context, name string, args *ServiceAppArgs, opts ...pulumi.ResourceOption) (*ServiceApp, error) {
	if args == nil || args.ServiceName == "" || args.Namespace == "" || args.RepoURL == "" || args.ChartPath == "" ||
		args.TargetRevision == "" || args.APIKey == nil || args.Stack == "" || args.ArgoCDNamespace == nil || args.ArgoCD == nil {
		return nil, fmt.Errorf("service app %q: service, namespace, stack, repository, API key and Argo CD are required", name)
	}
	with := func(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
		return append(append([]pulumi.ResourceOption{}, opts...), extra...)
	}
	wrap := func(what string, err error) error { return fmt.Errorf("%s: %w", what, err) }
	waitFor := pulumi.DependsOn(args.WaitFor)
	release := args.ArgoCD

	svcNS, err := corev1.NewNamespace(ctx, name+"-service-ns", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(args.Namespace),
			Labels: pulumi.StringMap{
				"pod-security.kubernetes.io/enforce": pulumi.String("baseline"),
				"pod-security.kubernetes.io/warn":    pulumi.String("restricted"),
				"pod-security.kubernetes.io/audit":   pulumi.String("restricted"),
			},
		},
	}, with(waitFor)...)
	if err != nil {
		return nil, wrap("create service namespace", err)
	}
	namespace := svcNS.Metadata.Name().Elem()

	// The API key Secret belongs to Pulumi. ArgoCD does not track it (no tracking annotation), and the
	// annotations keep a chart that renders a same-named Secret from pruning or diffing it.
	secret, err := corev1.NewSecret(ctx, name+"-api-key", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(args.ServiceName + "-secret"),
			Namespace: namespace,
			Annotations: pulumi.StringMap{
				"argocd.argoproj.io/sync-options":    pulumi.String("Prune=false"),
				"argocd.argoproj.io/compare-options": pulumi.String("IgnoreExtraneous"),
			},
		},
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{APIKeySecretKey: pulumi.ToSecret(args.APIKey).(pulumi.StringOutput)},
	}, with(pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}))...)
	if err != nil {
		return nil, wrap("create API key secret", err)
	}

	appDeps := append([]pulumi.Resource{release, svcNS, secret}, args.ServiceWaitFor...)
	if args.Tenancy != nil {
		tenancy, err := newTenancy(ctx, name, namespace, args.Tenancy, with(pulumi.DependsOn([]pulumi.Resource{svcNS}))...)
		if err != nil {
			return nil, wrap("tenancy", err)
		}
		// The quota, limits and isolation hold before the first pod of the service starts.
		appDeps = append(appDeps, tenancy...)
	}
	if args.RepoToken != nil {
		repoSecret, err := corev1.NewSecret(ctx, name+"-repo-credentials", &corev1.SecretArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(args.ServiceName + "-repo"),
				Namespace: args.ArgoCDNamespace,
				Labels:    pulumi.StringMap{RepoSecretTypeLabel: pulumi.String("repository")},
			},
			Type: pulumi.String("Opaque"),
			StringData: pulumi.StringMap{
				"type": pulumi.String("git"),
				"url":  pulumi.String(args.RepoURL),
				// GitHub accepts any non-empty user name with a token; this one works for PATs and App tokens.
				"username": pulumi.String("x-access-token"),
				"password": pulumi.ToSecret(args.RepoToken).(pulumi.StringOutput),
			},
		}, with(pulumi.AdditionalSecretOutputs([]string{"data", "stringData"}), pulumi.DependsOn([]pulumi.Resource{release}),
			pulumi.Protect(false))...) // follows appRepoToken, even in a protected stack
		if err != nil {
			return nil, wrap("create repository credentials", err)
		}
		appDeps = append(appDeps, repoSecret)
	}

	// The CRDs come with the Helm release, so both custom resources wait for it.
	project, err := apiextensions.NewCustomResource(ctx, name+"-project", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("argoproj.io/v1alpha1"),
		Kind:       pulumi.String("AppProject"),
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(args.ServiceName),
			Namespace: args.ArgoCDNamespace,
		},
		OtherFields: kubernetes.UntypedArgs{"spec": AppProjectSpec(args)},
	}, with(pulumi.DependsOn([]pulumi.Resource{release}))...)
	if err != nil {
		return nil, wrap("create app project", err)
	}
	appDeps = append(appDeps, project)

	app, err := apiextensions.NewCustomResource(ctx, name+"-application", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("argoproj.io/v1alpha1"),
		Kind:       pulumi.String("Application"),
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(args.ServiceName),
			Namespace: args.ArgoCDNamespace,
			// Deleting the Application deletes what it deployed, load balancers included, before the VPC goes.
			Finalizers: pulumi.StringArray{pulumi.String(ResourcesFinalizer)},
		},
		OtherFields: kubernetes.UntypedArgs{"spec": ApplicationSpec(args, secret.Metadata.ResourceVersion().Elem())},
	}, with(
		pulumi.DependsOn(appDeps),
		// Deletion waits for ArgoCD to remove the workloads and their load balancers.
		pulumi.Timeouts(&pulumi.CustomTimeouts{Create: "10m", Update: "10m", Delete: "20m"}),
	)...)
	if err != nil {
		return nil, wrap("create application", err)
	}
	return &ServiceApp{Namespace: namespace, ApplicationName: app.Metadata.Name().Elem()}, nil
}
