package stacks

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/example/eks-gitops-platform/infra"
)

// Defaults applied by Load. Pulumi.yaml declares the same defaults for the CLI; a test keeps the two in step,
// because under mocks (and for keys a stack file leaves out) only these are applied.
const (
	DefaultVPCCIDR            = "10.0.0.0/16"
	DefaultAZCount            = 2
	DefaultNATGateways        = NATSingle
	DefaultKubernetesVersion  = "1.36" // the newest in EKS standard support on infra.CalendarChecked
	DefaultNodeCapacityType   = "ON_DEMAND"
	DefaultNodeMinSize        = 2
	DefaultNodeDesiredSize    = 2
	DefaultNodeMaxSize        = 4
	DefaultNodeDiskSizeGiB    = 50
	DefaultServiceName        = "your-service"
	DefaultAllowedSubject     = "ref:refs/heads/main"
	DefaultArgoCDChartVersion = "9.1.0"
	DefaultAppTargetRevision  = "main"
	DefaultLogRetentionDays   = 30
	DefaultImageRetainCount   = 30
)

// ArgoCDAppVersion is the Argo CD release that chart DefaultArgoCDChartVersion installs (its appVersion). The
// tests validate the Application and AppProject against this release's CRDs; bump both together.
const ArgoCDAppVersion = "v3.2.0"

// DefaultNodeInstanceTypes is the nodegroup's instance list when nodeInstanceTypes is not set.
var DefaultNodeInstanceTypes = []string{"t3.large"}

// NAT gateway modes.
const (
	NATSingle = "single"
	NATPerAZ  = "perAz"
)

// SupportedKubernetesVersions are the EKS minor versions the program offers: every version of the EKS calendar
// (infra.KubernetesVersions), in standard or extended support.
var SupportedKubernetesVersions = infra.KubernetesVersionNames()

// Now is the clock the support windows are read against; tests set it.
var Now = time.Now

// MaxAZCount is the most availability zones the subnet layout reserves space for.
const MaxAZCount = 4

// Config is the typed stack configuration. Every field is set after Load: defaults are applied there.
type Config struct {
	Project string
	Stack   string

	VPCCIDR                   string
	AZCount                   int
	NATGateways               string
	KubernetesVersion         string
	EndpointPublicAccessCIDRs []string
	ClusterAdminARNs          []string
	NodeInstanceTypes         []string
	NodeCapacityType          string
	NodeMinSize               int
	NodeDesiredSize           int
	NodeMaxSize               int
	NodeDiskSizeGiB           int
	LogRetentionDays          int

	ServiceName           string
	ECRRepositoryName     string
	ImageRetainCount      int
	GitHubRepository      string
	GitHubAllowedSubjects []string
	GitHubOwnerID         string
	GitHubRepositoryID    string
	GitHubOIDCProviderARN string

	ArgoCDChartVersion string
	AppRepoURL         string
	AppChartPath       string
	AppTargetRevision  string
	APIKey             pulumi.StringOutput // secret
	AppRepoToken       pulumi.StringOutput // secret; only meaningful when HasAppRepoToken
	HasAppRepoToken    bool

	PulumiOrganization    string
	PulumiOIDCProviderARN string
	InfraRepository       string
	InfraOwnerID          string
	InfraRepositoryID     string
	// DeployWith is the flow whose automation may assume the deploy role: DeployWithDeployments,
	// DeployWithGitHubActions, or "" for none (no deploy role).
	DeployWith string
	// GitHubNameSubjects also trusts GitHub's name-only subject form, which only repositories created before
	// 2026-07-15 (and not renamed or transferred since) send.
	GitHubNameSubjects bool

	// ServiceIAMStatements are the service's own AWS permissions; with any, the service's ServiceAccount gets a
	// role of its own through EKS Pod Identity. Default none (no role).
	ServiceIAMStatements []infra.Statement

	Protect bool

	// VPCCNIIdentity is whose identity the VPC CNI runs with: infra.VPCCNINode, VPCCNIBoth or VPCCNIPodIdentity.
	VPCCNIIdentity string

	// Services are the platform's services when the stack lists them (keyServices); nil when the single-service
	// keys describe the one service.
	Services     []ServiceConfig
	multiService bool
	// Which single-service keys were set (their defaults are derived), so that a stack listing services refuses them.
	ecrRepositoryNameSet, appChartPathSet, apiKeySet bool

	// Warnings are problems a preview tolerates and `pulumi up` refuses.
	Warnings []string
	// Notices are said on every run and refused never: extended support, a stale version calendar.
	Notices []string

	source string // what an error names (ConfigError.Source)
}

// ClusterName is the EKS cluster's physical name. It is explicit (not autonamed) because the subnet discovery
// tags and the control-plane log group must name it before the cluster exists; project and stack keep it unique
// per account and region.
func (c *Config) ClusterName() string { return sanitize(c.Project + "-" + c.Stack) }

const maxClusterName = 100

// RolePath is the IAM path of every role this stack creates; the deploy role may manage roles under it only.
func (c *Config) RolePath() string { return "/" + sanitize(c.Project) + "/" + sanitize(c.Stack) + "/" }

