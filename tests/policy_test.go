package tests

// The security policy suite. Checkov, Trivy (tfsec) and KICS cannot read a Pulumi Go program, so the rules of
// theirs (and of Pulumi's awsguard) that apply to the resources this program creates are encoded here, each as
// a pure check over the graph the program registers under the offline engine. Every check runs against the
// real dev and prod stack files, and again with the optional deploy access enabled; every check has a fixture (a
// bad configuration or a bad graph) that proves it can fail.
//
// Rule IDs were read from the scanners' own sources: Checkov's policy index and check classes, Trivy's
// trivy-checks metadata (AVD-AWS-*), KICS's query metadata (query UUIDs) and pulumi/pulumi-policy-aws
// (awsguard). Where no scanner has a rule the design needs, the ID is PLAT-*.
//
// Rules considered and not encoded, with the reason:
//   - CKV_AWS_126, awsguard ec2-instance-detailed-monitoring-enabled, ec2-instance-no-public-ip, ec2-volume-inuse:
//     they check aws.ec2.Instance, and the program creates no instance (nodes come from the managed nodegroup;
//     their launch template is checked by CKV_AWS_79/341/88/8 below).
//   - awsguard access-keys-rotated and mfa-enabled-for-iam-console-access, CKV_AWS_9..15 (password policy):
//     they apply to IAM users and the account password policy; the program creates neither (CKV_AWS_40 below
//     keeps it that way).
//   - CKV_AWS_289/CKV_AWS_290 (cloudsplaining permissions management / write access without constraints): they
//     need AWS's full action catalogue to classify actions; CKV_AWS_355 below flags every unscoped restrictable
//     grant, which covers them for the documents this program writes.
//   - AVD-AWS-0104 (unrestricted egress): the only security groups with rules are created by pulumi-eks inside
//     its remote Cluster component, whose children the offline engine does not see.
//   - The strict form of CKV_AWS_39/AVD-AWS-0040 (no public endpoint at all) would fail prod, whose design is a
//     private endpoint plus a public one limited to listed CIDRs; the adapted rule below enforces that design and
//     CKV_AWS_38 forbids the open CIDR.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

// policy is one rule, checked over a whole recorded graph.
type policy struct {
	id    string // upstream rule IDs (Checkov CKV_AWS_*/CKV2_AWS_*, Trivy AVD-AWS-*), or PLAT-* for our own
	title string
	also  string                        // the same rule in KICS, awsguard or elsewhere
	check func(g *plan.Result) []string // violations, each naming the resource
}

// policies is the suite, grouped by resource area.
var policies = []policy{
	// --- EKS control plane (eks:index:Cluster; aws:eks/cluster:Cluster if ever used directly) ---------------
	{
		// Adapted: upstream fails any public endpoint. Ours: private access on, public only with an allow-list.
		id:    "CKV_AWS_39/AVD-AWS-0040",
		title: "EKS API: private endpoint on, public endpoint only for listed CIDRs",
		also:  "KICS 42f4b905-3736-4213-bfe9-c0660518cda8 (EKS Cluster Has Public Access), adapted",
		check: checkEKSEndpointAccess,
	},
	{
		id:    "CKV_AWS_38/AVD-AWS-0041",
		title: "EKS public endpoint is not reachable from 0.0.0.0/0",
		also:  "KICS 61cf9883-1752-4768-b18c-0d57f2737709 (EKS Cluster Has Public Access CIDRs)",
		check: checkEKSPublicCIDRs,
	},
	{
		id:    "CKV_AWS_58/CKV_AWS_151/AVD-AWS-0039",
		title: "EKS Secrets are envelope-encrypted with a KMS key of this stack",
		also:  "KICS 63ebcb19-2739-4d3f-aa5c-e8bbb9b85281 (EKS Cluster Encryption Disabled)",
		check: checkEKSSecretsEncryption,
	},
	{
		id:    "CKV_AWS_37/AVD-AWS-0038",
		title: "EKS control plane logs every log type",
		also:  "KICS 66f130d9-b81d-4e8e-9b08-da74b9c891df (Missing Cluster Log Types)",
		check: checkEKSControlPlaneLogging,
	},
	{
		id:    "CKV_AWS_339",
		title: "EKS runs a Kubernetes version from the supported allow-list",
		also:  "the allow-list is stacks.SupportedKubernetesVersions (Checkov's own list lags EKS releases)",
		check: checkEKSVersion,
	},

	// --- Nodes (aws:eks/nodeGroup:NodeGroup, eks:index:ManagedNodeGroup, aws:ec2/launchTemplate) --------------
	{
		id:    "CKV_AWS_79/AVD-AWS-0130/AVD-AWS-0028",
		title: "Nodes require IMDSv2 through a launch template of this stack",
		also:  "AVD-AWS-0130 covers launch templates, AVD-AWS-0028 the instances they start",
		check: checkNodesIMDSv2,
	},
	{
		id:    "CKV_AWS_341",
		title: "Launch templates keep the metadata response hop limit at 1 (pods cannot reach node credentials)",
		check: checkLaunchTemplateHopLimit,
	},
	{
		id:    "CKV_AWS_100",
		title: "Nodes accept no SSH: no nodegroup remote access, no launch template key pair",
		also:  "KICS ba40ace1-a047-483c-8a8d-bc2d3a67a82d (EKS node group remote access disabled); stricter than upstream, which allows SSH from listed security groups",
		check: checkNodesNoSSH,
	},
	{
		id:    "CKV_AWS_88/AVD-AWS-0009",
		title: "Launch templates give nodes no public IP address",
		check: checkLaunchTemplateNoPublicIP,
	},
	{
		id:    "PLAT-NODES-PRIVATE",
		title: "Nodegroups use only private subnets of this stack (no internet gateway route, no public IPs)",
		also:  "no scanner rule: needs the subnet, route table and gateway graph",
		check: checkNodesInPrivateSubnets,
	},
	{
		id:    "CKV_AWS_8/AVD-AWS-0008",
		title: "Launch templates encrypt every block device",
		also:  "awsguard encrypted-volumes (for instances); upstream rules name launch configurations",
		check: checkLaunchTemplateEncryption,
	},

	// --- ECR ----------------------------------------------------------------------------------------------------
	{
		id:    "CKV_AWS_51/AVD-AWS-0031",
		title: "ECR image tags are immutable",
		also:  "KICS d1846b12-20c5-4d45-8798-fc35b79268eb (ECR Image Tag Not Immutable)",
		check: checkECRImmutable,
	},
	{
		id:    "CKV_AWS_163/AVD-AWS-0030",
		title: "ECR scans images on push",
		also:  "KICS 9630336b-3fed-4096-8173-b9afdfe346a7 (Image is not scanned)",
		check: checkECRScanOnPush,
	},
	{
		id:    "CKV_AWS_136/AVD-AWS-0033",
		title: "ECR repositories are encrypted with a KMS key of this stack",
		also:  "KICS 0e32d561-4b5a-4664-a6e3-a3fa85649157 (ECR Repository Not Encrypted With CMK)",
		check: checkECRKMS,
	},
	{
		id:    "CKV_AWS_32/CKV_AWS_33/AVD-AWS-0032",
		title: "Resource policies (ECR, KMS) never grant a wildcard principal",
		also:  "KICS e86e26fc-489e-44f0-9bcd-97305e4ba69a (ECR Repository Has Public Access), 7ebc9038-0bde-479a-acc4-6ed7b6758899 (KMS Key With Vulnerable Policy)",
		check: checkResourcePoliciesNotPublic,
	},
	{
		id:    "AWS-FSBP-ECR.3",
		title: "Every ECR repository has a lifecycle policy",
		also:  "HashiCorp Sentinel FSBP ecr-lifecycle-policy-configured",
		check: checkECRLifecycle,
	},

	// --- KMS ----------------------------------------------------------------------------------------------------
	{
		id:    "CKV_AWS_7/AVD-AWS-0065",
		title: "KMS keys rotate automatically",
		also:  "KICS 22fbfeac-7b5a-421a-8a27-7a2178bb910b (CMK Rotation Disabled), awsguard cmk-backing-key-rotation-enabled",
		check: checkKMSRotation,
	},
	{
		id:    "KICS-0b530315",
		title: "KMS keys set an explicit deletion window of 7 to 30 days",
		also:  "KICS 0b530315-0ea4-497f-b34c-4ff86268f59d (KMS Key No Deletion Window)",
		check: checkKMSDeletionWindow,
	},
	{
		id:    "CKV2_AWS_64",
		title: "KMS keys carry an explicit key policy",
		check: checkKMSKeyPolicyDefined,
	},

	// --- CloudWatch Logs ------------------------------------------------------------------------------------------
	{
		id:    "CKV_AWS_66",
		title: "Log groups set a retention",
		also:  "KICS ef0b316a-211e-42f1-888e-64efe172b755 (CloudWatch Without Retention Period Specified)",
		check: checkLogRetentionSet,
	},
	{
		id:    "CKV_AWS_338",
		title: "Log groups keep logs for at least a year",
		check: checkLogRetentionYear,
	},
	{
		id:    "CKV_AWS_158/AVD-AWS-0017",
		title: "Log groups are encrypted with a KMS key",
		check: checkLogGroupKMS,
	},

	// --- IAM ------------------------------------------------------------------------------------------------------
	{
		id:    "CKV_AWS_274",
		title: "No AdministratorAccess, PowerUserAccess or IAMFullAccess managed policy is attached",
		also:  "PowerUserAccess and IAMFullAccess are our additions to the upstream rule",
		check: checkNoAdminManagedPolicies,
	},
	{
		id:    "CKV_AWS_62/CKV_AWS_63/CKV_AWS_1/CKV_AWS_49",
		title: "No policy allows the \"*\" action (hence never * on *)",
		also:  "KICS 2f37c4a3-58b9-4afe-8a87-d7f1d2286f84 (IAM Policies With Full Privileges), b1ffa705-19a3-4b73-b9d0-0c97d0663842 (IAM Role With Full Privileges), 575a2155-6af1-4026-b1af-d5bc8fe2a904 (IAM Policy Allows All ('*') In Policy Statement)",
		check: checkNoStarAction,
	},
	{
		id:    "CFN-NAG-W17",
		title: "No policy allows through NotAction or NotResource",
		also:  "AWS Guard Rules Registry iam_*_no_statements_with_full_access_check (Allow+NotAction)",
		check: checkNoNotActionAllow,
	},
	{
		id:    "CKV_AWS_355/CKV_AWS_356/AVD-AWS-0057",
		title: "Resource \"*\" only for actions that have no resource-level permissions",
		check: checkNoUnscopedRestrictableActions,
	},
	{
		id:    "CKV_AWS_286/AVD-AWS-0342",
		title: "No unconditioned privilege escalation: IAM policy writes on wildcards, PassRole without iam:PassedToService",
		also:  "subset of cloudsplaining's privilege-escalation methods",
		check: checkNoPrivilegeEscalation,
	},
	{
		id:    "CKV_AWS_287/CKV_AWS_288",
		title: "No credential-exposing or secret-reading action on Resource \"*\"",
		also:  "cloudsplaining credentials exposure and data exfiltration lists (ecr:GetAuthorizationToken excluded as upstream)",
		check: checkNoSecretReadingOnStar,
	},
	{
		id:    "PLAT-IAM-BOUNDARY",
		title: "Every role but the deploy role carries a permissions boundary that allows no IAM writes",
		also:  "no scanner rule: it needs the roles, their boundary and the boundary's document together",
		check: checkRoleBoundaries,
	},
	{
		id:    "CKV_AWS_40/AVD-AWS-0143",
		title: "No IAM users, user or group policies, access keys or login profiles",
		also:  "KICS b4378389-a9aa-44ee-91e7-ef183f11079e (IAM Policies Attached To User)",
		check: checkNoIAMUsers,
	},
	{
		id:    "awsguard:iam-role-no-policy-management-conflicts",
		title: "A role's policies are managed one way only",
		check: checkRolePolicyManagementConflicts,
	},
	{
		id:    "CKV_AWS_60/CKV_AWS_61/CKV_AWS_283",
		title: "Trust policies name specific principals: no \"*\", no NotPrincipal, no unconditioned account root",
		also:  "KICS 12b7e704-37f0-4d1e-911a-44bf60c48c21 (IAM Role Allows All Principals To Assume), bcdcbdc6-a350-4855-ae7c-d1e6436f7c97 (IAM Role Allows Public Assume)",
		check: checkTrustPrincipals,
	},
	{
		id:    "CKV_AWS_358",
		title: "GitHub OIDC trust has a sub condition naming one repository, without wildcards",
		check: checkGitHubOIDCSubject,
	},
	{
		id:    "PLAT-OIDC-EXACT",
		title: "Every OIDC trust tests aud and sub with StringEquals only: no ForAllValues/ForAnyValue, IfExists, StringLike",
		also:  "AWS IAM: a ForAllValues test is true when the claim is absent, so it never proves the claim",
		check: checkOIDCConditionsExact,
	},

	// --- Network ----------------------------------------------------------------------------------------------------
	{
		id:    "CKV2_AWS_11/AVD-AWS-0178",
		title: "Every VPC has flow logs capturing ALL traffic",
		also:  "KICS f83121ea-03da-434f-9277-9cd247ab3047 (VPC Flow Logs Disabled)",
		check: checkVPCFlowLogs,
	},
	{
		id:    "CKV2_AWS_12/AVD-AWS-0173",
		title: "Every VPC's default security group is managed and has no rules",
		also:  "KICS 46883ce1-dc3e-4b17-9195-c6a601624c73 (Default Security Group Does Not Restrict All Traffic)",
		check: checkDefaultSecurityGroupEmpty,
	},
	{
		id:    "CKV_AWS_24/CKV_AWS_25/CKV_AWS_260/CKV_AWS_277/AVD-AWS-0107",
		title: "No security group allows ingress from 0.0.0.0/0 or ::/0",
		also:  "KICS 4728cd65-a20c-49da-8b31-9c08b423e4db (Fully Open Ingress); stricter than upstream, which looks at listed ports",
		check: checkNoOpenIngress,
	},
	{
		id:    "CKV_AWS_130/AVD-AWS-0164",
		title: "Subnets do not assign public IPs on launch",
		check: checkSubnetsNoPublicIP,
	},

	// --- GitOps -----------------------------------------------------------------------------------------------------
	{
		id:    "PLAT-HELM-PIN",
		title: "Helm charts are pinned to an exact version from an HTTPS or OCI repository",
		also:  "no scanner reads Pulumi Helm releases",
		check: checkHelmChartsPinned,
	},
	{
		id:    "PLAT-ARGOCD-PROJECT",
		title: "Argo CD Applications use their own AppProject, never default, and projects have no wildcards",
		also:  "Argo CD's own guidance: the default project allows every repository and destination",
		check: checkArgoCDProjects,
	},
}

