// Package settings is the Pulumi Deployments settings of the platform's stacks, as a Pulumi program: one
// pulumiservice DeploymentSettings resource per stack. The role each stack deploys with, and whether its API is
// open to Pulumi-hosted runners, are read from the stack itself through a stack reference, so the settings
// never drift from what the stack created.
package settings

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-pulumiservice/sdk/go/pulumiservice"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/stacks"
)

// PlatformProject is the project whose stacks these settings deploy.
const PlatformProject = "eks-gitops-platform"

// Kubectl is the kubectl the pre-run commands install: pulumi-eks v2.8.1 refuses to run without a kubectl
// (>= 1.24) on PATH, although nothing here talks to a cluster with it. The same pin as the GitHub workflows.
const (
	KubectlVersion = "v1.35.5"
	KubectlSHA256  = "90f75ea6ecc9ea5633262e1c0b83a40560003b30fc94a04cb099404fcef0c224"
)

// Config is the settings stack's configuration.
type Config struct {
	Organization string   // Pulumi Cloud organization (required)
	Repository   string   // owner/name of this repository (required)
	Branch       string   // default main
	Stacks       []string // default dev, prod
	// DriftDetection are the stacks whose drift is detected on DriftSchedule; default prod, if listed.
	DriftDetection []string
	RunnerPools    map[string]string // stack -> customer-managed agent pool ID; default none
}

