package tests

// The EKS Kubernetes calendar (infra/versions.go) as the program applies it: which versions it offers, what it
// says about support and price, what it refuses, and when the calendar itself is too old to trust.

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

// onDay runs f with the program's clock set to a day.
func onDay(t *testing.T, day string, f func()) {
	t.Helper()
	d, err := time.Parse(time.DateOnly, day)
	require.NoError(t, err)
	saved := stacks.Now
	stacks.Now = func() time.Time { return d.Add(12 * time.Hour) }
	defer func() { stacks.Now = saved }()
	f()
}

// TestVersions_shippedStacksRunTheNewestVersionInStandardSupport: on the day the calendar was checked, the
// default, the fixtures and the user's stack files all run the newest version in EKS standard support (the
// extended price is 6 times the standard one), and the calendar is not stale.
func TestVersions_shippedStacksRunTheNewestVersionInStandardSupport(t *testing.T) {
	onDay(t, infra.CalendarChecked, func() {
		checked := stacks.Now()
		newest := infra.NewestStandardVersion(checked)
		require.NotEmpty(t, newest)
		assert.Equal(t, newest, stacks.DefaultKubernetesVersion)
		assert.Empty(t, infra.CalendarStale(checked))
		for _, stack := range stackNames {
			assert.Equal(t, newest, fixtureConfig(t, stack).Get("kubernetesVersion"), "fixture %s", stack)
			assert.Equal(t, newest, userConfig(t, stack).Get("kubernetesVersion"), "Pulumi.%s.yaml", stack)
		}
		v, _ := infra.LookupKubernetesVersion(newest)
		assert.Equal(t, infra.ControlPlaneStandardPerHour, v.ControlPlanePerHour(checked))
	})
}

// TestVersions_calendarRowsAreInOrderAndConsistent: every row's dates are in order (release, end of standard,
// end of extended: 14 and 26 months), versions are consecutive minors, and Pulumi.yaml names each version.
func TestVersions_calendarRowsAreInOrderAndConsistent(t *testing.T) {
	t.Parallel()
	project := loadProject(t)
	desc := project.Config["kubernetesVersion"].Description
	for i, v := range infra.KubernetesVersions {
		released, standard, extended := parseDay(t, v.Released), parseDay(t, v.StandardUntil), parseDay(t, v.ExtendedUntil)
		assert.True(t, released.Before(standard) && standard.Before(extended), v.Version)
		months := func(a, b time.Time) int { return (b.Year()-a.Year())*12 + int(b.Month()-a.Month()) }
		assert.Equal(t, 14, months(released, standard), "%s: 14 months of standard support", v.Version)
		assert.Equal(t, 12, months(standard, extended), "%s: 12 months of extended support", v.Version)
		if i > 0 {
			steps, err := infra.MinorsBetween(infra.KubernetesVersions[i-1].Version, v.Version)
			require.NoError(t, err)
			assert.Equal(t, 1, steps, "consecutive minor versions")
		}
		assert.Contains(t, desc, v.Version, "Pulumi.yaml's kubernetesVersion description names %s", v.Version)
	}
	assert.Contains(t, desc, infra.CalendarChecked, "and the day the calendar was checked")
}

func parseDay(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	require.NoError(t, err)
	return d
}

// TestVersions_extendedSupportIsSaidWithItsPriceAndAVersionPastItsEndIsRefused: a version in extended support runs
// with a warning on every run that names the 6-fold control-plane price and the next version; one past its end of
// extended support is refused before anything is registered; an unknown version lists what the calendar offers.
func TestVersions_extendedSupportIsSaidWithItsPriceAndAVersionPastItsEndIsRefused(t *testing.T) {
	onDay(t, infra.CalendarChecked, func() {
		cfg := fixtureConfig(t, "dev")
		cfg.Set("kubernetesVersion", "1.34")
		p, err := buildWith(t, "dev", cfg)
		require.NoError(t, err)
		require.Len(t, p.Notices, 1)
		assert.Contains(t, p.Notices[0], "kubernetesVersion: Kubernetes 1.34: EKS extended support since 2026-12-02, until 2027-12-02")
		assert.Contains(t, p.Notices[0], "control plane $0.60/hour (about $438 a month), 6 times the standard price")
		assert.Contains(t, p.Notices[0], "`pulumi config set kubernetesVersion 1.35`")
		assert.Contains(t, p.KubernetesStatus, "extended support")

		cfg.Set("kubernetesVersion", "1.36")
		p, err = buildWith(t, "dev", cfg)
		require.NoError(t, err)
		assert.Empty(t, p.Notices)
		assert.Equal(t, "Kubernetes 1.36: EKS standard support until 2027-08-02; control plane $0.10/hour (about $73 a month)", p.KubernetesStatus)

		cfg.Set("kubernetesVersion", "1.29")
		r := runStack(t, "dev", cfg)
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), `kubernetesVersion: must be one of 1.32, 1.33, 1.34, 1.35, 1.36 (the EKS calendar of `+infra.CalendarChecked+`), got "1.29"`)
		assert.Empty(t, r.records)
	})
	onDay(t, "2027-03-23", func() { // the day 1.32's extended support ends (AWS counts from its start, UTC)
		cfg := fixtureConfig(t, "dev")
		cfg.Set("kubernetesVersion", "1.32")
		r := runStack(t, "dev", cfg)
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "kubernetesVersion: Kubernetes 1.32: EKS support ended on 2027-03-23; EKS upgrades such clusters itself; upgrade one minor version at a time, starting with 1.33")
		assert.Empty(t, r.records, "refused before anything is registered")
	})
}