// unprotected names the stacks that exceptions apply to: those with protect false. A stack in production mode
// (protect true) takes no exceptions (TestPolicies_exceptionsAreStillNeededAndNeverApplyToProd), whatever it is
// called, and so does any stack of a user's.
const unprotected = "protect: false"

// exceptions are policies an unprotected stack (dev) deliberately does not meet, keyed by mode then policy ID.
var exceptions = map[string]map[string]string{
	unprotected: {
		"CKV_AWS_38/AVD-AWS-0041": "Pulumi.dev.yaml opens the public endpoint to 0.0.0.0/0 so a laptop can run the first " +
			"`pulumi up` from anywhere; prod lists its egress range only, and the program refuses 0.0.0.0/0 when protect is true",
		"CKV_AWS_338": "dev keeps flow and control-plane logs 14 days to keep a throwaway environment cheap; prod keeps them a year",
	},
}

// knownGaps are rules that neither stack meets yet. They are not exceptions: they are reported as gaps to close,
// and TestPolicies_knownGapsStillFail removes the entry's excuse the day a stack meets the rule.
var knownGaps = map[string]string{}

// deployAccessFindings are violations, keyed by policy then resource name, that the optional deploy and preview
// roles (pulumiOrganization/infraRepository) are known to have. They are design trade-offs, reported as gaps;
// anything else those roles violate fails the suite.
var deployAccessFindings = map[string]map[string]string{
	"CKV_AWS_355/CKV_AWS_356/AVD-AWS-0057": {
		"deploy-deploy-policy": "`pulumi up` manages autonamed VPC, KMS and log resources, which no ARN prefix can " +
			"scope: EC2 writes on * hold only on resources carrying the stack's tag (aws:ResourceTag/platform/stack) " +
			"or created with it (aws:RequestTag), kms:CreateKey (which takes no resource) only with the tag, and " +
			"tests/iam_eval_test.go evaluates them with an IAM engine; EKS and ECR are scoped to the stack's cluster " +
			"and repository, their reads (eks:Describe*/List*, ecr:GetAuthorizationToken) and EC2's have no " +
			"resource-level permissions",
		"deploy-preview-policy": "`pulumi preview` reads the same autonamed resources (Describe*/Get*/List* on *)",
	},
}

// --- Graphs the suite runs over ----------------------------------------------------------------------------

type policyGraph struct {
	name, stack  string
	deployAccess bool // with pulumiOrganization and infraRepository set: the optional deploy and preview roles
	// userFile, when set, is a user's stack file at the repository root instead of the fixture.
	userFile bool
	// services lists the two tenants of services_test.go instead of the single service.
	services bool
	// vpcCni is the stack's vpcCniIdentity ("" for the default).
	vpcCni string
}

var policyGraphs = []policyGraph{
	{name: "dev", stack: "dev"},
	{name: "prod", stack: "prod"},
	{name: "dev+deployAccess", stack: "dev", deployAccess: true},
	{name: "prod+deployAccess", stack: "prod", deployAccess: true},
	{name: "dev+services", stack: "dev", deployAccess: true, services: true},
	{name: "prod+services", stack: "prod", deployAccess: true, services: true},
	{name: "dev+vpcCniPodIdentity", stack: "dev", deployAccess: true, vpcCni: infra.VPCCNIPodIdentity},
	{name: "prod+vpcCniBoth", stack: "prod", vpcCni: infra.VPCCNIBoth},
}

func (pg policyGraph) config(t testing.TB) stackConfig {
	cfg := fixtureConfig(t, pg.stack)
	if pg.userFile {
		cfg = userConfig(t, pg.stack)
	}
	if pg.deployAccess {
		cfg.Set("pulumiOrganization", "acme")
		withInfraRepository(cfg)
	}
	if pg.services {
		cfg = withServices(cfg, tenants...)
	}
	if pg.vpcCni != "" {
		cfg.Set("vpcCniIdentity", pg.vpcCni)
	}
	return cfg
}

// mode is the key of the exceptions a configuration may take.
func mode(cfg stackConfig) string {
	if cfg.Get("protect") == "true" {
		return "protect: true"
	}
	return unprotected
}

// policyRun runs the real program for a stack configuration and returns its graph; every call is a fresh run,
// so a fixture may change the graph in place.
func policyRun(t testing.TB, stack string, cfg stackConfig) *plan.Result {
	t.Helper()
	return runStack(t, stack, cfg).ok().result
}

func policyByID(id string) (policy, bool) {
	for _, p := range policies {
		if p.id == id {
			return p, true
		}
	}
	return policy{}, false
}

// tolerated returns why a violation is accepted on a graph of a configuration, or "".
func (pg policyGraph) tolerated(cfg stackConfig, policyID, v string) string {
	if why := exceptions[mode(cfg)][policyID]; why != "" {
		return why
	}
	if why := knownGaps[policyID]; why != "" {
		return why
	}
	if cfg.Get("pulumiOrganization") != "" || cfg.Get("infraRepository") != "" { // the deploy roles exist
		for name, why := range deployAccessFindings[policyID] {
			if polViolationNames(v, name) {
				return why
			}
		}
	}
	return ""
}

// policyKeys returns a map's keys, sorted.
func policyKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func polViolationNames(v, resourceName string) bool {
	return strings.Contains(v, " "+resourceName+": ")
}

// --- The tests ---------------------------------------------------------------------------------------------

func TestPolicies_holdForEveryStack(t *testing.T) {
	t.Parallel()
	for _, pg := range policyGraphs {
		t.Run(pg.name, func(t *testing.T) { checkPolicies(t, pg) })
	}
}

// checkPolicies runs the whole suite over one graph.
func checkPolicies(t *testing.T, pg policyGraph) {
	cfg := pg.config(t)
	g := policyRun(t, pg.stack, cfg)
	for _, p := range policies {
		var left []string
		for _, v := range p.check(g) {
			if pg.tolerated(cfg, p.id, v) == "" {
				left = append(left, v)
			}
		}
		assert.Emptyf(t, left, "%s: %s", p.id, p.title)
	}
}

func TestPolicies_exceptionsAreStillNeededAndNeverApplyToProd(t *testing.T) {
	t.Parallel()
	for m := range exceptions {
		assert.Equal(t, unprotected, m, "only unprotected stacks may deviate; prod meets every policy or the gap is reported in knownGaps")
	}
	dev := policyRun(t, "dev", fixtureConfig(t, "dev"))
	prod := policyRun(t, "prod", fixtureConfig(t, "prod"))
	for id, why := range exceptions[unprotected] {
		p, ok := policyByID(id)
		require.Truef(t, ok, "exception for unknown policy %s", id)
		assert.NotEmpty(t, why, "%s: an exception states its reason", id)
		assert.NotEmptyf(t, p.check(dev), "%s: dev meets the policy now; remove the exception", id)
		assert.Emptyf(t, p.check(prod), "%s: prod must meet what dev is excused from", id)
	}
}

func TestPolicies_knownGapsStillFail(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		g := policyRun(t, stack, fixtureConfig(t, stack))
		for id := range knownGaps {
			p, ok := policyByID(id)
			require.Truef(t, ok, "gap for unknown policy %s", id)
			assert.NotEmptyf(t, p.check(g), "%s: %s meets the rule now; drop the gap (a deviation left in dev alone "+
				"belongs in exceptions)", id, stack)
		}
	}
}

func TestPolicies_deployAccessFindingsAreStillPresent(t *testing.T) {
	t.Parallel()
	g := policyRun(t, "dev", policyGraph{stack: "dev", deployAccess: true}.config(t)) // dev has both roles
	for id, byName := range deployAccessFindings {
		p, ok := policyByID(id)
		require.Truef(t, ok, "finding for unknown policy %s", id)
		violations := p.check(g)
		for name := range byName {
			assert.Truef(t, slices.ContainsFunc(violations, func(v string) bool { return polViolationNames(v, name) }),
				"%s: %s meets the rule now; remove it from deployAccessFindings", id, name)
		}
	}
}

func TestPolicies_tableIsWellFormed(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, p := range policies {
		assert.NotEmpty(t, p.id)
		assert.NotEmptyf(t, p.title, "%s has a title", p.id)
		assert.NotNilf(t, p.check, "%s has a check", p.id)
		assert.Falsef(t, seen[p.id], "duplicate policy %s", p.id)
		seen[p.id] = true
	}
	for id := range knownGaps {
		assert.Truef(t, seen[id], "knownGaps names unknown policy %s", id)
		assert.Emptyf(t, exceptions[unprotected][id], "%s is a gap for every stack, not a dev exception", id)
	}
	for id := range deployAccessFindings {
		assert.Truef(t, seen[id], "deployAccessFindings names unknown policy %s", id)
	}
	fixtured := map[string]bool{}
	for _, f := range policyFixtures {
		assert.Truef(t, seen[f.policy], "fixture %q names unknown policy %s", f.name, f.policy)
		fixtured[f.policy] = true
	}
	for _, p := range policies {
		assert.Truef(t, fixtured[p.id], "%s has no failing fixture", p.id)
	}
}

// TestPolicies_everyCheckCanFail runs each fixture: the policy passes on a compliant graph of the real program,
// and reports a violation once the fixture's bad configuration or bad graph is applied.
func TestPolicies_everyCheckCanFail(t *testing.T) {
	t.Parallel()
	good := policyRun(t, "prod", fixtureConfig(t, "prod")) // the checks only read it
	for _, f := range policyFixtures {
		t.Run(strings.ReplaceAll(f.policy, "/", "+")+"/"+f.name, func(t *testing.T) {
			t.Parallel()
			p, ok := policyByID(f.policy)
			require.True(t, ok, "unknown policy %s", f.policy)

			compliant := good
			if f.compliant != nil { // it may change the graph: a graph of its own
				compliant = policyRun(t, "prod", fixtureConfig(t, "prod"))
				f.compliant(t, compliant)
			}
			require.Emptyf(t, p.check(compliant), "%s must pass before the fixture is applied", p.id)

			cfg := fixtureConfig(t, "prod")
			if f.config != nil {
				f.config(cfg)
			}
			bad := policyRun(t, "prod", cfg)
			if f.mutate != nil {
				f.mutate(t, bad)
			}
			assert.NotEmptyf(t, p.check(bad), "%s did not catch: %s", p.id, f.name)
		})
	}
}