var (
	repositoryRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	poolIDRe     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	stackNameRe  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// Load reads and validates the configuration, reporting every problem at once.
func Load(ctx *pulumi.Context) (*Config, error) {
	c := config.New(ctx, "")
	cfg := &Config{
		Organization: c.Get("organization"),
		Repository:   c.Get("repository"),
		Branch:       c.Get("branch"),
		RunnerPools:  map[string]string{},
	}
	var problems []string
	fail := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}
	if cfg.Branch == "" {
		cfg.Branch = "main"
	}
	switch err := c.TryObject("stacks", &cfg.Stacks); {
	case err != nil && strings.Contains(err.Error(), "missing"):
		cfg.Stacks = []string{"dev", "prod"}
	case err != nil:
		fail("stacks", "must be a list of stack names, such as [dev, prod]: %v", err)
	}
	switch err := c.TryObject("driftDetection", &cfg.DriftDetection); {
	case err != nil && strings.Contains(err.Error(), "missing") && slices.Contains(cfg.Stacks, "prod"):
		cfg.DriftDetection = []string{"prod"}
	case err != nil && strings.Contains(err.Error(), "missing"):
	case err != nil:
		fail("driftDetection", "must be a list of stack names, such as [prod]: %v", err)
	}
	if err := c.TryObject("runnerPools", &cfg.RunnerPools); err != nil && !strings.Contains(err.Error(), "missing") {
		fail("runnerPools", "must map stack names to agent pool IDs: %v", err)
	}
	if cfg.Organization == "" {
		fail("organization", "is required: the Pulumi Cloud organization of the platform's stacks")
	}
	if !repositoryRe.MatchString(cfg.Repository) {
		fail("repository", "must be owner/name of this infrastructure repository, got %q", cfg.Repository)
	}
	if len(cfg.Stacks) == 0 {
		fail("stacks", "must list at least one stack, such as [dev, prod]")
	}
	for _, s := range cfg.Stacks {
		if !stackNameRe.MatchString(s) {
			fail("stacks", "%q is not a stack name", s)
		}
	}
	for _, stack := range cfg.DriftDetection {
		if !slices.Contains(cfg.Stacks, stack) {
			fail("driftDetection", "names stack %q, which stacks does not list", stack)
		}
	}
	for stack, id := range cfg.RunnerPools {
		if !slices.Contains(cfg.Stacks, stack) {
			fail("runnerPools", "names stack %q, which stacks does not list", stack)
		}
		if !poolIDRe.MatchString(id) {
			fail("runnerPools", "%s: %q is not an agent pool ID (a UUID; Pulumi Cloud: Settings, Deployments, Runner pools)", stack, id)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("invalid settings configuration:\n  - %s", strings.Join(problems, "\n  - "))
	}
	return cfg, nil
}

// Paths are the files whose change deploys a stack: the program, its dependencies, its project file and the
// stack's own configuration; never documentation, tests, CI, this settings program, or another stack's file.
func Paths(stack string) []string {
	return []string{
		"main.go", "stacks/**", "infra/**", "go.mod", "go.sum", "Pulumi.yaml", "Pulumi." + stack + ".yaml",
		"!**/*_test.go", "!**/*.md",
	}
}

// PreRunCommands run in the deployment runner before Pulumi installs dependencies and runs the program: a pinned,
// checksum-verified kubectl first on PATH, and the AWS CLI, both of which pulumi-eks checks for.
func PreRunCommands() []string {
	return []string{
		fmt.Sprintf(`test "$(uname -m)" = x86_64 && curl -fsSL --retry 3 -o /tmp/kubectl https://dl.k8s.io/release/%s/bin/linux/amd64/kubectl && echo "%s  /tmp/kubectl" | sha256sum --check --strict && install -m 0755 /tmp/kubectl /usr/local/bin/kubectl`,
			KubectlVersion, KubectlSHA256),
		`test "$(command -v kubectl)" = /usr/local/bin/kubectl && kubectl version --client`,
		"aws --version",
		"go version",
	}
}

// DriftSchedule is when drift detection runs (cron, UTC): daily, before the working day in Europe and the Americas.
// A run is a refresh in preview mode (Pulumi Cloud's drift detection): it changes nothing, the deploy role trusts
// it (infra.DeployOperations), and it is never remediated automatically.
const DriftSchedule = "0 5 * * *"

// SessionDuration is the AWS session each deployment asks for, in Pulumi's duration format.
func SessionDuration() string {
	d := infra.DeploySession
	return fmt.Sprintf("%dh%dm%ds", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// Run is the settings program.
func Run(ctx *pulumi.Context) error {
	cfg, err := Load(ctx)
	if err != nil {
		return err
	}
	for _, stack := range cfg.Stacks {
		ref, err := pulumi.NewStackReference(ctx, stack, &pulumi.StackReferenceArgs{
			Name: pulumi.Sprintf("%s/%s/%s", cfg.Organization, PlatformProject, stack),
		})
		if err != nil {
			return err
		}
		role, err := ref.GetOutputDetails(stacks.OutputDeployRoleARN)
		if err != nil {
			return fmt.Errorf("stack %s: %w", stack, err)
		}
		roleARN, _ := role.Value.(string)
		if roleARN == "" {
			return fmt.Errorf("stack %s has no %s output: set pulumiOrganization on it and run `pulumi up` there first", stack, stacks.OutputDeployRoleARN)
		}
		flow, err := ref.GetOutputDetails(stacks.OutputDeployWith)
		if err != nil {
			return fmt.Errorf("stack %s: %w", stack, err)
		}
		if flow.Value != stacks.DeployWithDeployments {
			return fmt.Errorf("stack %s: its deploy role trusts %v (deployWith), not Pulumi Deployments: set `pulumi config set "+
				"deployWith %s` there and `pulumi up` it from a laptop, or leave it out of stacks", stack, flow.Value, stacks.DeployWithDeployments)
		}
		cidrs, err := ref.GetOutputDetails(stacks.OutputAPIPublicAccessCIDRs)
		if err != nil {
			return fmt.Errorf("stack %s: %w", stack, err)
		}
		protected, err := ref.GetOutputDetails(stacks.OutputProtected)
		if err != nil {
			return fmt.Errorf("stack %s: %w", stack, err)
		}
		deployMerges := DeployMerges(protected.Value)
		if _, ok := protected.Value.(bool); !ok {
			ctx.Log.Warn(fmt.Sprintf("stack %s exports no boolean %s output (it was last updated by an older program): its merges "+
				"do not deploy until an update exports it (`pulumi deployment run update --stack %s/%s/%s`, or a laptop's "+
				"`pulumi up`), and these settings are applied again", stack, stacks.OutputProtected, cfg.Organization, PlatformProject, stack), nil)
		}
		pool := cfg.RunnerPools[stack]
		if pool == "" && cidrs.Value != nil && !openToInternet(cidrs.Value) {
			return fmt.Errorf("runnerPools: stack %s admits only %v to its API (endpointPublicAccessCidrs), and Pulumi-hosted "+
				"runners have no fixed addresses: run its deployments on a customer-managed agent pool inside the VPC "+
				"(or egressing through a listed range) and set `pulumi config set --path 'runnerPools.%s' <pool ID>`", stack, cidrs.Value, stack)
		}
		args := &pulumiservice.DeploymentSettingsArgs{
			Organization: pulumi.String(cfg.Organization),
			Project:      pulumi.String(PlatformProject),
			Stack:        pulumi.String(stack),
			SourceContext: pulumiservice.DeploymentSettingsSourceContextArgs{
				Git: pulumiservice.DeploymentSettingsGitSourceArgs{Branch: pulumi.String(cfg.Branch), RepoDir: pulumi.String(".")},
			},
			Vcs: pulumiservice.DeploymentSettingsVcsArgs{
				Provider:   pulumi.String("github"),
				Repository: pulumi.String(cfg.Repository),
				// A protected stack (prod) is not updated by a merge: Pulumi Deployments has no approval step for
				// push-to-deploy, so a person of the stack's team starts its update (DeployMerges).
				DeployCommits: pulumi.Bool(deployMerges),
				// Off: Deployments holds one AWS role per stack for every operation, so a pull request preview would
				// run the branch's code with the deploy role. .github/workflows/pull-request.yml previews instead.
				PreviewPullRequests: pulumi.Bool(false),
				PullRequestTemplate: pulumi.Bool(false),
				Paths:               pulumi.ToStringArray(Paths(stack)),
			},
			OperationContext: pulumiservice.DeploymentSettingsOperationContextArgs{
				PreRunCommands: pulumi.ToStringArray(PreRunCommands()),
				// The Go toolchain follows the go line of go.mod (downloaded if the image's Go is older).
				EnvironmentVariables: pulumi.StringMap{"GOTOOLCHAIN": pulumi.String("auto")},
				Options: pulumiservice.OperationContextOptionsArgs{
					SkipInstallDependencies: pulumi.Bool(false),
					// A burst of merges deploys only the newest commit; updates of one stack never overlap.
					SkipIntermediateDeployments: pulumi.Bool(true),
					DeleteAfterDestroy:          pulumi.Bool(false),
				},
				Oidc: pulumiservice.OperationContextOIDCArgs{
					Aws: pulumiservice.AWSOIDCConfigurationArgs{
						RoleARN:     pulumi.String(roleARN),
						SessionName: pulumi.String("pulumi-deployments-" + stack),
						Duration:    pulumi.String(SessionDuration()),
					},
				},
			},
		}
		if pool != "" {
			args.AgentPoolId = pulumi.String(pool)
		}
		deploymentSettings, err := pulumiservice.NewDeploymentSettings(ctx, stack, args)
		if err != nil {
			return err
		}
		if slices.Contains(cfg.DriftDetection, stack) {
			// Drift runs use the stack's deployment settings, so they exist first.
			if _, err := pulumiservice.NewDriftSchedule(ctx, stack+"-drift", &pulumiservice.DriftScheduleArgs{
				Organization:  pulumi.String(cfg.Organization),
				Project:       pulumi.String(PlatformProject),
				Stack:         pulumi.String(stack),
				ScheduleCron:  pulumi.String(DriftSchedule),
				AutoRemediate: pulumi.Bool(false),
			}, pulumi.DependsOn([]pulumi.Resource{deploymentSettings})); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeployMerges reports whether merges to the branch deploy a stack, from its protected output: only a stack that
// says it is unprotected. Pulumi Deployments' push-to-deploy has no approval step (the pinned pulumiservice
// provider configures none, and Pulumi Cloud's ApprovalRule gates ESC environments, not stack updates), so a
// protected stack updates only when someone with write access to it starts the update, in Pulumi Cloud or with
// `pulumi deployment run update`. A stack that exports no protected output yet counts as protected.
func DeployMerges(protected any) bool {
	p, ok := protected.(bool)
	return ok && !p
}

// openToInternet reports whether an endpointPublicAccessCidrs list admits every address.
func openToInternet(v any) bool {
	list, _ := v.([]any)
	for _, c := range list {
		if c == "0.0.0.0/0" {
			return true
		}
	}
	return false
}
