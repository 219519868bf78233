package stacks

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/example/eks-gitops-platform/infra"
)

// keyServices lists the platform's services, each a tenant of the cluster with its own resources. Empty (the
// default): the single-service keys (serviceName, githubRepository, ...) describe the one service.
const keyServices = "services"

// ServiceConfig is one entry of services.
type ServiceConfig struct {
	Name                                                string
	GitHubRepository, GitHubOwnerID, GitHubRepositoryID string
	GitHubAllowedSubjects                               []string
	AppRepoURL, AppChartPath, AppTargetRevision         string
	IAMStatements                                       []infra.Statement
	// APIKeySecret is the stack secret that holds its API key (default <name>ApiKey); APIKey its value.
	APIKeySecret string
	APIKey       pulumi.StringOutput
	// AppRepoTokenSecret is the stack secret with a token for a private chart repository ("" for none).
	AppRepoTokenSecret string
	AppRepoToken       pulumi.StringOutput
	ECRRepositoryName  string // <stack>/<name>
	Tenancy            infra.Tenancy
	// Remove acknowledges the removal of the service: nothing of it is registered, so an update deletes it (in a
	// protected stack, once its resources are unprotected).
	Remove bool
}

// Per-service defaults of the tenancy: what one small service needs, and no public load balancer.
const (
	DefaultServiceCPU           = "2"
	DefaultServiceMemory        = "4Gi"
	DefaultServicePods          = 16 // 16 containers at the default 256Mi limit fill the default 4Gi
	DefaultContainerCPU         = "100m"
	DefaultContainerMemory      = "128Mi"
	DefaultContainerMemoryLimit = "256Mi"
)

// serviceEntryKeys are the keys of an entry of services.
var serviceEntryKeys = []string{"name", "githubRepository", "githubOwnerId", "githubRepositoryId", "githubAllowedSubjects",
	"appRepoUrl", "appChartPath", "appTargetRevision", "iamStatements", "apiKeySecret", "appRepoTokenSecret", "quota",
	"limits", "ingressFrom", "remove"}

// systemNamespaces are namespaces a service may not take: Kubernetes', EKS's and the platform's own.
var systemNamespaces = []string{"default", infra.ArgoCDNamespace, "amazon-cloudwatch", "aws-observability"}

// MultiService reports whether the stack lists its services.
func (c *Config) MultiService() bool { return c.multiService }

// ServiceECRPattern is the ECR repository name the stack's boundary and deploy role admit: the one repository, or
// with services every repository under the stack's prefix.
func (c *Config) ServiceECRPattern() string {
	if c.MultiService() {
		return sanitizeRepoName(c.Stack) + "/*"
	}
	return c.ECRRepositoryName
}

// services reads and validates services; every problem is recorded, each named by its entry.
func (l *loader) services(c *Config) {
	raw, ok := l.raw(keyServices)
	if !ok || strings.TrimSpace(raw) == "" || strings.TrimSpace(raw) == "[]" {
		return
	}
	var items []map[string]any
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		l.fail(keyServices, "must be a list of services, each an object with name, githubRepository, githubOwnerId, githubRepositoryId and appRepoUrl, got %q", raw)
		return
	}
	if len(items) == 0 {
		return
	}
	c.multiService = true
	l.singleServiceKeysUnset(c)
	byName := map[string]int{}
	byRepo := map[string]string{}
	for i, item := range items {
		s := l.serviceEntry(c, i, item)
		key := fmt.Sprintf("%s[%d]", keyServices, i)
		if first, dup := byName[s.Name]; dup && s.Name != "" {
			l.fail(key+".name", "%q is also the name of services[%d]: each service needs its own name (it names its namespace, repository and roles)", s.Name, first)
		}
		byName[s.Name] = i
		if repo := strings.ToLower(s.GitHubRepository); repo != "" && !s.Remove {
			if other, dup := byRepo[repo]; dup {
				l.fail(key+".githubRepository", "%s is also the repository of service %s: the push roles trust a repository's workflows, so one repository would push to both services' images; give each service its own repository", s.GitHubRepository, other)
			}
			byRepo[repo] = s.Name
		}
		c.Services = append(c.Services, s)
	}
	for i, s := range c.Services {
		for _, from := range s.Tenancy.IngressFrom {
			switch j, known := byName[from]; {
			case known && c.Services[j].Remove:
				l.fail(fmt.Sprintf("%s[%d].ingressFrom", keyServices, i), "names %s, which is being removed (remove: true)", from)
			case from == s.Name:
				l.fail(fmt.Sprintf("%s[%d].ingressFrom", keyServices, i), "names the service itself, whose pods always reach each other")
			case !known:
				l.fail(fmt.Sprintf("%s[%d].ingressFrom", keyServices, i), "%q is not a service of this stack (services: %s)", from, strings.Join(serviceNames(c.Services), ", "))
			}
		}
	}
}