// TestPolicyDocuments_areWrittenByTheTypedBuilder: every IAM document the program registers decodes strictly
// into infra.PolicyDocument and re-encodes to the same document, so none is hand-concatenated; the loose decoder
// the checks use reads the same statements.
func TestPolicyDocuments_areWrittenByTheTypedBuilder(t *testing.T) {
	t.Parallel()
	for _, pg := range policyGraphs {
		g := policyRun(t, pg.stack, pg.config(t))
		docs := polDocuments(g)
		require.NotEmpty(t, docs)
		for _, d := range docs {
			require.NoErrorf(t, d.err, "%s %s", d.res.Name, d.field)
			dec := json.NewDecoder(strings.NewReader(d.raw))
			dec.DisallowUnknownFields()
			var typed infra.PolicyDocument
			require.NoErrorf(t, dec.Decode(&typed), "%s %s is not an infra.PolicyDocument", d.res.Name, d.field)
			again, err := typed.JSON()
			require.NoError(t, err)
			assert.JSONEqf(t, d.raw, again, "%s %s", d.res.Name, d.field)
			require.Len(t, d.doc.Statement, len(typed.Statement))
			for i, st := range typed.Statement {
				assert.Equal(t, st.Effect, d.doc.Statement[i].Effect)
				assert.Equal(t, st.Action, []string(d.doc.Statement[i].Action))
				assert.Equal(t, st.Resource, []string(d.doc.Statement[i].Resource))
			}
		}
	}
}