// FlowLogGroupName is the VPC flow log group's name; explicit, so that its key and the boundary can name it first.
func (c *Config) FlowLogGroupName() string { return "/aws/vpc-flow-logs/" + c.ClusterName() }

// PullRequestPreviews reports whether pull requests of the infrastructure repository preview this stack. Their
// code reads the configuration it previews, secrets included, so a protected (production) stack has none.
func (c *Config) PullRequestPreviews() bool { return c.InfraRepository != "" && !c.Protect }

// ServiceNamespace is the Kubernetes namespace of the service.
func (c *Config) ServiceNamespace() string { return c.ServiceName }

// ServiceAccountName is the Kubernetes ServiceAccount of the service's pods: the service chart names it after its
// release, which the Application names after the service.
func (c *Config) ServiceAccountName() string { return c.ServiceName }

// ConfigError lists every problem found in the stack configuration (or the component's arguments).
type ConfigError struct {
	Problems []string
	// Source is what was invalid; default the stack configuration.
	Source string
}

func (e *ConfigError) Error() string {
	source := e.Source
	if source == "" {
		source = "stack configuration (fix these with `pulumi config set`, or edit the stack file)"
	}
	return "invalid " + source + ":\n  - " + strings.Join(e.Problems, "\n  - ")
}

// Values are where the configuration comes from: the stack's Pulumi configuration for the program, a component's
// arguments for the Platform component. Keys are the contract's (Pulumi.yaml), values as Pulumi config holds
// them: strings, with lists and objects as JSON.
type Values interface {
	// Get returns a key's value and whether it is set.
	Get(key string) (string, bool)
	// Secret returns a secret key's value (a secret output), whether it is set, and whether it is stored
	// encrypted.
	Secret(key string) (value pulumi.StringOutput, set, encrypted bool)
	// Source names what an error is about, such as "stack configuration"; "" for the stack configuration.
	Source() string
}

// StackConfig is the stack's Pulumi configuration, in the project's namespace.
type StackConfig struct{ Ctx *pulumi.Context }

func (v StackConfig) Get(key string) (string, bool) {
	return v.Ctx.GetConfig(v.Ctx.Project() + ":" + key)
}

func (v StackConfig) Secret(key string) (pulumi.StringOutput, bool, bool) {
	full := v.Ctx.Project() + ":" + key
	s, ok := v.Ctx.GetConfig(full)
	if !ok || s == "" {
		return pulumi.ToSecret(pulumi.String("")).(pulumi.StringOutput), false, false
	}
	return pulumi.ToSecret(pulumi.String(s)).(pulumi.StringOutput), true, v.Ctx.IsConfigSecret(full)
}

func (StackConfig) Source() string { return "" }

type loader struct {
	ctx      *pulumi.Context
	values   Values
	problems []string
	warnings []string
	notices  []string
}

func (l *loader) fail(key, format string, args ...any) {
	l.problems = append(l.problems, key+": "+fmt.Sprintf(format, args...))
}

// warn records a problem that only `pulumi up` refuses.
func (l *loader) warn(key, format string, args ...any) {
	l.warnings = append(l.warnings, key+": "+fmt.Sprintf(format, args...))
}

// placeholder is a value the shipped stack files hold until the user sets their own: previews and the offline
// plan run with a warning, and `pulumi up` refuses it before anything is built.
func (l *loader) placeholder(key, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.ctx.DryRun() {
		l.warn(key, "%s; `pulumi up` refuses it", msg)
	} else {
		l.fail(key, "%s", msg)
	}
}

// The service the shipped stack files name, which is nobody's: a stack deployed with it would trust, and Argo CD
// would sync, whatever a stranger publishes as your-org/your-service.
const (
	PlaceholderOwner        = "your-org"
	PlaceholderOwnerID      = "100000001"
	PlaceholderRepositoryID = "200000002"
)

// placeholders refuses, on `pulumi up`, the shipped values that name the service repository.
func (l *loader) placeholders(c *Config) {
	owner := func(repository string) bool {
		o, _, _ := strings.Cut(repository, "/")
		return strings.EqualFold(o, PlaceholderOwner)
	}
	if owner(c.GitHubRepository) {
		l.placeholder("githubRepository", "%s is the shipped placeholder: set your service repository with `pulumi config set githubRepository <owner/name>`", c.GitHubRepository)
	}
	if owner(c.InfraRepository) {
		l.placeholder("infraRepository", "%s is the shipped placeholder: set this repository with `pulumi config set infraRepository <owner/name>`", c.InfraRepository)
	}
	if u, err := url.Parse(c.AppRepoURL); err == nil && owner(strings.TrimPrefix(u.Path, "/")) {
		l.placeholder("appRepoUrl", "%s is the shipped placeholder: set the https URL of your service repository with `pulumi config set appRepoUrl <URL>`", c.AppRepoURL)
	}
	// The shipped example IDs, where they stand for the placeholder: with its owner, or as the shipped pair (real
	// GitHub accounts and repositories have such IDs too, so one alone beside a real name is theirs).
	ids := []struct {
		keys       [2]string
		values     [2]string
		repository string
	}{
		{[2]string{"githubOwnerId", "githubRepositoryId"}, [2]string{c.GitHubOwnerID, c.GitHubRepositoryID}, c.GitHubRepository},
		{[2]string{"infraRepositoryOwnerId", "infraRepositoryId"}, [2]string{c.InfraOwnerID, c.InfraRepositoryID}, c.InfraRepository},
	}
	for _, id := range ids {
		pair := id.values == [2]string{PlaceholderOwnerID, PlaceholderRepositoryID}
		for i, want := range []string{PlaceholderOwnerID, PlaceholderRepositoryID} {
			if id.values[i] == want && (pair || owner(id.repository)) {
				l.placeholder(id.keys[i], "%s is the shipped example ID: set the repository's own with `pulumi config set %s <id>` (`gh api repos/<owner/name> --jq '.owner.id, .id'`)", id.values[i], id.keys[i])
			}
		}
	}
}