func serviceNames(services []ServiceConfig) []string {
	var names []string
	for _, s := range services {
		names = append(names, s.Name)
	}
	return names
}

// singleServiceKeysUnset refuses the single-service keys beside services: one of them would silently not apply.
func (l *loader) singleServiceKeysUnset(c *Config) {
	set := []struct {
		key   string
		isSet bool
	}{
		{"serviceName", c.ServiceName != DefaultServiceName},
		{"ecrRepositoryName", c.ecrRepositoryNameSet},
		{"githubRepository", c.GitHubRepository != ""},
		{"githubOwnerId", c.GitHubOwnerID != ""},
		{"githubRepositoryId", c.GitHubRepositoryID != ""},
		{"githubAllowedSubjects", !slices.Equal(c.GitHubAllowedSubjects, []string{DefaultAllowedSubject})},
		{"appRepoUrl", c.AppRepoURL != ""},
		{"appChartPath", c.appChartPathSet},
		{"appTargetRevision", c.AppTargetRevision != DefaultAppTargetRevision},
		{keyServiceIAMStatements, len(c.ServiceIAMStatements) > 0},
		{"apiKey", c.apiKeySet},
		{"appRepoToken", c.HasAppRepoToken},
	}
	for _, k := range set {
		if k.isSet {
			l.fail(k.key, "is a single-service key, and this stack lists services: move it into its entry of services (see the README's \"More services\"), then `pulumi config rm %s`", k.key)
		}
	}
}

var (
	cpuQuantityRe    = regexp.MustCompile(`^([0-9]+(\.[0-9]{1,3})?|[0-9]+m)$`)
	memoryQuantityRe = regexp.MustCompile(`^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$`)
)