func TestPolicyDocuments_looseDecoderReadsEveryIAMShape(t *testing.T) {
	t.Parallel()
	var d polDoc
	require.NoError(t, json.Unmarshal([]byte(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",
		"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"s3:TlsVersion":1.2}}}}`), &d))
	require.Len(t, d.Statement, 1)
	st := d.Statement[0]
	assert.True(t, st.Principal.anyone)
	assert.Equal(t, polStrings{"s3:GetObject"}, st.Action)
	assert.Equal(t, polStrings{"*"}, st.Resource)
	assert.Equal(t, polStrings{"false"}, st.Condition["Bool"]["aws:SecureTransport"])

	require.NoError(t, json.Unmarshal([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"NotPrincipal":{"AWS":["arn:aws:iam::123456789012:root"]},"NotAction":["iam:*"],"NotResource":"arn:aws:s3:::x"}]}`), &d))
	assert.Equal(t, []string{"arn:aws:iam::123456789012:root"}, d.Statement[0].NotPrincipal.values())
	assert.Equal(t, polStrings{"iam:*"}, d.Statement[0].NotAction)
	assert.Equal(t, polStrings{"arn:aws:s3:::x"}, d.Statement[0].NotResource)

	assert.Error(t, json.Unmarshal([]byte(`{"Statement":[{"Effect":"Allow","Principal":"arn:aws:iam::1:root"}]}`), &d),
		"a bare principal string other than * is invalid IAM")
	assert.Error(t, json.Unmarshal([]byte(`{"Version":"2012-10-17"}`), &d), "a document without statements")
}

// --- Failing fixtures --------------------------------------------------------------------------------------

// policyFixture is a bad configuration (run through the real program, which must accept it) or a bad graph (a
// real prod graph changed in place) that a policy must catch.
type policyFixture struct {
	policy, name string
	config       func(cfg stackConfig)
	mutate       func(t *testing.T, g *plan.Result)
	// compliant first makes the real graph meet the policy, for the known gaps the real graph fails already.
	compliant func(t *testing.T, g *plan.Result)
}

// Documents used by the fixtures, in the general IAM shapes the typed builder never writes.
const (
	fxStarPolicy        = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`
	fxNotActionPolicy   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`
	fxNotResourcePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","NotResource":"arn:aws:s3:::private"}]}`
	fxUnscopedPolicy    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":"*"}]}`
	fxPassRolePolicy    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}`
	fxPutRolePolicy     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:AttachRolePolicy"],"Resource":"arn:aws:iam::123456789012:role/*"}]}`
	fxSecretsPolicy     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	fxSSMGetPolicy      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:Get*","Resource":"*"}]}`
	fxPublicRepoPolicy  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`
	fxPublicKeyPolicy   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`
	fxAnyoneTrust       = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`
	fxBareStarTrust     = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`
	fxAccountTrust      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}`
	fxNotPrincipalTr    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:role/x"},"Action":"sts:AssumeRole"}]}`
	fxGitHubProvider    = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
)

// fxGitHubTrust is a GitHub web-identity trust with the given condition block.
func fxGitHubTrust(condition string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + fxGitHubProvider +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + condition + `}]}`
}

var policyFixtures = []policyFixture{
	// EKS
	{policy: "CKV_AWS_39/AVD-AWS-0040", name: "private endpoint off", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, plan.EKSClusterType, "cluster-eks"), "endpointPrivateAccess", false)
	}},
	{policy: "CKV_AWS_39/AVD-AWS-0040", name: "public endpoint without CIDRs", mutate: func(t *testing.T, g *plan.Result) {
		fxDelete(fxOne(t, g, plan.EKSClusterType, "cluster-eks"), "publicAccessCidrs")
	}},
	{policy: "CKV_AWS_38/AVD-AWS-0041", name: "prod config with 0.0.0.0/0 and protect off", config: func(cfg stackConfig) {
		cfg.Set("protect", false)
		cfg.Set("endpointPublicAccessCidrs", []string{"0.0.0.0/0"})
	}},
	{policy: "CKV_AWS_38/AVD-AWS-0041", name: "IPv6 ::/0", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, plan.EKSClusterType, "cluster-eks"), "publicAccessCidrs", []any{"203.0.113.0/24", "::/0"})
	}},
	{policy: "CKV_AWS_58/CKV_AWS_151/AVD-AWS-0039", name: "no secrets key", mutate: func(t *testing.T, g *plan.Result) {
		fxDelete(fxOne(t, g, plan.EKSClusterType, "cluster-eks"), "encryptionConfigKeyArn")
	}},
	{policy: "CKV_AWS_58/CKV_AWS_151/AVD-AWS-0039", name: "a key this stack does not manage", mutate: func(t *testing.T, g *plan.Result) {
		c := fxOne(t, g, plan.EKSClusterType, "cluster-eks")
		fxSet(c, "encryptionConfigKeyArn", "arn:aws:kms:us-east-1:123456789012:alias/aws/eks")
		delete(c.PropertyDeps, "encryptionConfigKeyArn")
	}},
	{policy: "CKV_AWS_37/AVD-AWS-0038", name: "audit and API logs only", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, plan.EKSClusterType, "cluster-eks"), "enabledClusterLogTypes", []any{"api", "audit"})
	}},
	{policy: "CKV_AWS_339", name: "end-of-support version", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, plan.EKSClusterType, "cluster-eks"), "version", "1.29")
	}},

	// Nodes
	{policy: "CKV_AWS_79/AVD-AWS-0130/AVD-AWS-0028", name: "IMDSv1 allowed", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeLaunchTemplate, "nodes-lt"), "metadataOptions.httpTokens", "optional")
	}},
	{policy: "CKV_AWS_79/AVD-AWS-0130/AVD-AWS-0028", name: "nodegroup without launch template", mutate: func(t *testing.T, g *plan.Result) {
		fxDelete(fxOne(t, g, polTypeNodeGroup, "nodes"), "launchTemplate")
	}},
	{policy: "CKV_AWS_341", name: "hop limit 2", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeLaunchTemplate, "nodes-lt"), "metadataOptions.httpPutResponseHopLimit", 2)
	}},
	{policy: "CKV_AWS_100", name: "nodegroup remote access", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeNodeGroup, "nodes"), "remoteAccess", map[string]any{"ec2SshKey": "ops"})
	}},
	{policy: "CKV_AWS_100", name: "launch template key pair", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeLaunchTemplate, "nodes-lt"), "keyName", "ops")
	}},
	{policy: "CKV_AWS_88/AVD-AWS-0009", name: "public IP on the node interface", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeLaunchTemplate, "nodes-lt"), "networkInterfaces", []any{map[string]any{"associatePublicIpAddress": "true"}})
	}},
	{policy: "PLAT-NODES-PRIVATE", name: "a public subnet among the node subnets", mutate: func(t *testing.T, g *plan.Result) {
		ng := fxOne(t, g, polTypeNodeGroup, "nodes")
		fxSet(ng, "subnetIds", []any{"network-private-us-east-1a-id", "network-public-us-east-1b-id"})
	}},
	{policy: "PLAT-NODES-PRIVATE", name: "a subnet outside this stack", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeNodeGroup, "nodes"), "subnetIds", []any{"subnet-0123456789abcdef0"})
	}},
	{policy: "PLAT-NODES-PRIVATE", name: "private route table gains an internet gateway route", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeRoute, "stray-route", map[string]any{
			"routeTableId": "network-private-rt-us-east-1a-id", "destinationCidrBlock": "0.0.0.0/0", "gatewayId": "network-igw-id",
		})
	}},
	{policy: "CKV_AWS_8/AVD-AWS-0008", name: "unencrypted root volume", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeLaunchTemplate, "nodes-lt"), "blockDeviceMappings",
			[]any{map[string]any{"deviceName": "/dev/xvda", "ebs": map[string]any{"volumeSize": 100, "encrypted": "false"}}})
	}},

	// ECR
	{policy: "CKV_AWS_51/AVD-AWS-0031", name: "mutable tags", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeECRRepository, "registry-repo"), "imageTagMutability", "MUTABLE")
	}},
	{policy: "CKV_AWS_163/AVD-AWS-0030", name: "no scan on push", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeECRRepository, "registry-repo"), "imageScanningConfiguration.scanOnPush", false)
	}},
	{policy: "CKV_AWS_136/AVD-AWS-0033", name: "AES256 instead of KMS", mutate: func(t *testing.T, g *plan.Result) {
		repo := fxOne(t, g, polTypeECRRepository, "registry-repo")
		fxSet(repo, "encryptionConfigurations", []any{map[string]any{"encryptionType": "AES256"}})
		delete(repo.PropertyDeps, "encryptionConfigurations")
	}},
	{policy: "CKV_AWS_32/CKV_AWS_33/AVD-AWS-0032", name: "repository policy for anyone", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeECRRepositoryPolicy, "public-pull", map[string]any{"repository": "prod/your-service", "policy": fxPublicRepoPolicy})
	}},
	{policy: "CKV_AWS_32/CKV_AWS_33/AVD-AWS-0032", name: "key policy for any AWS principal", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeKMSKey, "registry-key"), "policy", fxPublicKeyPolicy)
	}},
	{policy: "AWS-FSBP-ECR.3", name: "no lifecycle policy", mutate: func(t *testing.T, g *plan.Result) {
		fxRemove(t, g, polTypeECRLifecyclePolicy, "registry-lifecycle")
	}},

	// KMS
	{policy: "CKV_AWS_7/AVD-AWS-0065", name: "rotation off", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeKMSKey, "cluster-secrets-key"), "enableKeyRotation", false)
	}},
	{policy: "KICS-0b530315", name: "no deletion window", mutate: func(t *testing.T, g *plan.Result) {
		fxDelete(fxOne(t, g, polTypeKMSKey, "registry-key"), "deletionWindowInDays")
	}},
	{policy: "CKV2_AWS_64", name: "registry key on the default key policy", mutate: func(t *testing.T, g *plan.Result) {
		fxDelete(fxOne(t, g, polTypeKMSKey, "registry-key"), "policy")
	}},

	// CloudWatch Logs
	{policy: "CKV_AWS_66", name: "flow log group without retention", mutate: func(t *testing.T, g *plan.Result) {
		fxDelete(fxOne(t, g, polTypeLogGroup, "network-flow-logs"), "retentionInDays")
	}},
	{policy: "CKV_AWS_338", name: "90-day retention", config: func(c stackConfig) { c.Set("logRetentionDays", 90) }},
	{policy: "CKV_AWS_158/AVD-AWS-0017", name: "flow logs on CloudWatch's default encryption", mutate: func(t *testing.T, g *plan.Result) {
		fxDelete(fxOne(t, g, polTypeLogGroup, "network-flow-logs"), "kmsKeyId")
	}},

	// IAM
	{policy: "CKV_AWS_274", name: "AdministratorAccess attached", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeRolePolicyAttachment, "nodes-role-admin", map[string]any{
			"role": "cluster-node-role-1a2b3c4", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
		})
	}},
	{policy: "CKV_AWS_274", name: "PowerUserAccess in managedPolicyArns", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "github-push-role"), "managedPolicyArns", []any{"arn:aws:iam::aws:policy/PowerUserAccess"})
	}},
	{policy: "CKV_AWS_274", name: "IAMFullAccess attached", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypePolicyAttachment, "iam-admins", map[string]any{
			"roles": []any{"cluster-node-role-1a2b3c4"}, "policyArn": "arn:aws:iam::aws:policy/IAMFullAccess",
		})
	}},
	{policy: "CKV_AWS_62/CKV_AWS_63/CKV_AWS_1/CKV_AWS_49", name: "* on *", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRolePolicy, "github-push-policy"), "policy", fxStarPolicy)
	}},
	{policy: "CFN-NAG-W17", name: "Allow with NotAction", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRolePolicy, "network-flow-logs"), "policy", fxNotActionPolicy)
	}},
	{policy: "CFN-NAG-W17", name: "Allow with NotResource", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeManagedPolicy, "loose", map[string]any{"policy": fxNotResourcePolicy})
	}},
	{policy: "CKV_AWS_355/CKV_AWS_356/AVD-AWS-0057", name: "s3:PutObject on *", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRolePolicy, "github-push-policy"), "policy", fxUnscopedPolicy)
	}},
	{policy: "CKV_AWS_286/AVD-AWS-0342", name: "PassRole on * without iam:PassedToService", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeRolePolicy, "nodes-passrole", map[string]any{"role": "cluster-node-role-id", "policy": fxPassRolePolicy})
	}},
	{policy: "CKV_AWS_286/AVD-AWS-0342", name: "AttachRolePolicy on role/*", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeRolePolicy, "nodes-attach", map[string]any{"role": "cluster-node-role-id", "policy": fxPutRolePolicy})
	}},
	{policy: "CKV_AWS_287/CKV_AWS_288", name: "GetSecretValue on *", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeRolePolicy, "nodes-secrets", map[string]any{"role": "cluster-node-role-id", "policy": fxSecretsPolicy})
	}},
	{policy: "CKV_AWS_287/CKV_AWS_288", name: "ssm:Get* on *", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRolePolicy, "github-push-policy"), "policy", fxSSMGetPolicy)
	}},
	{policy: "PLAT-IAM-BOUNDARY", name: "node role without boundary", mutate: func(t *testing.T, g *plan.Result) {
		r := fxOne(t, g, polTypeRole, "cluster-node-role")
		fxDelete(r, "permissionsBoundary")
		delete(r.PropertyDeps, "permissionsBoundary")
	}},
	{policy: "PLAT-IAM-BOUNDARY", name: "boundary allows iam:PutRolePolicy", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeManagedPolicy, "roles-policy"), "policy",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:*","iam:PutRolePolicy"],"Resource":"*"}]}`)
	}},
	{policy: "CKV_AWS_40/AVD-AWS-0143", name: "an access key", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, "aws:iam/accessKey:AccessKey", "ci-key", map[string]any{"user": "ci"})
	}},
	{policy: "CKV_AWS_40/AVD-AWS-0143", name: "a policy attached to users", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypePolicyAttachment, "to-users", map[string]any{
			"users": []any{"ci"}, "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
		})
	}},
	{policy: "awsguard:iam-role-no-policy-management-conflicts", name: "managedPolicyArns beside attachments", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "cluster-node-role"), "managedPolicyArns",
			[]any{"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"})
	}},
	{policy: "CKV_AWS_60/CKV_AWS_61/CKV_AWS_283", name: "AWS * may assume", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "cluster-node-role"), "assumeRolePolicy", fxAnyoneTrust)
	}},
	{policy: "CKV_AWS_60/CKV_AWS_61/CKV_AWS_283", name: "bare * principal", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "network-flow-logs"), "assumeRolePolicy", fxBareStarTrust)
	}},
	{policy: "CKV_AWS_60/CKV_AWS_61/CKV_AWS_283", name: "whole account without condition", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "cluster-node-role"), "assumeRolePolicy", fxAccountTrust)
	}},
	{policy: "CKV_AWS_60/CKV_AWS_61/CKV_AWS_283", name: "Allow with NotPrincipal", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "cluster-node-role"), "assumeRolePolicy", fxNotPrincipalTr)
	}},
	{policy: "CKV_AWS_358", name: "no sub condition", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "github-push-role"), "assumeRolePolicy",
			fxGitHubTrust(`{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}`))
	}},
	{policy: "CKV_AWS_358", name: "every repository of the owner", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "github-push-role"), "assumeRolePolicy", fxGitHubTrust(`{"StringLike":{
			"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"repo:your-org/*"}}`))
	}},
	{policy: "CKV_AWS_358", name: "a ref of any repository", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "github-push-role"), "assumeRolePolicy", fxGitHubTrust(`{"StringEquals":{
			"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"ref:refs/heads/main"}}`))
	}},
	{policy: "PLAT-OIDC-EXACT", name: "sub under ForAllValues", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "github-push-role"), "assumeRolePolicy", fxGitHubTrust(`{
			"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},
			"ForAllValues:StringEquals":{"token.actions.githubusercontent.com:sub":["repo:your-org/your-service:ref:refs/heads/main"]}}`))
	}},
	{policy: "PLAT-OIDC-EXACT", name: "StringLike sub with a wildcard", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "github-push-role"), "assumeRolePolicy", fxGitHubTrust(`{
			"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},
			"StringLike":{"token.actions.githubusercontent.com:sub":"repo:your-org/your-service:*"}}`))
	}},
	{policy: "PLAT-OIDC-EXACT", name: "no aud", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "github-push-role"), "assumeRolePolicy", fxGitHubTrust(`{
			"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:your-org/your-service:ref:refs/heads/main"}}`))
	}},
	{policy: "PLAT-OIDC-EXACT", name: "IfExists operator", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "github-push-role"), "assumeRolePolicy", fxGitHubTrust(`{
			"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},
			"StringEqualsIfExists":{"token.actions.githubusercontent.com:sub":"repo:your-org/your-service:ref:refs/heads/main"}}`))
	}},

	// Network
	{policy: "CKV2_AWS_11/AVD-AWS-0178", name: "no flow log", mutate: func(t *testing.T, g *plan.Result) {
		fxRemove(t, g, polTypeFlowLog, "network-flow-log")
	}},
	{policy: "CKV2_AWS_11/AVD-AWS-0178", name: "accepted traffic only", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeFlowLog, "network-flow-log"), "trafficType", "ACCEPT")
	}},
	{policy: "CKV2_AWS_12/AVD-AWS-0173", name: "default security group not managed", mutate: func(t *testing.T, g *plan.Result) {
		fxRemove(t, g, polTypeDefaultSecurityGroup, "network-default-sg")
	}},
	{policy: "CKV2_AWS_12/AVD-AWS-0173", name: "default security group with an egress rule", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeDefaultSecurityGroup, "network-default-sg"), "egress",
			[]any{map[string]any{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": []any{"10.20.0.0/16"}}})
	}},
	{policy: "CKV_AWS_24/CKV_AWS_25/CKV_AWS_260/CKV_AWS_277/AVD-AWS-0107", name: "SSH from anywhere (rule)", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeSecurityGroupRule, "ssh-anywhere", map[string]any{
			"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": []any{"0.0.0.0/0"}, "securityGroupId": "sg-1",
		})
	}},
	{policy: "CKV_AWS_24/CKV_AWS_25/CKV_AWS_260/CKV_AWS_277/AVD-AWS-0107", name: "all ports from ::/0 (vpc ingress rule)", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeSecurityGroupIngressRule, "all-v6", map[string]any{"ipProtocol": "-1", "cidrIpv6": "::/0", "securityGroupId": "sg-1"})
	}},
	{policy: "CKV_AWS_24/CKV_AWS_25/CKV_AWS_260/CKV_AWS_277/AVD-AWS-0107", name: "HTTP from anywhere (inline)", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeSecurityGroup, "web", map[string]any{"ingress": []any{map[string]any{
			"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrBlocks": []any{"0.0.0.0/0"},
		}}})
	}},
	{policy: "CKV_AWS_130/AVD-AWS-0164", name: "public subnet maps public IPs", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeSubnet, "network-public-us-east-1a"), "mapPublicIpOnLaunch", true)
	}},

	// GitOps
	{policy: "PLAT-HELM-PIN", name: "version range", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeHelmRelease, "gitops-argocd"), "version", "~9.1.0")
	}},
	{policy: "PLAT-HELM-PIN", name: "no version", mutate: func(t *testing.T, g *plan.Result) {
		fxDelete(fxOne(t, g, polTypeHelmRelease, "gitops-argocd"), "version")
	}},
	{policy: "PLAT-HELM-PIN", name: "plain HTTP repository", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeHelmRelease, "gitops-argocd"), "repositoryOpts.repo", "http://argoproj.github.io/argo-helm")
	}},
	{policy: "PLAT-ARGOCD-PROJECT", name: "default project", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeArgoApplication, "gitops-application"), "spec.project", "default")
	}},
	{policy: "PLAT-ARGOCD-PROJECT", name: "project allows any repository", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeArgoAppProject, "gitops-project"), "spec.sourceRepos", []any{"*"})
	}},
	{policy: "PLAT-ARGOCD-PROJECT", name: "project allows any namespace", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeArgoAppProject, "gitops-project"), "spec.destinations",
			[]any{map[string]any{"server": "https://kubernetes.default.svc", "namespace": "*"}})
	}},
}

// fxOne returns the named resource of a graph.
func fxOne(t *testing.T, g *plan.Result, typ, name string) *plan.Resource {
	t.Helper()
	for _, r := range g.Resources {
		if r.Type == typ && r.Name == name {
			return r
		}
	}
	require.Failf(t, "fixture target missing", "%s %s in stack %s", typ, name, g.Stack)
	return nil
}

// fxSet sets an input at a dotted path, creating objects on the way.
func fxSet(r *plan.Resource, path string, v any) {
	keys := strings.Split(path, ".")
	m := r.Inputs
	for _, k := range keys[:len(keys)-1] {
		next := m[resource.PropertyKey(k)]
		for next.IsSecret() {
			next = next.SecretValue().Element
		}
		if !next.IsObject() {
			next = resource.NewObjectProperty(resource.PropertyMap{})
			m[resource.PropertyKey(k)] = next
		}
		m = next.ObjectValue()
	}
	m[resource.PropertyKey(keys[len(keys)-1])] = resource.NewPropertyValue(v)
}

// fxDelete removes a top-level input.
func fxDelete(r *plan.Resource, key string) { delete(r.Inputs, resource.PropertyKey(key)) }

// fxAdd registers an extra top-level resource in a graph, as if the program had.
func fxAdd(g *plan.Result, typ, name string, inputs map[string]any) *plan.Resource {
	r := &plan.Resource{
		Type: typ, Name: name, URN: plan.NewEngine(projectName, g.Stack).URN("", typ, name), Custom: true,
		Inputs: resource.NewPropertyMapFromMap(inputs), PropertyDeps: map[string][]string{},
	}
	g.Resources = append(g.Resources, r)
	return r
}

// fxRemove drops a resource from a graph, as if the program had never registered it.
func fxRemove(t *testing.T, g *plan.Result, typ, name string) {
	t.Helper()
	target := fxOne(t, g, typ, name)
	g.Resources = slices.DeleteFunc(g.Resources, func(r *plan.Resource) bool { return r == target })
}

// --- Graph queries -------------------------------------------------------------------------------------------