// TestVersions_supportChangesAtTheStartOfTheEndDay: AWS bills extended support from the beginning (UTC) of the
// end-of-standard day, and a version's support ends at the beginning of its end-of-extended day.
func TestVersions_supportChangesAtTheStartOfTheEndDay(t *testing.T) {
	t.Parallel()
	v, ok := infra.LookupKubernetesVersion("1.35")
	require.True(t, ok)
	at := func(s string) time.Time { d := parseDay(t, s); return d.Add(time.Minute) }
	assert.Equal(t, infra.SupportStandard, v.SupportOn(at("2027-03-26")))
	assert.Equal(t, infra.SupportExtended, v.SupportOn(at(v.StandardUntil)))
	assert.Equal(t, infra.SupportExtended, v.SupportOn(at("2028-03-26")))
	assert.Equal(t, infra.SupportEnded, v.SupportOn(at(v.ExtendedUntil)))
	assert.Equal(t, infra.ControlPlaneExtendedPerHour, v.ControlPlanePerHour(at(v.StandardUntil)))
}

// TestVersions_aStaleCalendarIsSaid: more than CalendarMaxAge after it was checked, or once none of its versions
// is in standard support, every run says so and where to look.
func TestVersions_aStaleCalendarIsSaid(t *testing.T) {
	checked := parseDay(t, infra.CalendarChecked)
	stale := checked.Add(infra.CalendarMaxAge + 48*time.Hour).Format(time.DateOnly)
	onDay(t, stale, func() {
		p, err := buildWith(t, "dev", fixtureConfig(t, "dev"))
		require.NoError(t, err)
		require.NotEmpty(t, p.Notices)
		assert.Contains(t, strings.Join(p.Notices, "\n"), "the EKS version calendar in infra/versions.go was checked on "+infra.CalendarChecked)
		assert.Contains(t, strings.Join(p.Notices, "\n"), infra.KubernetesCalendarSource)
	})
	onDay(t, "2028-09-01", func() {
		assert.Contains(t, infra.CalendarStale(stacks.Now()), "lists no version in standard support")
	})
}

// TestVersions_upgradesGoOneMinorVersionAtATimeFromWhatTheClusterRuns: the program reads the running cluster's
// version (aws:eks/getCluster) and refuses a jump of two minor versions, naming the next one, and a downgrade,
// before anything is registered; one step up, or the same version, runs. Before the cluster exists any version
// runs.
func TestVersions_upgradesGoOneMinorVersionAtATimeFromWhatTheClusterRuns(t *testing.T) {
	t.Parallel()
	live := func(version string) func(*plan.Engine) { return func(e *plan.Engine) { e.ClusterVersion = version } }
	cfg := fixtureConfig(t, "dev")
	cfg.Set("kubernetesVersion", "1.36")
	r := runStackWith(t, "dev", cfg, live("1.34"))
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "kubernetesVersion: the cluster runs Kubernetes 1.34, and EKS upgrades one minor version at a time: set 1.35 first (`pulumi config set kubernetesVersion 1.35`, `pulumi up`), then the next, up to 1.36")
	assert.Empty(t, r.records)

	cfg.Set("kubernetesVersion", "1.34")
	r = runStackWith(t, "dev", cfg, live("1.35"))
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "kubernetesVersion: the cluster runs Kubernetes 1.35, and EKS cannot downgrade a cluster to 1.34: set 1.35 again")
	assert.Empty(t, r.records)

	for _, running := range []string{"1.35", "1.36", ""} {
		cfg.Set("kubernetesVersion", "1.36")
		runStackWith(t, "dev", cfg, live(running)).ok()
	}
	assert.Contains(t, runStack(t, "dev", cfg).invokes, "aws:eks/getClusters:getClusters", "the program looks for the running cluster")
}