// quantity is a Kubernetes CPU (in millicores) or memory (in bytes) quantity; nil when malformed.
func quantity(v string, memory bool) *big.Rat {
	if memory {
		if !memoryQuantityRe.MatchString(v) {
			return nil
		}
		i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
		digits, unit := v, ""
		if i >= 0 {
			digits, unit = v[:i], v[i:]
		}
		n, _ := new(big.Rat).SetString(digits)
		mult := map[string]int64{"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}[unit]
		return n.Mul(n, new(big.Rat).SetInt64(mult))
	}
	if !cpuQuantityRe.MatchString(v) {
		return nil
	}
	if m, ok := strings.CutSuffix(v, "m"); ok {
		n, _ := new(big.Rat).SetString(m)
		return n
	}
	n, _ := new(big.Rat).SetString(v)
	return n.Mul(n, big.NewRat(1000, 1))
}

// serviceEntry reads one entry of services with its defaults and records its problems.
func (l *loader) serviceEntry(c *Config, i int, item map[string]any) ServiceConfig {
	key := func(k string) string { return fmt.Sprintf("%s[%d].%s", keyServices, i, k) }
	for k := range item {
		if !slices.Contains(serviceEntryKeys, k) {
			l.fail(fmt.Sprintf("%s[%d]", keyServices, i), "has %s, which a service does not take; its keys are %s", k, strings.Join(serviceEntryKeys, ", "))
		}
	}
	str := func(k, def string) string {
		switch v := item[k].(type) {
		case nil:
			return def
		case string:
			return strings.TrimSpace(v)
		default:
			l.fail(key(k), "must be a string, got %v", v)
			return def
		}
	}
	object := func(k string) map[string]any {
		v, ok := item[k].(map[string]any)
		if !ok && item[k] != nil {
			l.fail(key(k), "must be an object, got %v", item[k])
		}
		return v
	}
	s := ServiceConfig{Name: str("name", "")}
	switch v := item["remove"].(type) {
	case nil:
	case bool:
		s.Remove = v
	default:
		l.fail(key("remove"), "must be true or false, got %v", v)
	}
	s.GitHubRepository = str("githubRepository", "")
	s.GitHubOwnerID = str("githubOwnerId", "")
	s.GitHubRepositoryID = str("githubRepositoryId", "")
	s.AppRepoURL = str("appRepoUrl", "")
	s.AppChartPath = str("appChartPath", "helm/"+s.Name)
	s.AppTargetRevision = str("appTargetRevision", DefaultAppTargetRevision)
	s.APIKeySecret = str("apiKeySecret", s.Name+"ApiKey")
	s.AppRepoTokenSecret = str("appRepoTokenSecret", "")
	s.ECRRepositoryName = sanitizeRepoName(c.Stack) + "/" + s.Name
	s.GitHubAllowedSubjects = []string{DefaultAllowedSubject}
	if v, ok := item["githubAllowedSubjects"]; ok {
		s.GitHubAllowedSubjects = l.stringOrList(key("githubAllowedSubjects"), v)
	}

	switch {
	case s.Name == "":
		l.fail(key("name"), "is required: a DNS label naming the service's namespace, repository and roles")
	case !dnsLabelRe.MatchString(s.Name):
		l.fail(key("name"), "must be a DNS label (lowercase letters, digits, '-', at most 42 characters) because it names a namespace and a Secret, got %q", s.Name)
	case slices.Contains(systemNamespaces, s.Name) || strings.HasPrefix(s.Name, "kube-"):
		l.fail(key("name"), "%q names a namespace Kubernetes, EKS or Argo CD already owns; choose the service's own name", s.Name)
	case !ecrNameRe.MatchString(s.ECRRepositoryName):
		l.fail(key("name"), "%q makes the repository name %s, which ECR refuses (no two separators in a row)", s.Name, s.ECRRepositoryName)
	case s.Name == "github":
		// Services are found in the account by their push roles, <name>-push-role-*, and github-push-role-* is the
		// one service's of the single-service layout.
		l.fail(key("name"), "%q is the name of the single-service layout's push role; choose another", s.Name)
	}
	if s.Remove {
		return s // nothing of it is registered: its other keys are not read
	}
	if v, ok := item["ingressFrom"]; ok {
		s.Tenancy.IngressFrom = l.stringOrList(key("ingressFrom"), v)
	}
	switch {
	case s.GitHubRepository == "":
		l.fail(key("githubRepository"), "is required: the owner/name of the repository whose Actions push the service's images")
	case !githubNameRe.MatchString(s.GitHubRepository) || strings.HasSuffix(s.GitHubRepository, "/.") || strings.HasSuffix(s.GitHubRepository, "/.."):
		l.fail(key("githubRepository"), "must be owner/name using GitHub's characters, got %q", s.GitHubRepository)
	}
	l.repositoryIDs(key("githubOwnerId"), key("githubRepositoryId"), s.GitHubRepository, s.GitHubOwnerID, s.GitHubRepositoryID)
	for _, sub := range s.GitHubAllowedSubjects {
		if !validSubject(sub) {
			l.fail(key("githubAllowedSubjects"), "%q is not allowed; use ref:refs/heads/BRANCH, ref:refs/tags/TAG, environment:NAME or pull_request (no wildcards)", sub)
		}
	}
	if size := trustSize(s.GitHubRepository, s.GitHubOwnerID, s.GitHubRepositoryID, s.GitHubAllowedSubjects, c.GitHubNameSubjects); size > maxTrustPolicy {
		l.fail(key("githubAllowedSubjects"), "make the push role's trust policy %d characters, and IAM accepts %d: list fewer subjects", size, maxTrustPolicy)
	}
	switch {
	case s.AppRepoURL == "":
		l.fail(key("appRepoUrl"), "is required: the https Git URL of the repository holding the service's Helm chart")
	case !strings.HasPrefix(s.AppRepoURL, "https://"):
		l.fail(key("appRepoUrl"), "must be an https:// URL (with appRepoTokenSecret for a private repository), got %q", s.AppRepoURL)
	}
	if strings.HasPrefix(s.AppChartPath, "/") || strings.Contains(s.AppChartPath, "..") {
		l.fail(key("appChartPath"), "must be a relative path inside the repository such as helm/%s, got %q", s.Name, s.AppChartPath)
	}
	if s.AppTargetRevision == "" || strings.ContainsAny(s.AppTargetRevision, " *") {
		l.fail(key("appTargetRevision"), "must be a branch, tag or commit such as main, got %q", s.AppTargetRevision)
	}
	l.servicePlaceholders(key, s)

	if v, ok := item["iamStatements"]; ok {
		list, isList := v.([]any)
		if !isList {
			l.fail(key("iamStatements"), "must be a list of IAM statements (Effect, Action, Resource, optional Sid and Condition)")
		}
		for j, e := range list {
			m, isMap := e.(map[string]any)
			if !isMap {
				l.fail(fmt.Sprintf("%s[%d]", key("iamStatements"), j), "must be an IAM statement object")
				continue
			}
			if st, ok := l.serviceStatement(fmt.Sprintf("%s[%d]", key("iamStatements"), j), m); ok {
				s.IAMStatements = append(s.IAMStatements, st)
			}
		}
		if len(s.IAMStatements) > 0 {
			l.policySizes(key("iamStatements"), s.IAMStatements)
		}
	}

	s.APIKey, _ = l.secret(s.APIKeySecret, true, "pulumi config set --secret "+s.APIKeySecret+" <value>")
	if s.AppRepoTokenSecret != "" {
		s.AppRepoToken, _ = l.secret(s.AppRepoTokenSecret, true, "pulumi config set --secret "+s.AppRepoTokenSecret+" <token>")
	}

	quota, limits := object("quota"), object("limits")
	for k := range quota {
		if !slices.Contains([]string{"cpu", "memory", "pods", "loadBalancers"}, k) {
			l.fail(key("quota"), "has %s; a quota takes cpu, memory, pods and loadBalancers", k)
		}
	}
	for k := range limits {
		if !slices.Contains([]string{"cpu", "memory", "memoryLimit"}, k) {
			l.fail(key("limits"), "has %s; limits take cpu, memory and memoryLimit (a container's defaults)", k)
		}
	}
	text := func(m map[string]any, k, def string) string {
		switch v := m[k].(type) {
		case nil:
			return def
		case string:
			return v
		default:
			return fmt.Sprint(v) // a number: 2 CPUs
		}
	}
	count := func(m map[string]any, k string, def, least int) int {
		v, ok := m[k]
		if !ok {
			return def
		}
		n, isNum := v.(float64)
		if !isNum || n != float64(int(n)) || int(n) < least || n > 10000 {
			l.fail(key("quota."+k), "must be a whole number from %d to 10000, got %v", least, v)
			return def
		}
		return int(n)
	}
	t := &s.Tenancy
	t.CPU, t.Memory = text(quota, "cpu", DefaultServiceCPU), text(quota, "memory", DefaultServiceMemory)
	t.Pods, t.LoadBalancers = count(quota, "pods", DefaultServicePods, 1), count(quota, "loadBalancers", 0, 0)
	t.DefaultCPU, t.DefaultMemory = text(limits, "cpu", DefaultContainerCPU), text(limits, "memory", DefaultContainerMemory)
	t.DefaultMemoryLimit = text(limits, "memoryLimit", DefaultContainerMemoryLimit)
	q := map[string]*big.Rat{}
	for _, v := range []struct {
		key, value string
		memory     bool
	}{
		{"quota.cpu", t.CPU, false}, {"quota.memory", t.Memory, true}, {"limits.cpu", t.DefaultCPU, false},
		{"limits.memory", t.DefaultMemory, true}, {"limits.memoryLimit", t.DefaultMemoryLimit, true},
	} {
		n := quantity(v.value, v.memory)
		switch {
		case n == nil && v.memory:
			l.fail(key(v.key), "must be a memory quantity such as 512Mi or 4Gi, got %q", v.value)
		case n == nil:
			l.fail(key(v.key), "must be a CPU quantity such as 500m or 2, got %q", v.value)
		case n.Sign() <= 0:
			l.fail(key(v.key), "must be more than zero, got %q", v.value)
		default:
			q[v.key] = n
		}
	}
	less := func(a, b, why string) {
		if q[a] != nil && q[b] != nil && q[a].Cmp(q[b]) > 0 {
			l.fail(key(a), "is %s, more than %s (%s): %s", valueOf(t, a), b, valueOf(t, b), why)
		}
	}
	less("limits.cpu", "quota.cpu", "no container would fit in the namespace's quota")
	less("limits.memory", "limits.memoryLimit", "a container's default request must not exceed its default limit")
	less("limits.memoryLimit", "quota.memory", "no container would fit in the namespace's quota")
	return s
}

// valueOf is a tenancy setting by its key in an entry.
func valueOf(t *infra.Tenancy, k string) string {
	return map[string]string{"quota.cpu": t.CPU, "quota.memory": t.Memory, "limits.cpu": t.DefaultCPU,
		"limits.memory": t.DefaultMemory, "limits.memoryLimit": t.DefaultMemoryLimit}[k]
}

// servicePlaceholders refuses, on `pulumi up`, a service entry that names the shipped placeholder repository.
func (l *loader) servicePlaceholders(key func(string) string, s ServiceConfig) {
	owner := func(repository string) bool {
		o, _, _ := strings.Cut(repository, "/")
		return strings.EqualFold(o, PlaceholderOwner)
	}
	if owner(s.GitHubRepository) {
		l.placeholder(key("githubRepository"), "%s is the shipped placeholder: name the service's own repository", s.GitHubRepository)
	}
	if u, err := url.Parse(s.AppRepoURL); err == nil && owner(strings.TrimPrefix(u.Path, "/")) {
		l.placeholder(key("appRepoUrl"), "%s is the shipped placeholder: name the service's own repository", s.AppRepoURL)
	}
	pair := s.GitHubOwnerID == PlaceholderOwnerID && s.GitHubRepositoryID == PlaceholderRepositoryID
	if pair || owner(s.GitHubRepository) && (s.GitHubOwnerID == PlaceholderOwnerID || s.GitHubRepositoryID == PlaceholderRepositoryID) {
		l.placeholder(key("githubRepositoryId"), "the IDs are the shipped examples: set the repository's own (`gh api repos/<owner/name> --jq '.owner.id, .id'`)")
	}
}

// policySizes refuses service statements whose role policy or boundary IAM would refuse.
func (l *loader) policySizes(key string, statements []infra.Statement) {
	if doc, err := (infra.PolicyDocument{Version: "2012-10-17", Statement: statements}).JSON(); err == nil && len(doc) > maxInlinePolicies {
		l.fail(key, "make a policy of %d characters, and IAM accepts %d for a role's inline policies: merge statements, or use wildcards within one service (s3:Get*)", len(doc), maxInlinePolicies)
	}
	if doc, err := infra.ServiceBoundary(statements).JSON(); err == nil && len(doc) > maxManagedPolicy {
		l.fail(key, "make the service role's permissions boundary %d characters, and IAM accepts %d for a managed policy: merge statements, or use wildcards within one service (s3:Get*)", len(doc), maxManagedPolicy)
	}
}

// deployServices installs Argo CD alone, isolated from the tenants, and one Service per entry of services, each
// named after its service, so that adding, removing or reordering entries touches no other service.
func deployServices(ctx *pulumi.Context, cfg *Config, env Env, p *Platform, roles infra.RoleSettings, protect pulumi.ResourceOption) error {
	var err error
	p.GitOps, err = infra.NewGitOps(ctx, "gitops", &infra.GitOpsArgs{
		Provider: p.Kubernetes, ChartVersion: cfg.ArgoCDChartVersion, HA: cfg.Protect, WaitFor: p.Addons.Ready,
		Tenants: true,
	}, protect)
	if err != nil {
		return err
	}
	p.Services = map[string]*infra.Service{}
	for _, s := range cfg.Services {
		if s.Remove {
			continue // its resources are deleted
		}
		args := &infra.ServiceArgs{
			Account: env.Account, Roles: roles,
			ECRRepositoryName: s.ECRRepositoryName, KeepTaggedImages: cfg.ImageRetainCount, Protected: cfg.Protect,
			Push: infra.PushRoleArgs{Repository: s.GitHubRepository, OwnerID: s.GitHubOwnerID, RepositoryID: s.GitHubRepositoryID,
				AllowedSubjects: s.GitHubAllowedSubjects, NameSubjects: cfg.GitHubNameSubjects, ProviderARN: p.GitHub.ProviderARN},
			ClusterName: cfg.ClusterName(), Cluster: p.Cluster.Name,
			// The chart names the ServiceAccount after the service, in the service's namespace.
			ServiceAccount: s.Name,
			Provider:       p.Kubernetes,
			App: infra.ServiceAppArgs{
				ServiceSource: infra.ServiceSource{ServiceName: s.Name, Namespace: s.Name, Stack: cfg.Stack, RepoURL: s.AppRepoURL,
					ChartPath: s.AppChartPath, TargetRevision: s.AppTargetRevision},
				APIKey: s.APIKey, WaitFor: p.Addons.Ready,
				ArgoCDNamespace: p.GitOps.ArgoCDNamespace, ArgoCD: p.GitOps.Release,
				Tenancy: &s.Tenancy,
			},
		}
		if s.AppRepoTokenSecret != "" {
			args.App.RepoToken = s.AppRepoToken
		}
		if len(s.IAMStatements) > 0 {
			args.Policy = infra.PolicyDocument{Version: "2012-10-17", Statement: s.IAMStatements}
			args.Boundary = infra.ServiceBoundary(s.IAMStatements)
		}
		if p.Services[s.Name], err = infra.NewService(ctx, s.Name, args, protect); err != nil {
			return err
		}
	}
	return nil
}

// servicesOutput is the services output: per service, what its repository's CI and its operators need.
func (p *Platform) servicesOutput() pulumi.StringMapMapOutput {
	out := pulumi.StringMapMap{}
	for name, s := range p.Services {
		out[name] = pulumi.StringMap{
			"namespace":            s.Namespace,
			"ecrRepositoryUrl":     s.RepositoryURL,
			"githubActionsRoleArn": s.PushRoleARN,
			"serviceRoleArn":       s.ServiceRoleARN,
		}
	}
	return out.ToStringMapMapOutput()
}

// pushRoleRe matches the physical name of a Service's push role, <service>-push-role-<autoname suffix>.
// identityRoleRe the name of its Pod Identity role.
var (
	pushRoleRe     = regexp.MustCompile(`^([a-z0-9][-a-z0-9]*)-push-role-[0-9a-f]{7}$`)
	identityRoleRe = regexp.MustCompile(`^([a-z0-9][-a-z0-9]*)-identity-role-[0-9a-f]{7}$`)
)

// checkProtectedServiceRemovals: in a protected stack, a service that disappears from services would have its
// namespace, workloads, repository and roles deleted, which protect stops halfway; it is refused before anything
// changes, with the command that unprotects exactly its resources and the acknowledgement that lets the removal go
// through: its entry kept with `remove: true`. The stack's services are found by their push roles among the
// account's roles. A service marked for removal, or one whose iamStatements are emptied, gets the command as a
// notice (the engine's protection refuses until it has run).
func checkProtectedServiceRemovals(cfg *Config, roleARNs []string, inComponent bool) error {
	listed := map[string]ServiceConfig{}
	for _, s := range cfg.Services {
		listed[s.Name] = s
	}
	gone, identities := map[string]bool{}, map[string]bool{}
	single := false
	for _, arn := range roleARNs {
		_, pathName, _ := strings.Cut(arn, ":role")
		i := strings.LastIndex(pathName, "/")
		if i < 0 || pathName[:i+1] != cfg.RolePath() {
			continue
		}
		name := pathName[i+1:]
		// github-push-role-* is the single-service layout's push role (the name "github" is refused to services).
		if m := pushRoleRe.FindStringSubmatch(name); m != nil && m[1] == "github" {
			single = true
		} else if m != nil {
			if _, ok := listed[m[1]]; !ok {
				gone[m[1]] = true
			}
		}
		if m := identityRoleRe.FindStringSubmatch(name); m != nil {
			identities[m[1]] = true
		}
	}
	urns := func(name string, identity bool) []string { return ServiceURNs(cfg.Project, cfg.Stack, name, identity) }
	var problems []string
	if single {
		problems = append(problems, keyServices+": this protected stack runs the single-service layout (its push role is in "+
			"the account): listing services would create them beside it and then stop at every protected resource of the "+
			"one service, leaving both. Put several services on a new stack (docs/services.md, \"The switch\")")
	}
	for _, name := range slices.Sorted(maps.Keys(gone)) {
		problems = append(problems, fmt.Sprintf("%s: service %s is no longer listed, which deletes its namespace and "+
			"workloads, repository, roles and Argo CD Application, and this stack protects them (protect: true). To remove "+
			"it, %s, list it again with `remove: true` (its other keys may go), and `pulumi up` (its repository keeps its "+
			"images: delete them first); once it is gone, drop the entry. To keep it, list it again as it was",
			keyServices, name, unprotect(urns(name, identities[name]), inComponent)))
	}
	for _, s := range cfg.Services {
		switch {
		case s.Remove && hasRole(cfg, roleARNs, s.Name+"-push-role"):
			cfg.Notices = append(cfg.Notices, fmt.Sprintf("%s: service %s is being removed; `pulumi up` stops at its "+
				"protected resources until you %s", keyServices, s.Name, unprotect(urns(s.Name, identities[s.Name]), inComponent)))
		case !s.Remove && len(s.IAMStatements) == 0 && identities[s.Name]:
			var own []string
			for _, child := range infra.ServiceIdentityChildren(s.Name) {
				own = append(own, cfg.urn(infra.ServiceType+"$"+child[0], child[1]))
			}
			cfg.Notices = append(cfg.Notices, fmt.Sprintf("%s: service %s has no iamStatements, which deletes its AWS role, "+
				"its policy and Pod Identity association and its boundary, protected in this stack: `pulumi up` stops at "+
				"them until you %s; to keep them, set its statements again", keyServices, s.Name, unprotect(own, inComponent)))
		}
	}
	if len(problems) > 0 {
		return &ConfigError{Source: cfg.source, Problems: problems}
	}
	return nil
}

// ServiceURNs are the URNs of the protected resources of a service of the program's stack: the Service and every
// descendant but its repository credentials (withIdentity: its Pod Identity role and boundary too).
func ServiceURNs(project, stack, name string, withIdentity bool) []string {
	c := &Config{Project: project, Stack: stack}
	out := []string{c.urn(infra.ServiceType, name)}
	for _, child := range infra.ServiceProtectedChildren(name, withIdentity) {
		out = append(out, c.urn(infra.ServiceType+"$"+child[0], child[1]))
	}
	return out
}

// RequiredSecrets are the secret keys a configuration needs set: apiKey, or with services each service's API key
// secret and its repository token secret, if it names one. The offline plan gives them placeholders.
func RequiredSecrets(get func(key string) (string, bool)) []string {
	raw, _ := get(keyServices)
	var items []map[string]any
	if json.Unmarshal([]byte(raw), &items) != nil || len(items) == 0 {
		return []string{"apiKey"}
	}
	var keys []string
	for _, item := range items {
		if remove, _ := item["remove"].(bool); remove {
			continue
		}
		name, _ := item["name"].(string)
		key, _ := item["apiKeySecret"].(string)
		if key == "" {
			key = name + "ApiKey"
		}
		keys = append(keys, key)
		if token, _ := item["appRepoTokenSecret"].(string); token != "" {
			keys = append(keys, token)
		}
	}
	return keys
}