// Resource types the policies read.
const (
	polTypeAWSEKSCluster            = "aws:eks/cluster:Cluster"
	polTypeNodeGroup                = "aws:eks/nodeGroup:NodeGroup"
	polTypeEKSManagedNodeGroup      = "eks:index:ManagedNodeGroup"
	polTypeLaunchTemplate           = "aws:ec2/launchTemplate:LaunchTemplate"
	polTypeVPC                      = "aws:ec2/vpc:Vpc"
	polTypeSubnet                   = "aws:ec2/subnet:Subnet"
	polTypeRoute                    = "aws:ec2/route:Route"
	polTypeRouteTableAssociation    = "aws:ec2/routeTableAssociation:RouteTableAssociation"
	polTypeInternetGateway          = "aws:ec2/internetGateway:InternetGateway"
	polTypeFlowLog                  = "aws:ec2/flowLog:FlowLog"
	polTypeDefaultSecurityGroup     = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
	polTypeSecurityGroup            = "aws:ec2/securityGroup:SecurityGroup"
	polTypeSecurityGroupRule        = "aws:ec2/securityGroupRule:SecurityGroupRule"
	polTypeSecurityGroupIngressRule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	polTypeECRRepository            = "aws:ecr/repository:Repository"
	polTypeECRRepositoryPolicy      = "aws:ecr/repositoryPolicy:RepositoryPolicy"
	polTypeECRRegistryPolicy        = "aws:ecr/registryPolicy:RegistryPolicy"
	polTypeECRLifecyclePolicy       = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
	polTypeKMSKey                   = "aws:kms/key:Key"
	polTypeKMSKeyPolicy             = "aws:kms/keyPolicy:KeyPolicy"
	polTypeLogGroup                 = "aws:cloudwatch/logGroup:LogGroup"
	polTypeRole                     = "aws:iam/role:Role"
	polTypeRolePolicy               = "aws:iam/rolePolicy:RolePolicy"
	polTypeRolePolicyAttachment     = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	polTypePolicyAttachment         = "aws:iam/policyAttachment:PolicyAttachment"
	polTypeManagedPolicy            = "aws:iam/policy:Policy"
	polTypeHelmRelease              = "kubernetes:helm.sh/v3:Release"
	polTypeHelmChartV4              = "kubernetes:helm.sh/v4:Chart"
	polTypeArgoApplication          = "kubernetes:argoproj.io/v1alpha1:Application"
	polTypeArgoAppProject           = "kubernetes:argoproj.io/v1alpha1:AppProject"
)

// polViolation formats a finding that names its resource.
func polViolation(r *plan.Resource, format string, args ...any) string {
	return r.Type + " " + r.Name + ": " + fmt.Sprintf(format, args...)
}

// polResourceID is the physical ID the offline engine gives a resource: its logical name plus "-id"
// (plan.Engine.NewResource). Inputs that reference other resources carry these IDs.
func polResourceID(r *plan.Resource) string { return r.Name + "-id" }

// polByID indexes the custom resources of a graph by physical ID.
func polByID(g *plan.Result) map[string]*plan.Resource {
	out := map[string]*plan.Resource{}
	for _, r := range g.Resources {
		if r.Custom {
			out[polResourceID(r)] = r
		}
	}
	return out
}

// polFindAll returns the resources of any of the given types.
func polFindAll(g *plan.Result, types ...string) []*plan.Resource {
	var out []*plan.Resource
	for _, r := range g.Resources {
		if slices.Contains(types, r.Type) {
			out = append(out, r)
		}
	}
	return out
}

// polDependsOnType reports whether an input of r was computed from a resource of type typ in the graph.
func polDependsOnType(g *plan.Result, r *plan.Resource, input, typ string) bool {
	for _, u := range r.PropertyDeps[input] {
		if d := g.ByURN(u); d != nil && d.Type == typ {
			return true
		}
	}
	return false
}

// polTruthy reads a boolean that the AWS provider may hold as a bool or as the string "true".
func polTruthy(v any) bool { return v == true || v == "true" }

func polObjects(v any) []map[string]any {
	var out []map[string]any
	for _, e := range asSlice(v) {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func polStringsOf(v any) []string {
	var out []string
	for _, e := range asSlice(v) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// polOpenToInternet reports whether a CIDR admits every address of its family (0.0.0.0/0, ::/0).
func polOpenToInternet(cidr string) bool {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	return err == nil && p.Bits() == 0
}

// --- EKS ------------------------------------------------------------------------------------------------------

// polCluster reads an EKS cluster the same way whether it is pulumi-eks's component or aws.eks.Cluster.
type polCluster struct {
	r                         *plan.Resource
	private, public           bool
	cidrs, logTypes           []string
	secretsKey, secretsKeyRef string // key ARN; input whose property dependencies lead to the key
	secretsEncrypted          bool   // the encryption config covers Secrets
	version                   string
}

func polClusters(g *plan.Result) []polCluster {
	var out []polCluster
	for _, r := range g.Resources {
		switch r.Type {
		case plan.EKSClusterType: // pulumi-eks defaults: public on, private off, no logs, no encryption
			out = append(out, polCluster{
				r: r, private: r.In("endpointPrivateAccess") == true, public: r.In("endpointPublicAccess") != false,
				cidrs: r.Strs("publicAccessCidrs"), logTypes: r.Strs("enabledClusterLogTypes"),
				secretsKey: r.Str("encryptionConfigKeyArn"), secretsKeyRef: "encryptionConfigKeyArn",
				secretsEncrypted: r.Str("encryptionConfigKeyArn") != "", version: r.Str("version"),
			})
		case polTypeAWSEKSCluster: // AWS defaults: the same
			out = append(out, polCluster{
				r: r, private: r.In("vpcConfig.endpointPrivateAccess") == true, public: r.In("vpcConfig.endpointPublicAccess") != false,
				cidrs: r.Strs("vpcConfig.publicAccessCidrs"), logTypes: r.Strs("enabledClusterLogTypes"),
				secretsKey: r.Str("encryptionConfig.provider.keyArn"), secretsKeyRef: "encryptionConfig",
				secretsEncrypted: slices.Contains(r.Strs("encryptionConfig.resources"), "secrets"), version: r.Str("version"),
			})
		}
	}
	return out
}

func checkEKSEndpointAccess(g *plan.Result) []string {
	var out []string
	for _, c := range polClusters(g) {
		if !c.private {
			out = append(out, polViolation(c.r, "private endpoint access is off: nodes and in-VPC tools reach the API over the internet"))
		}
		if c.public && len(c.cidrs) == 0 {
			out = append(out, polViolation(c.r, "public endpoint is on without publicAccessCidrs, which EKS opens to 0.0.0.0/0"))
		}
	}
	return out
}

func checkEKSPublicCIDRs(g *plan.Result) []string {
	var out []string
	for _, c := range polClusters(g) {
		if !c.public {
			continue
		}
		if len(c.cidrs) == 0 {
			out = append(out, polViolation(c.r, "public endpoint without CIDRs is open to 0.0.0.0/0"))
		}
		for _, cidr := range c.cidrs {
			if _, err := netip.ParsePrefix(cidr); err != nil {
				out = append(out, polViolation(c.r, "public access CIDR %q is not a CIDR", cidr))
			} else if polOpenToInternet(cidr) {
				out = append(out, polViolation(c.r, "public endpoint is open to the internet (%s)", cidr))
			}
		}
	}
	return out
}

func checkEKSSecretsEncryption(g *plan.Result) []string {
	var out []string
	for _, c := range polClusters(g) {
		switch {
		case !c.secretsEncrypted || c.secretsKey == "":
			out = append(out, polViolation(c.r, "Kubernetes Secrets are not envelope-encrypted with KMS"))
		case !polDependsOnType(g, c.r, c.secretsKeyRef, polTypeKMSKey):
			out = append(out, polViolation(c.r, "secrets key %s is not a customer-managed KMS key of this stack", c.secretsKey))
		}
	}
	return out
}

// polEKSLogTypes are all EKS control-plane log types (the upstream rule's list, kept apart from infra's on purpose).
var polEKSLogTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

func checkEKSControlPlaneLogging(g *plan.Result) []string {
	var out []string
	for _, c := range polClusters(g) {
		for _, lt := range polEKSLogTypes {
			if !slices.Contains(c.logTypes, lt) {
				out = append(out, polViolation(c.r, "control-plane log type %q is not enabled", lt))
			}
		}
	}
	return out
}

func checkEKSVersion(g *plan.Result) []string {
	var out []string
	for _, c := range polClusters(g) {
		if !slices.Contains(stacks.SupportedKubernetesVersions, c.version) {
			out = append(out, polViolation(c.r, "Kubernetes %q is not in the supported allow-list %v", c.version, stacks.SupportedKubernetesVersions))
		}
	}
	return out
}

// --- Nodes ------------------------------------------------------------------------------------------------------

func polNodeGroups(g *plan.Result) []*plan.Resource {
	return polFindAll(g, polTypeNodeGroup, polTypeEKSManagedNodeGroup)
}

func checkNodesIMDSv2(g *plan.Result) []string {
	var out []string
	ids := polByID(g)
	for _, ng := range polNodeGroups(g) {
		if ng.Type == polTypeEKSManagedNodeGroup && ng.In("enableIMDSv2") == true {
			continue
		}
		ltID := ng.Str("launchTemplate.id")
		if lt := ids[ltID]; lt == nil || lt.Type != polTypeLaunchTemplate {
			out = append(out, polViolation(ng, "nodes do not use a launch template of this stack (%q); EKS's default template allows IMDSv1", ltID))
		}
	}
	for _, lt := range g.Find(polTypeLaunchTemplate) {
		if lt.Str("metadataOptions.httpEndpoint") != "disabled" && lt.Str("metadataOptions.httpTokens") != "required" {
			out = append(out, polViolation(lt, "metadata service accepts IMDSv1 (httpTokens %q)", lt.Str("metadataOptions.httpTokens")))
		}
	}
	return out
}

func checkLaunchTemplateHopLimit(g *plan.Result) []string {
	var out []string
	for _, lt := range g.Find(polTypeLaunchTemplate) {
		if hop, ok := lt.In("metadataOptions.httpPutResponseHopLimit").(float64); ok && hop > 1 { // unset: AWS's default, 1
			out = append(out, polViolation(lt, "metadata response hop limit %v lets pods reach the node role's credentials", hop))
		}
	}
	return out
}

func checkNodesNoSSH(g *plan.Result) []string {
	var out []string
	for _, ng := range polNodeGroups(g) {
		if ra, ok := ng.In("remoteAccess").(map[string]any); ok && len(ra) > 0 {
			out = append(out, polViolation(ng, "remote access (SSH) is configured"))
		}
	}
	for _, lt := range g.Find(polTypeLaunchTemplate) {
		if lt.Str("keyName") != "" {
			out = append(out, polViolation(lt, "key pair %q lets SSH into the nodes", lt.Str("keyName")))
		}
	}
	return out
}

func checkLaunchTemplateNoPublicIP(g *plan.Result) []string {
	var out []string
	for _, lt := range g.Find(polTypeLaunchTemplate) {
		for _, ni := range polObjects(lt.In("networkInterfaces")) {
			if polTruthy(ni["associatePublicIpAddress"]) {
				out = append(out, polViolation(lt, "network interface associates a public IP address"))
			}
		}
	}
	return out
}

func checkNodesInPrivateSubnets(g *plan.Result) []string {
	var out []string
	ids := polByID(g)
	for _, ng := range polNodeGroups(g) {
		subnets := ng.Strs("subnetIds")
		if len(subnets) == 0 {
			out = append(out, polViolation(ng, "no subnets listed"))
		}
		for _, id := range subnets {
			s := ids[id]
			if s == nil || s.Type != polTypeSubnet {
				out = append(out, polViolation(ng, "subnet %s is not a subnet of this stack, so it cannot be shown to be private", id))
				continue
			}
			if why := polPublicBecause(g, ids, s); why != "" {
				out = append(out, polViolation(ng, "subnet %s is not private: %s", s.Name, why))
			}
		}
	}
	return out
}

// polPublicBecause says why a subnet is public, or "" if it is private: it maps no public IPs and every route
// table it is explicitly associated with has no route to an internet gateway.
func polPublicBecause(g *plan.Result, ids map[string]*plan.Resource, s *plan.Resource) string {
	if polTruthy(s.In("mapPublicIpOnLaunch")) {
		return "it maps public IPs on launch"
	}
	var tables []*plan.Resource
	for _, a := range g.Find(polTypeRouteTableAssociation) {
		if a.Str("subnetId") == polResourceID(s) {
			rt := ids[a.Str("routeTableId")]
			if rt == nil {
				return fmt.Sprintf("route table %s is not part of this stack", a.Str("routeTableId"))
			}
			tables = append(tables, rt)
		}
	}
	if len(tables) == 0 {
		return "it has no explicit route table, so the VPC's main route table decides"
	}
	isIGW := func(id string) bool {
		r := ids[id]
		return (r != nil && r.Type == polTypeInternetGateway) || strings.HasPrefix(id, "igw-")
	}
	for _, rt := range tables {
		for _, route := range polObjects(rt.In("routes")) {
			if gw, _ := route["gatewayId"].(string); isIGW(gw) {
				return fmt.Sprintf("route table %s routes to internet gateway %s", rt.Name, gw)
			}
		}
		for _, route := range g.Find(polTypeRoute) {
			if route.Str("routeTableId") == polResourceID(rt) && isIGW(route.Str("gatewayId")) {
				return fmt.Sprintf("route %s sends route table %s to internet gateway %s", route.Name, rt.Name, route.Str("gatewayId"))
			}
		}
	}
	return ""
}

func checkLaunchTemplateEncryption(g *plan.Result) []string {
	var out []string
	for _, lt := range g.Find(polTypeLaunchTemplate) {
		mappings := polObjects(lt.In("blockDeviceMappings"))
		if len(mappings) == 0 {
			out = append(out, polViolation(lt, "no block device mapping: the root volume follows the AMI snapshot, unencrypted"))
		}
		for _, m := range mappings {
			ebs, _ := m["ebs"].(map[string]any)
			if !polTruthy(ebs["encrypted"]) {
				out = append(out, polViolation(lt, "block device %v is not encrypted", m["deviceName"]))
			}
		}
	}
	return out
}

// --- ECR ----------------------------------------------------------------------------------------------------------

func checkECRImmutable(g *plan.Result) []string {
	var out []string
	for _, r := range g.Find(polTypeECRRepository) {
		if r.Str("imageTagMutability") != "IMMUTABLE" { // unset: MUTABLE
			out = append(out, polViolation(r, "image tags are mutable (%q)", r.Str("imageTagMutability")))
		}
	}
	return out
}

func checkECRScanOnPush(g *plan.Result) []string {
	var out []string
	for _, r := range g.Find(polTypeECRRepository) {
		if r.In("imageScanningConfiguration.scanOnPush") != true {
			out = append(out, polViolation(r, "images are not scanned on push"))
		}
	}
	return out
}

func checkECRKMS(g *plan.Result) []string {
	var out []string
	for _, r := range g.Find(polTypeECRRepository) {
		enc := polObjects(r.In("encryptionConfigurations"))
		switch {
		case len(enc) == 0 || (enc[0]["encryptionType"] != "KMS" && enc[0]["encryptionType"] != "KMS_DSSE"):
			out = append(out, polViolation(r, "not encrypted with KMS"))
		case enc[0]["kmsKey"] == nil || enc[0]["kmsKey"] == "" || !polDependsOnType(g, r, "encryptionConfigurations", polTypeKMSKey):
			out = append(out, polViolation(r, "encrypted with a key this stack does not manage"))
		}
	}
	return out
}

func checkResourcePoliciesNotPublic(g *plan.Result) []string {
	out := polDocumentErrors(g, "resource")
	for _, d := range polDocuments(g) {
		if d.kind != "resource" || d.err != nil {
			continue
		}
		for _, st := range d.doc.Statement {
			if strings.EqualFold(st.Effect, "Allow") && st.Principal.wildcard() {
				out = append(out, polViolation(d.res, "%s allows any principal (%v)", d.field, st.Principal.values()))
			}
		}
	}
	return out
}

func checkECRLifecycle(g *plan.Result) []string {
	var out []string
	for _, repo := range g.Find(polTypeECRRepository) {
		covered := slices.ContainsFunc(g.Find(polTypeECRLifecyclePolicy), func(lp *plan.Resource) bool {
			return lp.Str("repository") == repo.Str("name") || slices.Contains(lp.PropertyDeps["repository"], repo.URN)
		})
		if !covered {
			out = append(out, polViolation(repo, "no lifecycle policy: untagged and old images accumulate"))
		}
	}
	return out
}

// --- KMS ----------------------------------------------------------------------------------------------------------

func checkKMSRotation(g *plan.Result) []string {
	var out []string
	for _, k := range g.Find(polTypeKMSKey) {
		if spec := k.Str("customerMasterKeySpec"); spec != "" && spec != "SYMMETRIC_DEFAULT" {
			continue // rotation exists for symmetric keys only
		}
		if k.In("enableKeyRotation") != true {
			out = append(out, polViolation(k, "automatic key rotation is off"))
		}
	}
	return out
}

func checkKMSDeletionWindow(g *plan.Result) []string {
	var out []string
	for _, k := range g.Find(polTypeKMSKey) {
		if days, ok := k.In("deletionWindowInDays").(float64); !ok || days < 7 || days > 30 {
			out = append(out, polViolation(k, "deletion window %v is not an explicit 7 to 30 days", k.In("deletionWindowInDays")))
		}
	}
	return out
}

func checkKMSKeyPolicyDefined(g *plan.Result) []string {
	var out []string
	for _, k := range g.Find(polTypeKMSKey) {
		hasPolicy := k.Str("policy") != "" || slices.ContainsFunc(g.Find(polTypeKMSKeyPolicy), func(p *plan.Resource) bool {
			return slices.Contains(p.PropertyDeps["keyId"], k.URN)
		})
		if !hasPolicy {
			out = append(out, polViolation(k, "no key policy: AWS's default hands the key to whatever IAM policies of the account allow"))
		}
	}
	return out
}

// --- CloudWatch Logs ------------------------------------------------------------------------------------------

func checkLogRetentionSet(g *plan.Result) []string {
	var out []string
	for _, lg := range g.Find(polTypeLogGroup) {
		if days, ok := lg.In("retentionInDays").(float64); !ok || days < 1 {
			out = append(out, polViolation(lg, "no retention: logs are kept forever"))
		}
	}
	return out
}

func checkLogRetentionYear(g *plan.Result) []string {
	var out []string
	for _, lg := range g.Find(polTypeLogGroup) {
		if days, _ := lg.In("retentionInDays").(float64); days < 365 {
			out = append(out, polViolation(lg, "retention %v days is less than a year", days))
		}
	}
	return out
}

func checkLogGroupKMS(g *plan.Result) []string {
	var out []string
	for _, lg := range g.Find(polTypeLogGroup) {
		if lg.Str("kmsKeyId") == "" {
			out = append(out, polViolation(lg, "not encrypted with a KMS key"))
		}
	}
	return out
}

// --- IAM documents --------------------------------------------------------------------------------------------

// polStrings is an IAM value that may be a single string or a list (Action, Resource, condition values);
// booleans and numbers in conditions are read as their text.
type polStrings []string

func (s *polStrings) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	scalar := func(e any) (string, error) {
		switch e := e.(type) {
		case string:
			return e, nil
		case bool, float64:
			return fmt.Sprint(e), nil
		}
		return "", fmt.Errorf("want a string, got %T", e)
	}
	if list, ok := v.([]any); ok {
		*s = nil
		for _, e := range list {
			str, err := scalar(e)
			if err != nil {
				return err
			}
			*s = append(*s, str)
		}
		return nil
	}
	str, err := scalar(v)
	*s = polStrings{str}
	return err
}

// polPrincipal is "*" or a map from principal type (AWS, Service, Federated, CanonicalUser) to values.
type polPrincipal struct {
	anyone bool
	byType map[string]polStrings
}

func (p *polPrincipal) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "*" {
			return fmt.Errorf("principal %q: only \"*\" may be given as a bare string", s)
		}
		p.anyone = true
		return nil
	}
	return json.Unmarshal(b, &p.byType)
}