func (l *loader) raw(key string) (string, bool) { return l.values.Get(key) }

func (l *loader) str(key, def string) string {
	if v, ok := l.raw(key); ok {
		return strings.TrimSpace(v)
	}
	return def
}

func (l *loader) integer(key string, def int) int {
	v, ok := l.raw(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		l.fail(key, "must be an integer, got %q", v)
		return def
	}
	return n
}

func (l *loader) boolean(key string, def bool) bool {
	v, ok := l.raw(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		l.fail(key, "must be true or false, got %q", v)
		return def
	}
	return b
}

func (l *loader) list(key string, def []string) []string {
	v, ok := l.raw(key)
	if !ok {
		return slices.Clone(def)
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		l.fail(key, "must be a list of strings (YAML sequence), got %q", v)
		return slices.Clone(def)
	}
	return out
}

// secret reads a secret string. A value stored in plain text is refused so it never sits unencrypted in the
// stack file.
func (l *loader) secret(key string, required bool, how string) (pulumi.StringOutput, bool) {
	v, set, encrypted := l.values.Secret(key)
	switch {
	case !set:
		if required {
			l.fail(key, "is required and missing; set it with `%s`", how)
		}
		return pulumi.ToSecret(pulumi.String("")).(pulumi.StringOutput), false
	case !encrypted:
		l.fail(key, "is stored in plain text; store it encrypted with `%s`", how)
		return pulumi.ToSecret(pulumi.String("")).(pulumi.StringOutput), false
	}
	return v, true
}

// Load reads the stack configuration, applies defaults and validates everything it can without AWS. It returns
// every problem at once in a *ConfigError. It registers no resources.
func Load(ctx *pulumi.Context) (*Config, error) { return LoadFrom(ctx, StackConfig{Ctx: ctx}) }