// TestOIDC_aRetainedIssuerIsAdoptedNotCreatedAgain: `pulumi destroy` keeps the account's GitHub and Pulumi OIDC
// providers (other stacks' roles trust them), so the next `pulumi up` finds them: the program imports the
// existing provider instead of creating a second one, which IAM refuses (EntityAlreadyExists). In a fresh
// account it creates them; either way they stay retained on delete.
func TestOIDC_aRetainedIssuerIsAdoptedNotCreatedAgain(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.Set("pulumiOrganization", "acme")
	fresh := runStack(t, "dev", cfg).ok()
	for _, p := range fresh.all("aws:iam/openIdConnectProvider:OpenIdConnectProvider") {
		assert.Empty(t, p.ImportID, "%s is created in a fresh account", p.Name)
		assert.True(t, p.RetainOnDelete, p.Name)
	}
	own := "/" + projectName + "/dev/" // the owner tag: the stack's role path
	again := runStackWith(t, "dev", cfg, func(e *plan.Engine) {
		e.OIDCProviders = map[string]string{"https://token.actions.githubusercontent.com": own, "https://api.pulumi.com/oidc": ""}
	}).ok()
	providers := again.all("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
	require.Len(t, providers, 2)
	for _, p := range providers {
		host := strings.TrimPrefix(p.Str("url"), "https://")
		assert.Equal(t, "arn:aws:iam::"+testAccount+":oidc-provider/"+host, p.ImportID, "%s adopts the stack's own (or an untagged) provider", p.Name)
		assert.True(t, p.RetainOnDelete, p.Name)
		assert.Equal(t, own, p.Str("tags.platform/owner"), "and marks it as the stack's")
	}

	// Another stack's provider is refused before anything is registered, with the key that reuses it.
	r := runStackWith(t, "dev", cfg, func(e *plan.Engine) {
		e.OIDCProviders = map[string]string{"https://token.actions.githubusercontent.com": "/" + projectName + "/prod/"}
	})
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "githubOidcProviderArn: the account already has the OIDC provider for token.actions.githubusercontent.com "+
		"(arn:aws:iam::"+testAccount+":oidc-provider/token.actions.githubusercontent.com), created by the stack of role path /"+projectName+"/prod/; "+
		"reuse it with `pulumi config set githubOidcProviderArn arn:aws:iam::"+testAccount+":oidc-provider/token.actions.githubusercontent.com`")
	assert.Empty(t, r.records)
	cfg.Set("githubOidcProviderArn", "arn:aws:iam::"+testAccount+":oidc-provider/token.actions.githubusercontent.com")
	reused := runStackWith(t, "dev", cfg, func(e *plan.Engine) {
		e.OIDCProviders = map[string]string{"https://token.actions.githubusercontent.com": "/" + projectName + "/prod/"}
	}).ok()
	for _, p := range reused.all("aws:iam/openIdConnectProvider:OpenIdConnectProvider") {
		assert.NotEqual(t, "https://token.actions.githubusercontent.com", p.Str("url"), "reused by ARN, not managed here")
	}
}

// buildWith runs the program under the offline engine and returns the platform it built.
func buildWith(t *testing.T, stack string, cfg stackConfig) (*stacks.Platform, error) {
	t.Helper()
	return buildWithRoles(t, stack, cfg, nil)
}

// TestPlanCommand_saysTheVersionsSupportAndPriceBesideTheOutput: `make plan` prints the stack's Kubernetes support
// status and control-plane price on standard error, so a piped format (dot, mermaid, snapshot) stays only that.
func TestPlanCommand_saysTheVersionsSupportAndPriceBesideTheOutput(t *testing.T) {
	t.Parallel()
	cmd := planCommand(t, "-stack", "dev", "-format", "dot")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	v, ok := infra.LookupKubernetesVersion(userConfig(t, "dev").Get("kubernetesVersion"))
	require.True(t, ok)
	assert.Contains(t, stderr.String(), v.Status(time.Now()), "the plan's real clock: today's support and price")
	assert.True(t, strings.HasPrefix(stdout.String(), `digraph "dev" {`), "standard output is the graph alone")
	assert.NotContains(t, stdout.String(), "control plane $")
}