func (p polPrincipal) present() bool { return p.anyone || len(p.byType) > 0 }

func (p polPrincipal) values() []string {
	if p.anyone {
		return []string{"*"}
	}
	var out []string
	for _, typ := range policyKeys(p.byType) {
		out = append(out, p.byType[typ]...)
	}
	return out
}

func (p polPrincipal) wildcard() bool {
	return slices.ContainsFunc(p.values(), func(v string) bool { return v == "*" || strings.Contains(v, ":*:") })
}

type polStatement struct {
	Sid                                      string
	Effect                                   string
	Principal, NotPrincipal                  polPrincipal
	Action, NotAction, Resource, NotResource polStrings
	Condition                                map[string]map[string]polStrings // operator -> key -> values
}

// polDoc is any IAM policy document, not only what the typed builder writes: Statement may be one object, and
// Action, Resource and principals may be strings or lists.
type polDoc struct {
	Version   string
	Statement []polStatement
}

func (d *polDoc) UnmarshalJSON(b []byte) error {
	var raw struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	d.Version, d.Statement = raw.Version, nil
	st := bytes.TrimSpace(raw.Statement)
	switch {
	case len(st) == 0 || string(st) == "null":
		return errors.New("the document has no Statement")
	case st[0] == '{':
		var one polStatement
		if err := json.Unmarshal(st, &one); err != nil {
			return err
		}
		d.Statement = []polStatement{one}
		return nil
	}
	return json.Unmarshal(st, &d.Statement)
}

// polDocument is one IAM document found in the graph.
type polDocument struct {
	res   *plan.Resource
	field string // the input that holds it
	kind  string // trust, identity, boundary or resource
	raw   string
	doc   polDoc
	err   error
}

// polDocumentSources are the inputs that hold IAM documents.
var polDocumentSources = []struct{ typ, field, kind string }{
	{polTypeRole, "assumeRolePolicy", "trust"},
	{polTypeRolePolicy, "policy", "identity"},
	{polTypeManagedPolicy, "policy", "identity"},
	{"aws:iam/userPolicy:UserPolicy", "policy", "identity"},
	{"aws:iam/groupPolicy:GroupPolicy", "policy", "identity"},
	{polTypeECRRepositoryPolicy, "policy", "resource"},
	{polTypeECRRegistryPolicy, "policy", "resource"},
	{polTypeKMSKey, "policy", "resource"},
	{polTypeKMSKeyPolicy, "policy", "resource"},
}

func polDocuments(g *plan.Result) []polDocument {
	var out []polDocument
	boundaries := polBoundaryPolicies(g)
	add := func(r *plan.Resource, field, kind string, v any, required bool) {
		if kind == "identity" && boundaries[r.URN] {
			kind = "boundary" // caps the roles that carry it; grants nothing
		}
		raw, ok := v.(string)
		if v != nil && !ok { // a document given as an object
			b, _ := json.Marshal(v)
			raw = string(b)
		}
		if raw == "" && !required {
			return
		}
		d := polDocument{res: r, field: field, kind: kind, raw: raw}
		if raw == "" {
			d.err = errors.New("the document is missing or unknown")
		} else {
			d.err = json.Unmarshal([]byte(raw), &d.doc)
		}
		out = append(out, d)
	}
	for _, r := range g.Resources {
		for _, src := range polDocumentSources {
			if r.Type == src.typ {
				add(r, src.field, src.kind, r.In(src.field), src.typ != polTypeKMSKey)
			}
		}
		if r.Type == polTypeRole {
			for i, p := range polObjects(r.In("inlinePolicies")) {
				add(r, fmt.Sprintf("inlinePolicies[%d]", i), "identity", p["policy"], true)
			}
		}
	}
	return out
}

// polBoundaryPolicies are the managed policies used only as permissions boundaries: some role names one in
// permissionsBoundary and no attachment grants it.
func polBoundaryPolicies(g *plan.Result) map[string]bool {
	out := map[string]bool{}
	for _, r := range g.Find(polTypeRole) {
		for _, u := range r.PropertyDeps["permissionsBoundary"] {
			out[u] = true
		}
	}
	for _, a := range g.Resources {
		for _, u := range a.PropertyDeps["policyArn"] {
			delete(out, u)
		}
	}
	return out
}