// LoadFrom is Load from any source of the configuration's values, with the same defaults and validation.
func LoadFrom(ctx *pulumi.Context, values Values) (*Config, error) {
	l := &loader{ctx: ctx, values: values}
	c := &Config{Project: ctx.Project(), Stack: ctx.Stack(), source: values.Source()}

	c.VPCCIDR = l.str("vpcCidr", DefaultVPCCIDR)
	c.AZCount = l.integer("azCount", DefaultAZCount)
	c.NATGateways = l.str("natGateways", DefaultNATGateways)
	c.KubernetesVersion = l.str("kubernetesVersion", DefaultKubernetesVersion)
	c.EndpointPublicAccessCIDRs = l.list("endpointPublicAccessCidrs", nil)
	c.ClusterAdminARNs = l.list("clusterAdminArns", nil)
	c.NodeInstanceTypes = l.list("nodeInstanceTypes", DefaultNodeInstanceTypes)
	c.NodeCapacityType = l.str("nodeCapacityType", DefaultNodeCapacityType)
	c.NodeMinSize = l.integer("nodeMinSize", DefaultNodeMinSize)
	c.NodeDesiredSize = l.integer("nodeDesiredSize", DefaultNodeDesiredSize)
	c.NodeMaxSize = l.integer("nodeMaxSize", DefaultNodeMaxSize)
	c.NodeDiskSizeGiB = l.integer("nodeDiskSizeGiB", DefaultNodeDiskSizeGiB)
	c.LogRetentionDays = l.integer("logRetentionDays", DefaultLogRetentionDays)

	c.ServiceName = l.str("serviceName", DefaultServiceName)
	c.ECRRepositoryName = l.str("ecrRepositoryName", "")
	c.ImageRetainCount = l.integer("imageRetainCount", DefaultImageRetainCount)
	c.GitHubRepository = l.str("githubRepository", "")
	c.GitHubAllowedSubjects = l.list("githubAllowedSubjects", []string{DefaultAllowedSubject})
	c.GitHubOwnerID = l.str("githubOwnerId", "")
	c.GitHubRepositoryID = l.str("githubRepositoryId", "")
	c.GitHubOIDCProviderARN = l.str("githubOidcProviderArn", "")

	c.ArgoCDChartVersion = l.str("argocdChartVersion", DefaultArgoCDChartVersion)
	c.AppRepoURL = l.str("appRepoUrl", "")
	c.AppChartPath = l.str("appChartPath", "")
	c.AppTargetRevision = l.str("appTargetRevision", DefaultAppTargetRevision)
	// With services, each service has its API key of its own (services.go).
	_, listed := l.raw(keyServices)
	if raw, _ := l.raw(keyServices); strings.TrimSpace(raw) == "" || strings.TrimSpace(raw) == "[]" {
		listed = false
	}
	c.APIKey, c.apiKeySet = l.secret("apiKey", !listed, "pulumi config set --secret apiKey <value>")
	c.AppRepoToken, c.HasAppRepoToken = l.secret("appRepoToken", false,
		"pulumi config set --secret appRepoToken <token>")

	c.PulumiOrganization = l.str("pulumiOrganization", "")
	c.PulumiOIDCProviderARN = l.str("pulumiOidcProviderArn", "")
	c.InfraRepository = l.str("infraRepository", "")
	c.InfraOwnerID = l.str("infraRepositoryOwnerId", "")
	c.InfraRepositoryID = l.str("infraRepositoryId", "")
	c.DeployWith = l.str("deployWith", "")
	c.GitHubNameSubjects = l.boolean("githubNameSubjects", false)
	c.ServiceIAMStatements = l.serviceStatements()

	c.Protect = l.boolean("protect", false)
	c.VPCCNIIdentity = l.str("vpcCniIdentity", infra.VPCCNINode)

	c.ecrRepositoryNameSet, c.appChartPathSet = c.ECRRepositoryName != "", c.AppChartPath != ""
	l.services(c)

	// Derived defaults.
	if c.ECRRepositoryName == "" && c.ServiceName != "" {
		// The stack prefix keeps dev and prod apart when they share an AWS account.
		c.ECRRepositoryName = sanitizeRepoName(c.Stack) + "/" + c.ServiceName
	}
	if c.AppChartPath == "" {
		c.AppChartPath = "helm/" + c.ServiceName
	}
	if c.DeployWith == "" {
		// The flow follows what is configured: Pulumi Deployments with an organization, else GitHub Actions.
		switch {
		case c.PulumiOrganization != "":
			c.DeployWith = DeployWithDeployments
		case c.InfraRepository != "":
			c.DeployWith = DeployWithGitHubActions
		}
	}

	l.validate(c)
	if len(l.problems) > 0 {
		return nil, &ConfigError{Problems: l.problems, Source: values.Source()}
	}
	c.Warnings = l.warnings
	c.Notices = l.notices
	return c, nil
}