// boundaryExempt are the roles that may lack the permissions boundary, with the reason.
var boundaryExempt = map[string]string{
	"deploy-deploy-role": "it manages the bounded roles (so the boundary cannot cap it), may manage only roles " +
		"under the stack's path that carry the boundary, and its own policy denies changing itself or the boundary",
}

// checkRoleBoundaries: every role carries a permissions boundary that grants no IAM write but service-linked
// roles, so no role (and no role the deploy role creates) can ever change IAM.
func checkRoleBoundaries(g *plan.Result) []string {
	var out []string
	for _, r := range g.Find(polTypeRole) {
		if _, ok := boundaryExempt[r.Name]; ok {
			continue
		}
		if len(r.PropertyDeps["permissionsBoundary"]) == 0 && r.Str("permissionsBoundary") == "" {
			out = append(out, polViolation(r, "no permissions boundary"))
		}
	}
	for _, d := range polDocuments(g) {
		if d.kind != "boundary" {
			continue
		}
		if d.err != nil {
			out = append(out, polViolation(d.res, "boundary cannot be read: %v", d.err))
			continue
		}
		for _, st := range d.doc.Statement {
			if st.Effect != "Allow" {
				continue
			}
			for _, a := range st.Action {
				read := strings.HasPrefix(a, "iam:Get") || strings.HasPrefix(a, "iam:List")
				if a == "*" || (strings.HasPrefix(a, "iam:") && !read && a != "iam:CreateServiceLinkedRole") {
					out = append(out, polViolation(d.res, "boundary allows %s: roles under it could change IAM", a))
				}
			}
		}
	}
	return out
}

// polDocumentErrors reports the documents of the given kinds that cannot be read: a check must never pass a
// document it could not parse.
func polDocumentErrors(g *plan.Result, kinds ...string) []string {
	var out []string
	for _, d := range polDocuments(g) {
		if d.err != nil && slices.Contains(kinds, d.kind) {
			out = append(out, polViolation(d.res, "%s cannot be read: %v", d.field, d.err))
		}
	}
	return out
}

// polGlob matches an IAM pattern (* and ?, case-insensitive) against a name.
func polGlob(pattern, s string) bool {
	re := "(?i)^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	ok, _ := regexp.MatchString(re, s)
	return ok
}

// grants reports whether a statement's Action (or NotAction) covers an action.
func (st polStatement) grants(action string) bool {
	if len(st.NotAction) > 0 {
		return !slices.ContainsFunc(st.NotAction, func(p string) bool { return polGlob(p, action) })
	}
	return slices.ContainsFunc(st.Action, func(p string) bool { return polGlob(p, action) })
}

func (st polStatement) allows() bool { return strings.EqualFold(st.Effect, "Allow") }

// onEverything reports whether a statement applies to all resources.
func (st polStatement) onEverything() bool {
	return len(st.NotResource) > 0 || slices.Contains(st.Resource, "*")
}

// deniesEverywhere reports whether the document denies an action on every resource without conditions.
func (d polDoc) deniesEverywhere(action string) bool {
	return slices.ContainsFunc(d.Statement, func(st polStatement) bool {
		return strings.EqualFold(st.Effect, "Deny") && len(st.Condition) == 0 && st.onEverything() && st.grants(action)
	})
}

// polIdentityStatements calls f for each Allow statement of each readable identity document.
func polIdentityStatements(g *plan.Result, f func(d polDocument, st polStatement)) {
	for _, d := range polDocuments(g) {
		if d.kind != "identity" || d.err != nil {
			continue
		}
		for _, st := range d.doc.Statement {
			if st.allows() {
				f(d, st)
			}
		}
	}
}

// --- IAM ------------------------------------------------------------------------------------------------------

var polAdminManagedPolicyRe = regexp.MustCompile(`^arn:aws[a-z-]*:iam::aws:policy/(AdministratorAccess|PowerUserAccess|IAMFullAccess)$`)

func checkNoAdminManagedPolicies(g *plan.Result) []string {
	var out []string
	for _, r := range g.Resources {
		var arns []string
		switch r.Type {
		case polTypeRolePolicyAttachment, polTypePolicyAttachment, "aws:iam/userPolicyAttachment:UserPolicyAttachment",
			"aws:iam/groupPolicyAttachment:GroupPolicyAttachment":
			arns = []string{r.Str("policyArn")}
		case polTypeRole:
			arns = r.Strs("managedPolicyArns")
		}
		for _, arn := range arns {
			if polAdminManagedPolicyRe.MatchString(arn) {
				out = append(out, polViolation(r, "attaches %s", arn))
			}
		}
	}
	return out
}

func checkNoStarAction(g *plan.Result) []string {
	out := polDocumentErrors(g, "identity", "resource")
	for _, d := range polDocuments(g) {
		if d.kind == "trust" || d.err != nil {
			continue
		}
		for _, st := range d.doc.Statement {
			if st.allows() && slices.ContainsFunc(st.Action, func(a string) bool { return a == "*" || a == "*:*" }) {
				out = append(out, polViolation(d.res, "%s allows every action on %v", d.field, st.Resource))
			}
		}
	}
	return out
}

func checkNoNotActionAllow(g *plan.Result) []string {
	out := polDocumentErrors(g, "identity", "resource", "trust")
	for _, d := range polDocuments(g) {
		if d.err != nil {
			continue
		}
		for _, st := range d.doc.Statement {
			if st.allows() && len(st.NotAction) > 0 {
				out = append(out, polViolation(d.res, "%s allows everything but %v (NotAction)", d.field, st.NotAction))
			}
			if st.allows() && len(st.NotResource) > 0 {
				out = append(out, polViolation(d.res, "%s allows on everything but %v (NotResource)", d.field, st.NotResource))
			}
		}
	}
	return out
}

// polWildcardOnlyActions have no resource-level permissions in IAM: Resource "*" is the only way to grant them.
// polWildcardOnlyActions have no resource-level permissions (Service Authorization Reference: no resource type),
// so "*" is the only resource they take.
var polWildcardOnlyActions = []string{
	"ecr:GetAuthorizationToken", "sts:GetCallerIdentity", "cloudwatch:PutMetricData",
	"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
	"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
	"autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
	"ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions",
	"ec2:GetInstanceTypesFromInstanceRequirements", "logs:DescribeLogGroups",
}

func checkNoUnscopedRestrictableActions(g *plan.Result) []string {
	out := polDocumentErrors(g, "identity")
	polIdentityStatements(g, func(d polDocument, st polStatement) {
		if !st.onEverything() {
			return
		}
		var restrictable []string
		for _, a := range st.Action {
			if !slices.ContainsFunc(polWildcardOnlyActions, func(w string) bool { return strings.EqualFold(w, a) }) {
				restrictable = append(restrictable, a)
			}
		}
		if len(restrictable) > 0 || len(st.NotAction) > 0 {
			out = append(out, polViolation(d.res, "%s grants %v on every resource", d.field, append(restrictable, st.NotAction...)))
		}
	})
	return out
}

// polPrivilegeEscalationActions let a principal raise its own permissions when granted on a wildcard resource.
var polPrivilegeEscalationActions = []string{
	"iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:CreatePolicyVersion",
	"iam:SetDefaultPolicyVersion", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
	"iam:PutUserPolicy", "iam:AttachUserPolicy", "iam:PutGroupPolicy", "iam:AttachGroupPolicy", "iam:AddUserToGroup",
	"iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
}

func checkNoPrivilegeEscalation(g *plan.Result) []string {
	out := polDocumentErrors(g, "identity")
	polIdentityStatements(g, func(d polDocument, st polStatement) {
		onWildcard := len(st.NotResource) > 0 || slices.ContainsFunc(st.Resource, func(r string) bool { return strings.Contains(r, "*") })
		if !onWildcard {
			return
		}
		if len(st.Condition) == 0 {
			for _, a := range polPrivilegeEscalationActions {
				if st.grants(a) && !d.doc.deniesEverywhere(a) {
					out = append(out, polViolation(d.res, "%s grants %s on %v without a condition (permissions boundary, policy ARN)", d.field, a, st.Resource))
				}
			}
		}
		if st.grants("iam:PassRole") && !polHasConditionKey(st, "iam:PassedToService") && !d.doc.deniesEverywhere("iam:PassRole") {
			out = append(out, polViolation(d.res, "%s grants iam:PassRole on %v to any service (no iam:PassedToService)", d.field, st.Resource))
		}
	})
	return out
}

func polHasConditionKey(st polStatement, key string) bool {
	for _, keys := range st.Condition {
		for k := range keys {
			if strings.EqualFold(k, key) {
				return true
			}
		}
	}
	return false
}

// polSecretReadingActions expose credentials (CKV_AWS_287) or read stored secrets and data (CKV_AWS_288).
var polSecretReadingActions = []string{
	"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "secretsmanager:GetSecretValue", "s3:GetObject",
	"ec2:GetPasswordData", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
	"iam:CreateServiceSpecificCredential", "iam:ResetServiceSpecificCredential", "sts:GetSessionToken",
	"sts:GetFederationToken", "lightsail:GetInstanceAccessDetails", "redshift:GetClusterCredentials",
}

func checkNoSecretReadingOnStar(g *plan.Result) []string {
	out := polDocumentErrors(g, "identity")
	polIdentityStatements(g, func(d polDocument, st polStatement) {
		if !st.onEverything() || len(st.Condition) > 0 {
			return
		}
		for _, a := range polSecretReadingActions {
			if st.grants(a) && !d.doc.deniesEverywhere(a) {
				out = append(out, polViolation(d.res, "%s grants %s on every resource", d.field, a))
			}
		}
	})
	return out
}

func checkNoIAMUsers(g *plan.Result) []string {
	var out []string
	for _, r := range g.Resources {
		switch r.Type {
		case "aws:iam/user:User", "aws:iam/userPolicy:UserPolicy", "aws:iam/userPolicyAttachment:UserPolicyAttachment",
			"aws:iam/accessKey:AccessKey", "aws:iam/userLoginProfile:UserLoginProfile", "aws:iam/groupPolicy:GroupPolicy",
			"aws:iam/groupPolicyAttachment:GroupPolicyAttachment", "aws:iam/serviceSpecificCredential:ServiceSpecificCredential":
			out = append(out, polViolation(r, "long-lived IAM users, their credentials and policies are not used: roles and OIDC only"))
		case polTypePolicyAttachment:
			if len(r.Strs("users")) > 0 || len(r.Strs("groups")) > 0 {
				out = append(out, polViolation(r, "attaches a policy to users or groups"))
			}
		}
	}
	return out
}

func checkRolePolicyManagementConflicts(g *plan.Result) []string {
	var out []string
	for _, r := range polFindAll(g, polTypeRolePolicyAttachment, polTypeRolePolicy, polTypePolicyAttachment) {
		for _, u := range append(slices.Clone(r.PropertyDeps["role"]), r.PropertyDeps["roles"]...) {
			role := g.ByURN(u)
			if role == nil || role.Type != polTypeRole {
				continue
			}
			if len(role.Strs("managedPolicyArns")) > 0 || len(asSlice(role.In("inlinePolicies"))) > 0 {
				out = append(out, polViolation(r, "manages policies of role %s, which also sets managedPolicyArns or inlinePolicies", role.Name))
			}
		}
	}
	return out
}

var polAccountRootRe = regexp.MustCompile(`^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:root)$`)

func checkTrustPrincipals(g *plan.Result) []string {
	out := polDocumentErrors(g, "trust")
	for _, d := range polDocuments(g) {
		if d.kind != "trust" || d.err != nil {
			continue
		}
		for _, st := range d.doc.Statement {
			if !st.allows() {
				continue
			}
			if st.NotPrincipal.present() {
				out = append(out, polViolation(d.res, "trust uses NotPrincipal: everyone else may assume the role"))
			}
			if !st.Principal.present() {
				out = append(out, polViolation(d.res, "trust statement names no principal"))
			}
			if st.Principal.wildcard() {
				out = append(out, polViolation(d.res, "trust allows any principal (%v)", st.Principal.values()))
			}
			for _, p := range st.Principal.byType["AWS"] {
				if polAccountRootRe.MatchString(p) && len(st.Condition) == 0 {
					out = append(out, polViolation(d.res, "trust lets every principal of account %s assume the role, unconditioned", p))
				}
			}
		}
	}
	return out
}

// polWebIdentityStatements calls f for each Allow trust statement that trusts an OIDC provider, with the issuer
// host named by the provider ARN.
func polWebIdentityStatements(g *plan.Result, f func(d polDocument, st polStatement, issuer string)) {
	for _, d := range polDocuments(g) {
		if d.kind != "trust" || d.err != nil {
			continue
		}
		for _, st := range d.doc.Statement {
			if !st.allows() {
				continue
			}
			for _, fed := range st.Principal.byType["Federated"] {
				if _, host, ok := strings.Cut(fed, ":oidc-provider/"); ok {
					f(d, st, host)
				}
			}
		}
	}
}

// polClaimValues returns the values a statement tests a claim against, by operator.
func polClaimValues(st polStatement, issuer, claim string) map[string][]string {
	out := map[string][]string{}
	for op, keys := range st.Condition {
		for k, vs := range keys {
			if strings.EqualFold(k, issuer+":"+claim) {
				out[op] = append(out[op], vs...)
			}
		}
	}
	return out
}

// polGitHubSubjectRe is a subject that names one repository (owner/name, or GitHub's immutable owner@id/name@id)
// before any other claim.
var polGitHubSubjectRe = regexp.MustCompile(`^repo:[A-Za-z0-9_.-]+(@[0-9]+)?/[A-Za-z0-9_.-]+(@[0-9]+)?:[^*?]+$`)

func checkGitHubOIDCSubject(g *plan.Result) []string {
	out := polDocumentErrors(g, "trust")
	polWebIdentityStatements(g, func(d polDocument, st polStatement, issuer string) {
		if !strings.EqualFold(issuer, infra.GitHubIssuerHost) {
			return
		}
		subs := polClaimValues(st, issuer, "sub")
		if len(subs) == 0 {
			out = append(out, polViolation(d.res, "GitHub trust has no sub condition: any repository on GitHub may assume the role"))
		}
		for _, op := range policyKeys(subs) {
			for _, s := range subs[op] {
				if !polGitHubSubjectRe.MatchString(s) {
					out = append(out, polViolation(d.res, "GitHub subject %q (%s) is not one repository's exact claim", s, op))
				}
			}
		}
	})
	return out
}

func checkOIDCConditionsExact(g *plan.Result) []string {
	out := polDocumentErrors(g, "trust")
	polWebIdentityStatements(g, func(d polDocument, st polStatement, issuer string) {
		if len(st.NotAction) > 0 || slices.ContainsFunc(st.Action, func(a string) bool {
			return !strings.EqualFold(a, "sts:AssumeRoleWithWebIdentity") && !strings.EqualFold(a, "sts:TagSession")
		}) {
			out = append(out, polViolation(d.res, "OIDC trust for %s allows %v (NotAction %v) besides sts:AssumeRoleWithWebIdentity", issuer, st.Action, st.NotAction))
		}
		for _, claim := range []string{"aud", "sub"} {
			byOp := polClaimValues(st, issuer, claim)
			if len(byOp["StringEquals"]) == 0 {
				out = append(out, polViolation(d.res, "OIDC trust for %s does not test %s with StringEquals", issuer, claim))
			}
			for _, op := range policyKeys(byOp) {
				if op != "StringEquals" {
					out = append(out, polViolation(d.res, "OIDC trust for %s tests %s with %s: only StringEquals is exact and fails when the claim is absent", issuer, claim, op))
				}
				for _, v := range byOp[op] {
					if strings.ContainsAny(v, "*?") {
						out = append(out, polViolation(d.res, "OIDC trust for %s accepts the %s pattern %q", issuer, claim, v))
					}
				}
			}
		}
	})
	return out
}

// --- Network ------------------------------------------------------------------------------------------------------

func checkVPCFlowLogs(g *plan.Result) []string {
	var out []string
	for _, vpc := range g.Find(polTypeVPC) {
		var traffic []string
		for _, fl := range g.Find(polTypeFlowLog) {
			if fl.Str("vpcId") == polResourceID(vpc) {
				traffic = append(traffic, fl.Str("trafficType"))
			}
		}
		switch {
		case len(traffic) == 0:
			out = append(out, polViolation(vpc, "no flow log"))
		case !slices.Contains(traffic, "ALL"):
			out = append(out, polViolation(vpc, "flow logs capture %v, not ALL traffic", traffic))
		}
	}
	return out
}

func checkDefaultSecurityGroupEmpty(g *plan.Result) []string {
	var out []string
	for _, vpc := range g.Find(polTypeVPC) {
		managed := false
		for _, sg := range g.Find(polTypeDefaultSecurityGroup) {
			if sg.Str("vpcId") != polResourceID(vpc) {
				continue
			}
			managed = true
			for _, dir := range []string{"ingress", "egress"} {
				if n := len(asSlice(sg.In(dir))); n > 0 {
					out = append(out, polViolation(sg, "default security group has %d %s rule(s)", n, dir))
				}
			}
		}
		if !managed {
			out = append(out, polViolation(vpc, "default security group is not managed, so it keeps AWS's allow-all rules"))
		}
	}
	return out
}

func checkNoOpenIngress(g *plan.Result) []string {
	var out []string
	open := func(rule map[string]any) []string {
		var hit []string
		for _, key := range []string{"cidrBlocks", "ipv6CidrBlocks"} {
			hit = append(hit, slices.DeleteFunc(polStringsOf(rule[key]), func(c string) bool { return !polOpenToInternet(c) })...)
		}
		return hit
	}
	for _, r := range g.Resources {
		switch r.Type {
		case polTypeSecurityGroup, polTypeDefaultSecurityGroup:
			for _, rule := range polObjects(r.In("ingress")) {
				if hit := open(rule); len(hit) > 0 {
					out = append(out, polViolation(r, "ingress %v-%v from %v", rule["fromPort"], rule["toPort"], hit))
				}
			}
		case polTypeSecurityGroupRule:
			if r.Str("type") == "ingress" {
				if hit := open(map[string]any{"cidrBlocks": r.In("cidrBlocks"), "ipv6CidrBlocks": r.In("ipv6CidrBlocks")}); len(hit) > 0 {
					out = append(out, polViolation(r, "ingress %v-%v from %v", r.In("fromPort"), r.In("toPort"), hit))
				}
			}
		case polTypeSecurityGroupIngressRule:
			for _, key := range []string{"cidrIpv4", "cidrIpv6"} {
				if polOpenToInternet(r.Str(key)) {
					out = append(out, polViolation(r, "ingress %v-%v from %s", r.In("fromPort"), r.In("toPort"), r.Str(key)))
				}
			}
		}
	}
	return out
}

func checkSubnetsNoPublicIP(g *plan.Result) []string {
	var out []string
	for _, s := range g.Find(polTypeSubnet) {
		if polTruthy(s.In("mapPublicIpOnLaunch")) {
			out = append(out, polViolation(s, "assigns a public IP to everything launched in it"))
		}
	}
	return out
}

// --- GitOps -------------------------------------------------------------------------------------------------------

var polExactChartVersionRe = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func checkHelmChartsPinned(g *plan.Result) []string {
	var out []string
	for _, r := range polFindAll(g, polTypeHelmRelease, polTypeHelmChartV4) {
		chart := r.Str("chart")
		if strings.HasPrefix(chart, ".") || strings.HasPrefix(chart, "/") {
			continue // a chart in this repository is pinned by its commit
		}
		if v := r.Str("version"); !polExactChartVersionRe.MatchString(v) {
			out = append(out, polViolation(r, "chart %s version %q is not an exact version", chart, v))
		}
		repo := r.Str("repositoryOpts.repo")
		if !strings.HasPrefix(chart, "oci://") && !strings.HasPrefix(repo, "https://") && !strings.HasPrefix(repo, "oci://") {
			out = append(out, polViolation(r, "chart %s comes from %q, not an HTTPS or OCI repository", chart, repo))
		}
	}
	return out
}

func checkArgoCDProjects(g *plan.Result) []string {
	var out []string
	projects := g.Find(polTypeArgoAppProject)
	for _, app := range g.Find(polTypeArgoApplication) {
		name := app.Str("spec.project")
		if name == "" || name == "default" {
			out = append(out, polViolation(app, "uses the default project, which allows every repository, cluster and namespace"))
			continue
		}
		if !slices.ContainsFunc(projects, func(p *plan.Resource) bool {
			return p.Str("metadata.name") == name && p.Str("metadata.namespace") == app.Str("metadata.namespace")
		}) {
			out = append(out, polViolation(app, "project %q is not defined by this stack", name))
		}
	}
	for _, p := range projects {
		if slices.Contains(p.Strs("spec.sourceRepos"), "*") {
			out = append(out, polViolation(p, "allows any source repository"))
		}
		for _, d := range polObjects(p.In("spec.destinations")) {
			if d["server"] == "*" || d["namespace"] == "*" || d["name"] == "*" {
				out = append(out, polViolation(p, "allows any destination (%v)", d))
			}
		}
		for _, w := range polObjects(p.In("spec.clusterResourceWhitelist")) {
			if w["kind"] == "*" {
				out = append(out, polViolation(p, "allows every cluster-scoped kind of group %v", w["group"]))
			}
		}
	}
	return out
}

// --- The generated policy table ------------------------------------------------------------------------------

const policyDoc = "../docs/policies.md"

// policyTable renders docs/policies.md from the suite itself, so the published table cannot drift from what
// the tests enforce.
func policyTable() string {
	var b strings.Builder
	b.WriteString(`# Security policy suite

Generated from ` + "`tests/policy_test.go`" + ` by ` + "`make golden`" + `; do not edit by hand.

Scanners such as Checkov, Trivy and KICS cannot read a Pulumi Go program, so the suite encodes the Checkov,
Trivy (AVD), KICS and Pulumi awsguard rules that apply to what this program creates, plus rules of our own
(PLAT-*), as checks over the graph each stack registers offline. It runs over the fixture stacks (the
template's dev and prod), each also with the deploy roles on, and over every stack file of yours
(` + "`make test`" + `). Every rule has a fixture that makes it fail. Unprotected stacks (dev) may take the
exceptions below; a stack with ` + "`protect: true`" + ` takes none.

| rule IDs | what it checks | also | protect: false (dev) | deploy roles |
|---|---|---|---|---|
`)
	for _, p := range policies {
		dev := "pass"
		if why := exceptions[unprotected][p.id]; why != "" {
			dev = "**exception**: " + why
		}
		deploy := "pass"
		if f := deployAccessFindings[p.id]; len(f) > 0 {
			var parts []string
			for _, name := range policyKeys(f) {
				parts = append(parts, "`"+name+"`: "+f[name])
			}
			deploy = "**known finding**: " + strings.Join(parts, "; ")
		}
		if gap := knownGaps[p.id]; gap != "" {
			dev, deploy = "**gap**: "+gap, "**gap**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", strings.ReplaceAll(p.id, "/", ", "),
			strings.ReplaceAll(p.title, "|", "\\|"), strings.ReplaceAll(p.also, "|", "\\|"), dev, deploy)
	}
	b.WriteString(`
**How to add a rule.** Find it in the scanner's own source and note its IDs. Write a pure
` + "`func(g *plan.Result) []string`" + ` returning one violation per finding, add it to ` + "`policies`" + ` with the IDs as
` + "`id`" + `, and add at least one entry to ` + "`policyFixtures`" + ` (a configuration the program accepts but the rule
rejects, or a ` + "`mutate`" + ` that breaks one resource of the real prod graph). The suite fails if a policy has no
fixture or its fixture does not make it fail. A deliberate deviation of unprotected stacks goes in
` + "`exceptions`" + ` with its reason; then ` + "`make golden`" + ` regenerates this page.
`)
	return b.String()
}

func TestPolicies_publishedTableIsGeneratedFromTheSuite(t *testing.T) {
	t.Parallel()
	got := policyTable()
	if os.Getenv(updateSnapshots) == "1" {
		require.NoError(t, os.WriteFile(policyDoc, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(policyDoc)
	require.NoError(t, err, "run `make golden` to generate docs/policies.md")
	assert.Equal(t, string(want), got, "docs/policies.md is stale: run `make golden`")
}