var (
	githubNameRe    = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	dnsLabelRe      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$`)
	ecrNameRe       = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)
	instanceTypeRe  = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	chartVersionRe  = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	numericIDRe     = regexp.MustCompile(`^[0-9]+$`)
	pulumiOrgRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	iamPrincipalRe  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[\w+=,.@/-]+$`)
	oidcProviderRe  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/(.+)$`)
	gitRefSubjectRe = regexp.MustCompile(`^ref:refs/(heads|tags)/[^\s*?\[\\~^:]+$`)
	envSubjectRe    = regexp.MustCompile(`^environment:[^\s*?:]+$`)
)

func (l *loader) validate(c *Config) {
	l.stackTag(c)
	if n := len(sanitize(c.Project + "-" + c.Stack)); n > maxClusterName {
		l.fail("(stack name)", "the cluster is named <project>-<stack>, which EKS allows %d characters, got %d: use a shorter stack name", maxClusterName, n)
	}

	// Network.
	if p, err := netip.ParsePrefix(c.VPCCIDR); err != nil || !p.Addr().Is4() {
		l.fail("vpcCidr", "must be an IPv4 CIDR such as 10.0.0.0/16, got %q", c.VPCCIDR)
	} else if p.Bits() < 16 || p.Bits() > 24 {
		l.fail("vpcCidr", "must be a /16 to /24 block (AWS allows no larger VPC, smaller leaves no room for nodes), got /%d", p.Bits())
	} else if p.Masked() != p {
		l.fail("vpcCidr", "has host bits set; did you mean %s?", p.Masked())
	} else if !inAny(p, privateRanges) {
		l.fail("vpcCidr", "must be a private range (inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10): AWS refuses loopback, link-local and multicast blocks, and a public block hides the real internet addresses it covers, got %s", p)
	}
	if c.AZCount < 2 || c.AZCount > MaxAZCount {
		l.fail("azCount", "must be between 2 and %d (EKS needs subnets in at least two zones), got %d", MaxAZCount, c.AZCount)
	}
	if c.NATGateways != NATSingle && c.NATGateways != NATPerAZ {
		l.fail("natGateways", "must be %q or %q, got %q", NATSingle, NATPerAZ, c.NATGateways)
	}
	if !slices.Contains(LogRetentionDays, c.LogRetentionDays) {
		l.fail("logRetentionDays", "must be one of CloudWatch Logs' retention periods %s, got %d", joinInts(LogRetentionDays), c.LogRetentionDays)
	}

	// Cluster.
	l.kubernetesVersion(c.KubernetesVersion)
	if n := len(c.EndpointPublicAccessCIDRs); n > MaxPublicAccessCIDRs {
		l.fail("endpointPublicAccessCidrs", "lists %d ranges; EKS accepts at most %d", n, MaxPublicAccessCIDRs)
	}
	for i, cidr := range c.EndpointPublicAccessCIDRs {
		p, err := netip.ParsePrefix(cidr)
		if err != nil || !p.Addr().Is4() || p.Masked() != p {
			l.fail("endpointPublicAccessCidrs", "%q is not an IPv4 CIDR such as 198.51.100.0/24", cidr)
			continue
		}
		switch {
		case slices.Contains(c.EndpointPublicAccessCIDRs[:i], cidr):
			l.fail("endpointPublicAccessCidrs", "lists %s twice", cidr)
		case p.Bits() == 0 && c.Protect:
			l.fail("endpointPublicAccessCidrs", "must not contain 0.0.0.0/0 when protect is true (prod); list your office, VPN or runner egress ranges, or leave it empty for a private-only endpoint")
		case p.Bits() > 0 && inAny(p, privateRanges):
			l.fail("endpointPublicAccessCidrs", "%s is a private range, which never reaches the public endpoint; from inside the VPC the private endpoint is always reachable, so leave it out", cidr)
		case inAny(p, documentationRanges):
			// The shipped prod file holds one as a placeholder: previews and the offline plan still run, but no
			// machine has such an address, so `pulumi up` would build the AWS half and then fail minutes later
			// at the first Kubernetes object.
			l.placeholder("endpointPublicAccessCidrs", "%s is a documentation range (RFC 5737) that no machine has: set the egress ranges of the machines that run Pulumi (laptop VPN, the prod runner), with `pulumi config set --path 'endpointPublicAccessCidrs[0]' <egress CIDR>`, or [] to run Pulumi from inside the VPC", cidr)
		}
	}
	for i, arn := range c.ClusterAdminARNs {
		switch {
		case !iamPrincipalRe.MatchString(arn):
			l.fail("clusterAdminArns", "%q is not an IAM role or user ARN such as arn:aws:iam::123456789012:role/platform-admins", arn)
		case slices.Contains(c.ClusterAdminARNs[:i], arn):
			l.fail("clusterAdminArns", "lists %s twice; EKS holds one access entry per principal", arn)
		}
	}
	if len(c.NodeInstanceTypes) == 0 {
		l.fail("nodeInstanceTypes", "must list at least one instance type, such as [t3.large]")
	}
	arch := map[bool]bool{}
	for i, it := range c.NodeInstanceTypes {
		if !instanceTypeRe.MatchString(it) {
			l.fail("nodeInstanceTypes", "%q is not an EC2 instance type such as t3.large", it)
			continue
		}
		if slices.Contains(c.NodeInstanceTypes[:i], it) {
			l.fail("nodeInstanceTypes", "lists %s twice", it)
		}
		arch[infra.Graviton(it)] = true
	}
	if len(arch) > 1 {
		l.fail("nodeInstanceTypes", "mixes arm64 (Graviton) and x86_64 types %v; one nodegroup runs one AMI architecture", c.NodeInstanceTypes)
	}
	if c.NodeCapacityType != "ON_DEMAND" && c.NodeCapacityType != "SPOT" {
		l.fail("nodeCapacityType", "must be ON_DEMAND or SPOT, got %q", c.NodeCapacityType)
	}
	if c.NodeMinSize < 0 {
		l.fail("nodeMinSize", "must be >= 0, got %d", c.NodeMinSize)
	}
	if c.NodeMaxSize < 1 {
		l.fail("nodeMaxSize", "must be >= 1, got %d", c.NodeMaxSize)
	}
	if c.NodeDesiredSize < c.NodeMinSize {
		l.fail("nodeDesiredSize", "must be >= nodeMinSize (%d), got %d", c.NodeMinSize, c.NodeDesiredSize)
	}
	if c.NodeMaxSize < c.NodeDesiredSize {
		l.fail("nodeMaxSize", "must be >= nodeDesiredSize (%d), got %d", c.NodeDesiredSize, c.NodeMaxSize)
	}
	if c.NodeMaxSize > MaxNodesPerNodeGroup {
		l.fail("nodeMaxSize", "must be at most %d, the nodes EKS allows in one managed nodegroup, got %d", MaxNodesPerNodeGroup, c.NodeMaxSize)
	}
	if c.NodeDiskSizeGiB < 20 || c.NodeDiskSizeGiB > 16384 {
		l.fail("nodeDiskSizeGiB", "must be between 20 and 16384 GiB, got %d", c.NodeDiskSizeGiB)
	}

	// Registry and GitHub.
	if !c.MultiService() {
		l.singleService(c)
	}
	if c.ImageRetainCount < 1 {
		l.fail("imageRetainCount", "must be at least 1, got %d", c.ImageRetainCount)
	}
	if c.InfraRepository != "" {
		l.repositoryIDs("infraRepositoryOwnerId", "infraRepositoryId", c.InfraRepository, c.InfraOwnerID, c.InfraRepositoryID)
	} else {
		for _, id := range []struct{ key, value string }{{"infraRepositoryOwnerId", c.InfraOwnerID}, {"infraRepositoryId", c.InfraRepositoryID}} {
			if id.value != "" {
				l.fail(id.key, "is only used with infraRepository; set infraRepository too, or unset %s", id.key)
			}
		}
	}
	l.placeholders(c)
	if c.GitHubOIDCProviderARN != "" {
		if m := oidcProviderRe.FindStringSubmatch(c.GitHubOIDCProviderARN); m == nil || m[1] != "token.actions.githubusercontent.com" {
			l.fail("githubOidcProviderArn", "must be the ARN of the account's token.actions.githubusercontent.com OIDC provider, such as arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com, got %q", c.GitHubOIDCProviderARN)
		}
	}

	// GitOps.
	if !chartVersionRe.MatchString(c.ArgoCDChartVersion) {
		l.fail("argocdChartVersion", "must be an exact chart version such as %s (no ranges), got %q", DefaultArgoCDChartVersion, c.ArgoCDChartVersion)
	}

	// Delivery.
	switch {
	case c.PulumiOrganization != "" && !pulumiOrgRe.MatchString(c.PulumiOrganization):
		l.fail("pulumiOrganization", "must be a Pulumi organization name, got %q", c.PulumiOrganization)
	case c.PulumiOrganization != strings.ToLower(c.PulumiOrganization):
		// The OIDC audience is the lowercase name; a subject with capitals would never match it.
		l.fail("pulumiOrganization", "must be lowercase, as Pulumi Cloud names organizations in its tokens: use %q", strings.ToLower(c.PulumiOrganization))
	}
	switch c.DeployWith {
	case "":
	case DeployWithDeployments:
		if c.PulumiOrganization == "" {
			l.fail("deployWith", "is %q, which needs pulumiOrganization: set it with `pulumi config set pulumiOrganization <org>`", c.DeployWith)
		}
	case DeployWithGitHubActions:
		if c.InfraRepository == "" {
			l.fail("deployWith", "is %q, which needs infraRepository: set it with `pulumi config set infraRepository <owner/name>`", c.DeployWith)
		}
	default:
		l.fail("deployWith", "must be %q or %q, got %q", DeployWithDeployments, DeployWithGitHubActions, c.DeployWith)
	}
	if c.PulumiOIDCProviderARN != "" {
		if m := oidcProviderRe.FindStringSubmatch(c.PulumiOIDCProviderARN); m == nil || m[1] != "api.pulumi.com/oidc" {
			l.fail("pulumiOidcProviderArn", "must be the ARN of the account's api.pulumi.com/oidc OIDC provider, got %q", c.PulumiOIDCProviderARN)
		}
		if c.PulumiOrganization == "" {
			l.fail("pulumiOidcProviderArn", "is only used with pulumiOrganization; set pulumiOrganization too")
		}
	}
	if c.InfraRepository != "" && !githubNameRe.MatchString(c.InfraRepository) {
		l.fail("infraRepository", "must be owner/name of this infrastructure repository, got %q", c.InfraRepository)
	}

	switch c.VPCCNIIdentity {
	case infra.VPCCNINode, infra.VPCCNIBoth, infra.VPCCNIPodIdentity:
	default:
		l.fail("vpcCniIdentity", "must be %q, %q or %q, got %q", infra.VPCCNINode, infra.VPCCNIBoth, infra.VPCCNIPodIdentity, c.VPCCNIIdentity)
	}

	// Production guardrails.
	if c.Protect && c.NATGateways == NATSingle {
		l.fail("natGateways", "must be %q when protect is true (prod): a single NAT gateway is a zonal single point of failure", NATPerAZ)
	}
	if c.Protect && c.NodeMinSize < 3 {
		l.fail("nodeMinSize", "must be >= 3 when protect is true (prod): ArgoCD runs highly available and redis-ha spreads 3 pods over 3 nodes, got %d", c.NodeMinSize)
	}
}

// singleService validates the keys of the one service of a stack that lists no services.
func (l *loader) singleService(c *Config) {
	switch {
	case !dnsLabelRe.MatchString(c.ServiceName):
		l.fail("serviceName", "must be a DNS label (lowercase letters, digits, '-', at most 42 characters) because it names a namespace and a Secret, got %q", c.ServiceName)
	case c.ServiceName == "default" || c.ServiceName == infra.ArgoCDNamespace || strings.HasPrefix(c.ServiceName, "kube-"):
		l.fail("serviceName", "%q names a namespace Kubernetes or Argo CD already owns; choose the service's own name", c.ServiceName)
	}
	if !ecrNameRe.MatchString(c.ECRRepositoryName) || len(c.ECRRepositoryName) < 2 || len(c.ECRRepositoryName) > 256 {
		l.fail("ecrRepositoryName", "must be a lowercase ECR repository name such as team/your-service, got %q", c.ECRRepositoryName)
	}
	switch {
	case c.GitHubRepository == "":
		l.fail("githubRepository", "is required: the owner/name of the service repository whose Actions push images; set it with `pulumi config set githubRepository owner/name`")
	case !githubNameRe.MatchString(c.GitHubRepository) || strings.HasSuffix(c.GitHubRepository, "/.") || strings.HasSuffix(c.GitHubRepository, "/.."):
		l.fail("githubRepository", "must be owner/name using GitHub's characters (letters, digits, '-' in the owner; letters, digits, '.', '_', '-' in the name), got %q", c.GitHubRepository)
	}
	if len(c.GitHubAllowedSubjects) == 0 {
		l.fail("githubAllowedSubjects", "must list at least one subject, such as ref:refs/heads/main")
	}
	for _, s := range c.GitHubAllowedSubjects {
		if !validSubject(s) {
			l.fail("githubAllowedSubjects", "%q is not allowed; use ref:refs/heads/BRANCH, ref:refs/tags/TAG, environment:NAME or pull_request (no wildcards)", s)
		}
	}
	// GitHub sends repositories created, renamed or transferred after 2026-07-15 only the immutable subject
	// repo:OWNER@OWNER_ID/REPO@REPO_ID:..., so the trust needs the numeric IDs; the name-only form is trusted too
	// only when githubNameSubjects opts in (older repositories that still send it).
	l.repositoryIDs("githubOwnerId", "githubRepositoryId", c.GitHubRepository, c.GitHubOwnerID, c.GitHubRepositoryID)
	if size := trustSize(c.GitHubRepository, c.GitHubOwnerID, c.GitHubRepositoryID, c.GitHubAllowedSubjects, c.GitHubNameSubjects); size > maxTrustPolicy {
		l.fail("githubAllowedSubjects", "make the push role's trust policy %d characters, and IAM accepts %d (quota ACLSizePerRole): list fewer subjects", size, maxTrustPolicy)
	}
	if doc, err := c.ServicePolicy().JSON(); err == nil && len(doc) > maxInlinePolicies {
		l.fail(keyServiceIAMStatements, "make a policy of %d characters, and IAM accepts %d for a role's inline policies: "+
			"merge statements, or use wildcards within one service (s3:Get*)", len(doc), maxInlinePolicies)
	}
	switch {
	case c.AppRepoURL == "":
		l.fail("appRepoUrl", "is required: the Git URL of the service repository holding the Helm chart, such as https://github.com/owner/name.git")
	case !strings.HasPrefix(c.AppRepoURL, "https://"):
		// Argo CD reads an SSH (git@) URL only with an SSH key, which this platform does not manage.
		l.fail("appRepoUrl", "must be an https:// URL (with appRepoToken for a private repository), got %q", c.AppRepoURL)
	}
	if strings.HasPrefix(c.AppChartPath, "/") || strings.Contains(c.AppChartPath, "..") {
		l.fail("appChartPath", "must be a relative path inside the repository such as helm/%s, got %q", c.ServiceName, c.AppChartPath)
	}
	if c.AppTargetRevision == "" || strings.ContainsAny(c.AppTargetRevision, " *") {
		l.fail("appTargetRevision", "must be a branch, tag or commit such as main, got %q", c.AppTargetRevision)
	}
}

// kubernetesVersion checks the version against the EKS calendar on today's date: a version past its extended
// support is refused (EKS has upgraded such clusters itself), one in extended support is said on every run with
// its price, and so is a calendar too old to trust.
func (l *loader) kubernetesVersion(version string) {
	today := Now()
	if stale := infra.CalendarStale(today); stale != "" {
		l.notices = append(l.notices, "kubernetesVersion: "+stale)
	}
	v, ok := infra.LookupKubernetesVersion(version)
	if !ok {
		l.fail("kubernetesVersion", "must be one of %s (the EKS calendar of %s), got %q", strings.Join(SupportedKubernetesVersions, ", "),
			infra.CalendarChecked, version)
		return
	}
	newest := infra.NewestStandardVersion(today)
	switch v.SupportOn(today) {
	case infra.SupportEnded:
		l.fail("kubernetesVersion", "%s; upgrade one minor version at a time, starting with %s", v.Status(today), infra.NextKubernetesVersion(version))
	case infra.SupportExtended:
		l.notices = append(l.notices, fmt.Sprintf("kubernetesVersion: %s; upgrade one minor version at a time towards %s "+
			"(`pulumi config set kubernetesVersion %s`, then `pulumi up`)", v.Status(today), newest, infra.NextKubernetesVersion(version)))
	}
}

// repositoryIDs checks the numeric IDs of a GitHub repository the stack trusts.
func (l *loader) repositoryIDs(ownerKey, repoKey, repository, ownerID, repositoryID string) {
	how := "get them with `gh api repos/" + repository + " --jq '.owner.id, .id'`"
	for _, id := range []struct{ key, value string }{{ownerKey, ownerID}, {repoKey, repositoryID}} {
		switch {
		case id.value == "":
			l.fail(id.key, "is required: GitHub sends repositories created, renamed or transferred after 2026-07-15 only the subject repo:OWNER@OWNER_ID/REPO@REPO_ID, so the trust names the numeric IDs; %s", how)
		case !numericIDRe.MatchString(id.value):
			l.fail(id.key, "must be GitHub's numeric ID, got %q; %s", id.value, how)
		}
	}
}

// trustSize is the length of the push role's trust policy, which IAM limits.
func trustSize(repository, ownerID, repositoryID string, allowed []string, nameSubjects bool) int {
	provider := "arn:aws-us-gov:iam::123456789012:oidc-provider/" + infra.GitHubIssuerHost // the longest partition
	doc, _ := infra.WebIdentityTrust(provider, infra.GitHubIssuerHost, infra.GitHubAudience,
		infra.GitHubSubjects(repository, ownerID, repositoryID, allowed, nameSubjects)).JSON()
	return len(doc)
}

// maxTrustPolicy is IAM's default limit on a role's trust policy (quota ACLSizePerRole).
const maxTrustPolicy = 2048

// Deployment flows.
const (
	DeployWithDeployments   = infra.FlowDeployments
	DeployWithGitHubActions = infra.FlowGitHubActions
)

func validSubject(s string) bool {
	return s == "pull_request" || gitRefSubjectRe.MatchString(s) || envSubjectRe.MatchString(s)
}

// ValidateAZs checks azCount against the zones the region offers. It runs after Load, once the zones are known,
// and still before any resource exists.
func (c *Config) ValidateAZs(available []string) error {
	if c.AZCount > len(available) {
		return &ConfigError{Source: c.source, Problems: []string{fmt.Sprintf("azCount: must be at most %d, the number of available zones in this region (%s), got %d",
			len(available), strings.Join(available, ", "), c.AZCount)}}
	}
	return nil
}

// ValidateUpgrade checks the configured version against the one the cluster runs ("" before it exists): EKS
// upgrades the control plane one minor version at a time and never downgrades. It runs before any resource is
// registered, so a skipped version fails before anything changes.
func (c *Config) ValidateUpgrade(running string) error {
	if running == "" || running == c.KubernetesVersion {
		return nil
	}
	steps, err := infra.MinorsBetween(running, c.KubernetesVersion)
	if err != nil {
		return nil // not a version this program offers; Load has said so
	}
	var problem string
	switch {
	case steps < 0:
		problem = fmt.Sprintf("the cluster runs Kubernetes %s, and EKS cannot downgrade a cluster to %s: set %s again", running,
			c.KubernetesVersion, running)
	case steps > 1:
		problem = fmt.Sprintf("the cluster runs Kubernetes %s, and EKS upgrades one minor version at a time: set %s first "+
			"(`pulumi config set kubernetesVersion %s`, `pulumi up`), then the next, up to %s", running,
			infra.NextKubernetesVersion(running), infra.NextKubernetesVersion(running), c.KubernetesVersion)
	default:
		return nil
	}
	return &ConfigError{Source: c.source, Problems: []string{"kubernetesVersion: " + problem}}
}

var nonNameRe = regexp.MustCompile(`[^A-Za-z0-9-]+`)

func sanitize(s string) string { return strings.Trim(nonNameRe.ReplaceAllString(s, "-"), "-") }

func sanitizeRepoName(s string) string { return strings.ToLower(sanitize(s)) }

// LogRetentionDays are the retention periods CloudWatch Logs accepts (PutRetentionPolicy).
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// Limits of AWS that the configuration must respect.
const (
	MaxPublicAccessCIDRs = 40  // EKS: CIDR blocks of the public endpoint
	MaxNodesPerNodeGroup = 450 // EKS: nodes in one managed nodegroup
)

var (
	privateRanges       = prefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
	documentationRanges = prefixes("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24") // RFC 5737
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// inAny reports whether p lies inside one of the ranges.
func inAny(p netip.Prefix, ranges []netip.Prefix) bool {
	for _, r := range ranges {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// stackTag checks that the AWS provider tags every resource of a stack that automation deploys with the stack's
// tag: the deploy role creates, changes and deletes only what carries it (infra.StackTagKey). The stack
// configuration's aws:defaultTags only; the component's consumer configures its own provider.
func (l *loader) stackTag(c *Config) {
	if c.source != "" || c.DeployWith == "" {
		return
	}
	want := infra.StackTagValue(c.Project, c.Stack)
	fix := fmt.Sprintf("set it with `pulumi config set --path 'aws:defaultTags.tags.%s' %s`", infra.StackTagKey, want)
	raw, _ := l.ctx.GetConfig("aws:defaultTags")
	var tags struct {
		Tags map[string]any `json:"tags"`
	}
	if raw != "" && json.Unmarshal([]byte(raw), &tags) != nil {
		l.fail("aws:defaultTags", "must be a map with a map of tags under `tags`; %s", fix)
		return
	}
	switch got, ok := tags.Tags[infra.StackTagKey]; {
	case !ok:
		l.fail("aws:defaultTags", "needs the tag %s: %s on every AWS resource, to which the deploy role (deployWith %s) is confined; %s",
			infra.StackTagKey, want, c.DeployWith, fix)
	case got != want:
		l.fail("aws:defaultTags", "tag %s must be %s (this stack), got %v: the deploy role manages only what carries this stack's value; %s",
			infra.StackTagKey, want, got, fix)
	}
}
