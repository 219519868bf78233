package tests

// Least privilege against everyone who can push code: the rules of the policy suite that keep the stack's roles
// from reaching beyond the stack, each with its failing fixtures. They join the suite (policies) in init.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
)

func init() {
	policies = append(policies, privilegePolicies...)
	policyFixtures = append(policyFixtures, privilegeFixtures...)
}

var privilegePolicies = []policy{
	{
		id:    "PLAT-BOUNDARY-SCOPED",
		title: "The permissions boundary confines writes to the services its roles use, on the stack's own resources: no EKS writes, ECR pushes to the stack's repository, scaling of this cluster's groups, flow logs to the stack's group; the service's own role has a boundary of its own, at its own statements",
		also:  "stricter than the deploy role's own scope: a role under the boundary can never outgrow the stack",
		check: checkBoundaryScopesWrites,
	},
	{
		id:    "PLAT-IAM-NO-ROLE-CHANGES",
		title: "No role of the stack may create, re-trust, widen or delete a role or policy, or mint a credential",
		also:  "IAM has no condition on a trust policy's content, so a role that may create roles may mint a lasting one trusting anyone; such changes come from a laptop",
		check: checkNoRoleChanges,
	},
	{
		id:    "PLAT-ACCOUNT-PER-STACK",
		title: "A stack with a deploy role checks, before anything exists, that its AWS account holds no other stack of the project",
		also:  "IAM scopes the deploy role to the stack's tag; one account per environment also keeps an account's own resources (its trail, its other keys) out of reach of what a tag condition cannot cover",
		check: checkDedicatedAccount,
	},
	{
		id:    "PLAT-NO-USERDATA-READS",
		title: "No role but the deploy role may read what nodes boot with (user data, launch template versions, console output, passwords), but Cluster Autoscaler's role launch template versions, and the boundary denies them to every other",
		also:  "Cluster Autoscaler's AWS documentation lists ec2:DescribeLaunchTemplateVersions; the boundary's deny exempts its role's ARN alone",
		check: checkNoUserDataReads,
	},
	{
		id:    "PLAT-ONE-ISSUER-PER-ROLE",
		title: "Every role trusts one identity issuer, so no automation reaches it another way",
		also:  "a prod deploy role trusting both Pulumi Deployments and GitHub could be reached by dev's unreviewed job starting a prod Deployment",
		check: checkOneIssuerPerRole,
	},
	{
		id:    "PLAT-NO-PR-ACCESS-TO-PROTECTED",
		title: "In a protected stack no role trusts pull requests or Pulumi previews: pull request code would read prod's secrets",
		check: checkNoPullRequestAccessToProtected,
	},
	{
		id:    "PLAT-ARGOCD-NO-CLUSTER-SCOPE",
		title: "The service's AppProject allows no cluster-scoped kind, and its Application does not create namespaces",
		also:  "a chart that could write a Namespace could relabel any namespace to Pod Security privileged and take a node",
		check: checkArgoCDNoClusterScope,
	},
	{
		id:    "PLAT-OIDC-IMMUTABLE",
		title: "GitHub trusts name repositories by their immutable IDs (repo:OWNER@ID/NAME@ID), the name-only form never alone",
		also:  "repositories created, renamed or transferred after 2026-07-15 send only the immutable form",
		check: checkGitHubImmutableSubjects,
	},
	{
		id:    "PLAT-IAM-SLR-SCOPED",
		title: "iam:CreateServiceLinkedRole only for named services (iam:AWSServiceName)",
		also:  "Checkov CKV_AWS_286 family (privilege escalation through service-linked roles)",
		check: checkServiceLinkedRolesScoped,
	},
	{
		id:    "PLAT-ECR-NO-POLICY-WRITES",
		title: "No role may change a repository's or the registry's policy (a policy write can make a repository public)",
		check: checkNoRepositoryPolicyWrites,
	},
	{
		id:    "PLAT-LOGS-KEY-SCOPED",
		title: "A logs KMS key serves exactly its own log group (ArnEquals on kms:EncryptionContext:aws:logs:arn, no wildcard)",
		check: checkLogsKeysScoped,
	},
	{
		id:    "PLAT-CONFUSED-DEPUTY",
		title: "VPC Flow Logs may assume their role only for this account's flow logs (aws:SourceAccount and aws:SourceArn)",
		also:  "AWS IAM confused-deputy guidance",
		check: checkFlowLogsTrustSourceArn,
	},
	{
		id:    "PLAT-OIDC-AUD-SUB",
		title: "A Pulumi OIDC trust's audience is the organization its subjects name, in the same case",
		check: checkPulumiAudienceMatchesSubjects,
	},
	{
		id:    "PLAT-NO-CLUSTER-CREATE",
		title: "No role that may manage EKS may create a cluster (EKS would make it the cluster's bootstrap admin, conflicting with its access entry)",
		check: checkNoClusterCreate,
	},
	{
		id:    "PLAT-IAM-QUOTAS",
		title: "IAM documents fit IAM's limits: trust 2048, managed policy 6144, a role's inline policies 10240 characters",
		also:  "AWS refuses a larger document at `pulumi up`",
		check: checkIAMQuotas,
	},
}

// polReadVerb reports whether an action only reads.
func polReadVerb(action string) bool {
	_, verb, _ := strings.Cut(action, ":")
	return slices.ContainsFunc([]string{"Describe", "Get", "List", "BatchGet", "BatchCheck"}, func(v string) bool {
		return strings.HasPrefix(verb, v)
	})
}

// polBoundaryWriteServices are the services in whose writes the stack's boundary may let its roles act: the
// nodes' networking and the control plane's (ec2, elasticloadbalancing), scaling (autoscaling), pushing images
// (ecr), flow logs (logs), using keys (kms), Pod Identity (eks-auth) and the load balancers' service-linked role.
var polBoundaryWriteServices = []string{"autoscaling", "ec2", "ecr", "eks-auth", "elasticloadbalancing", "iam", "kms", "logs"}

// checkBoundaryScopesWrites: the stack's boundary allows writes only in the services its roles use, each on the
// stack's own resources; a boundary that only the service's own role carries allows exactly what that role's
// policy does (the stack's boundary never widens for it).
func checkBoundaryScopesWrites(g *plan.Result) []string {
	var out []string
	carriers := map[string][]*plan.Resource{} // boundary URN -> roles carrying it
	for _, r := range g.Find(polTypeRole) {
		for _, u := range r.PropertyDeps["permissionsBoundary"] {
			carriers[u] = append(carriers[u], r)
		}
	}
	for _, d := range polDocuments(g) {
		if d.kind != "boundary" || d.err != nil {
			continue
		}
		// A service's own role: service-identity-role, or <service>-identity-role of each Service.
		if roles := carriers[d.res.URN]; len(roles) == 1 && strings.HasSuffix(roles[0].Name, "-identity-role") {
			out = append(out, polBoundaryOnlyOfItsRole(g, d, roles[0])...)
			continue
		}
		for _, st := range d.doc.Statement {
			if !st.allows() {
				continue
			}
			for _, a := range st.Action {
				service, _, _ := strings.Cut(a, ":")
				if polReadVerb(a) || a == "ecr:GetAuthorizationToken" {
					continue
				}
				switch {
				case !slices.Contains(polBoundaryWriteServices, service):
					out = append(out, polViolation(d.res, "boundary allows %s, in a service none of the stack's roles writes to", a))
				case service == "eks":
					out = append(out, polViolation(d.res, "boundary allows the EKS write %s", a))
				case (service == "ecr" || service == "logs" || service == "kms") && st.onEverything():
					out = append(out, polViolation(d.res, "boundary allows %s on every resource, not the stack's own", a))
				case service == "autoscaling" && len(st.Condition) == 0:
					out = append(out, polViolation(d.res, "boundary allows %s on every Auto Scaling group, not this cluster's", a))
				case strings.HasSuffix(a, ":*") && service != "elasticloadbalancing":
					out = append(out, polViolation(d.res, "boundary allows every action of %s", service))
				}
			}
		}
	}
	return out
}

// polBoundaryOnlyOfItsRole: every Allow of a role's own boundary is an Allow of the role's inline policy.
func polBoundaryOnlyOfItsRole(g *plan.Result, boundary polDocument, role *plan.Resource) []string {
	var granted []polStatement
	for _, d := range polDocuments(g) {
		if d.kind == "identity" && d.err == nil && slices.Contains(d.res.PropertyDeps["role"], role.URN) {
			granted = append(granted, d.doc.Statement...)
		}
	}
	var out []string
	for _, st := range boundary.doc.Statement {
		if !st.allows() {
			continue
		}
		if !slices.ContainsFunc(granted, func(g polStatement) bool {
			return g.allows() && slices.Equal(g.Action, st.Action) && slices.Equal(g.Resource, st.Resource)
		}) {
			out = append(out, polViolation(boundary.res, "boundary of %s allows %v on %v, which its policy does not", role.Name, st.Action, st.Resource))
		}
	}
	return out
}

// polDeniesAction reports whether a document denies an action (on every resource, or on the given one).
func polDeniesAction(d polDoc, action string) bool {
	return slices.ContainsFunc(d.Statement, func(st polStatement) bool {
		return strings.EqualFold(st.Effect, "Deny") && st.onEverything() && st.grants(action)
	})
}

// The actions the rules look for, written down here from IAM's, ECR's and EC2's action references, not taken
// from the program's own deny lists (a rule that read those would shrink with them).
var (
	// polRoleChangeActions create, re-trust, widen or delete a role or customer managed policy, or mint a
	// long-lived credential.
	polRoleChangeActions = []string{
		"iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
		"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
		"iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary", "iam:CreatePolicy", "iam:DeletePolicy",
		"iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion",
		"iam:CreateUser", "iam:PutUserPolicy", "iam:AttachUserPolicy", "iam:AddUserToGroup", "iam:PutGroupPolicy",
		"iam:AttachGroupPolicy", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
		"iam:CreateServiceSpecificCredential", "iam:UploadSSHPublicKey",
	}
	// polRepositoryPolicyActions open a repository to others: policies, replication, pull-through caching,
	// creation templates (which give future repositories a policy).
	polRepositoryPolicyActions = []string{
		"ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy", "ecr:PutRegistryPolicy", "ecr:DeleteRegistryPolicy",
		"ecr:PutReplicationConfiguration", "ecr:CreatePullThroughCacheRule", "ecr:UpdatePullThroughCacheRule",
		"ecr:CreateRepositoryCreationTemplate", "ecr:UpdateRepositoryCreationTemplate",
	}
	// polUserDataReadActions read what nodes boot with, or their passwords.
	polUserDataReadActions = []string{
		"ec2:DescribeInstanceAttribute", "ec2:DescribeLaunchTemplateVersions", "ec2:GetLaunchTemplateData",
		"ec2:GetConsoleOutput", "ec2:GetConsoleScreenshot", "ec2:GetPasswordData",
	}
)

// polUndeniedGrants reports each identity policy that allows one of actions without denying it; skip exempts a
// policy from an action.
func polUndeniedGrants(g *plan.Result, actions []string, skip func(d polDocument, action string) bool) []string {
	var out []string
	polIdentityStatements(g, func(d polDocument, st polStatement) {
		for _, a := range actions {
			if st.grants(a) && !polDeniesAction(d.doc, a) && (skip == nil || !skip(d, a)) {
				out = append(out, polViolation(d.res, "policy allows %s", a))
			}
		}
	})
	return out
}

func checkNoRoleChanges(g *plan.Result) []string {
	return polUndeniedGrants(g, polRoleChangeActions, nil)
}

func checkDedicatedAccount(g *plan.Result) []string {
	for _, r := range g.Find(polTypeRole) {
		if strings.HasPrefix(r.Name, "deploy-deploy-role") && !slices.Contains(g.Invokes, "aws:iam/getRoles:getRoles") {
			return []string{polViolation(r, "a deploy role in an account the program never checked for other stacks")}
		}
	}
	return nil
}

// polAutoscalerPolicy is the inline policy of Cluster Autoscaler's role, whose documented permissions include reading
// launch template versions (to learn a group's instance type).
const polAutoscalerPolicy = "addons-autoscaler-policy"

func checkNoUserDataReads(g *plan.Result) []string {
	out := polUndeniedGrants(g, polUserDataReadActions, func(d polDocument, a string) bool {
		// The deploy role manages the launch templates, in an account of the stack's own; the autoscaler's
		// documented policy reads launch template versions.
		return strings.HasPrefix(d.res.Name, "deploy-deploy-policy") ||
			a == "ec2:DescribeLaunchTemplateVersions" && strings.HasPrefix(d.res.Name, polAutoscalerPolicy)
	})
	// The boundary denies them all, to every role it caps; launch template versions to all but the autoscaler's.
	for _, d := range polDocuments(g) {
		if d.kind != "boundary" || d.err != nil {
			continue
		}
		for _, a := range polUserDataReadActions {
			denied := slices.ContainsFunc(d.doc.Statement, func(st polStatement) bool {
				if !strings.EqualFold(st.Effect, "Deny") || !st.onEverything() || !st.grants(a) {
					return false
				}
				if len(st.Condition) == 0 {
					return true
				}
				// The only exception: ArnNotLike aws:PrincipalArn naming the autoscaler's role alone.
				exempt := st.Condition["ArnNotLike"]["aws:PrincipalArn"]
				return a == "ec2:DescribeLaunchTemplateVersions" && len(st.Condition) == 1 && len(st.Condition["ArnNotLike"]) == 1 &&
					len(exempt) > 0 && !slices.ContainsFunc(exempt, func(arn string) bool {
					return !regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:role/[^*]+/addons-autoscaler-role-\*$`).MatchString(arn)
				})
			})
			if !denied {
				out = append(out, polViolation(d.res, "boundary does not deny %s to every role (launch template versions: to every role but the autoscaler's)", a))
			}
		}
	}
	return out
}

func checkOneIssuerPerRole(g *plan.Result) []string {
	var out []string
	issuers := map[*plan.Resource]map[string]bool{}
	polWebIdentityStatements(g, func(d polDocument, st polStatement, issuer string) {
		if issuers[d.res] == nil {
			issuers[d.res] = map[string]bool{}
		}
		issuers[d.res][issuer] = true
	})
	for r, set := range issuers {
		if len(set) > 1 {
			out = append(out, polViolation(r, "trusts %d issuers: %v", len(set), policyKeys(set)))
		}
	}
	return out
}

// polProtected reports whether a graph is of a protected (production) stack.
func polProtected(g *plan.Result) bool {
	return slices.ContainsFunc(g.Resources, func(r *plan.Resource) bool { return r.Type == polTypeVPC && r.Protect })
}

func checkNoPullRequestAccessToProtected(g *plan.Result) []string {
	if !polProtected(g) {
		return nil
	}
	var out []string
	polWebIdentityStatements(g, func(d polDocument, st polStatement, issuer string) {
		for _, values := range polClaimValues(st, issuer, "sub") {
			for _, sub := range values {
				if strings.HasSuffix(sub, ":pull_request") || strings.Contains(sub, ":operation:preview:") {
					out = append(out, polViolation(d.res, "a protected stack's role trusts %s", sub))
				}
			}
		}
	})
	return out
}

func checkArgoCDNoClusterScope(g *plan.Result) []string {
	var out []string
	for _, p := range g.Find(polTypeArgoAppProject) {
		if l, _ := p.In("spec.clusterResourceWhitelist").([]any); len(l) > 0 || p.In("spec.clusterResourceWhitelist") == nil {
			out = append(out, polViolation(p, "cluster-scoped kinds allowed: %v (leave the whitelist empty, not absent)", p.In("spec.clusterResourceWhitelist")))
		}
	}
	for _, a := range g.Find(polTypeArgoApplication) {
		if slices.Contains(a.Strs("spec.syncPolicy.syncOptions"), "CreateNamespace=true") {
			out = append(out, polViolation(a, "the Application creates its namespace, outside Pulumi's Pod Security labels"))
		}
	}
	return out
}

var polImmutableSubjectRe = regexp.MustCompile(`^repo:[^/@]+@[0-9]+/[^/@:]+@[0-9]+:(.+)$`)

func checkGitHubImmutableSubjects(g *plan.Result) []string {
	var out []string
	polWebIdentityStatements(g, func(d polDocument, st polStatement, issuer string) {
		if issuer != infra.GitHubIssuerHost {
			return
		}
		immutable := map[string]bool{}
		var nameOnly []string
		for _, values := range polClaimValues(st, issuer, "sub") {
			for _, sub := range values {
				if m := polImmutableSubjectRe.FindStringSubmatch(sub); m != nil {
					immutable[m[1]] = true
				} else {
					nameOnly = append(nameOnly, sub)
				}
			}
		}
		for _, sub := range nameOnly {
			if i := strings.Index(sub, ":"); i < 0 || !immutable[sub[strings.Index(sub[i+1:], ":")+i+2:]] {
				out = append(out, polViolation(d.res, "trusts the name-only subject %s without its immutable form", sub))
			}
		}
	})
	return out
}

func checkServiceLinkedRolesScoped(g *plan.Result) []string {
	var out []string
	polIdentityStatements(g, func(d polDocument, st polStatement) {
		if st.grants("iam:CreateServiceLinkedRole") && !polHasConditionKey(st, "iam:AWSServiceName") {
			out = append(out, polViolation(d.res, "iam:CreateServiceLinkedRole for any service"))
		}
	})
	for _, d := range polDocuments(g) {
		if d.kind != "boundary" || d.err != nil {
			continue
		}
		for _, st := range d.doc.Statement {
			if st.allows() && st.grants("iam:CreateServiceLinkedRole") && !polHasConditionKey(st, "iam:AWSServiceName") {
				out = append(out, polViolation(d.res, "the boundary allows iam:CreateServiceLinkedRole for any service"))
			}
		}
	}
	return out
}

func checkNoRepositoryPolicyWrites(g *plan.Result) []string {
	return polUndeniedGrants(g, polRepositoryPolicyActions, nil)
}

func checkLogsKeysScoped(g *plan.Result) []string {
	var out []string
	for _, key := range g.Find(polTypeKMSKey) {
		var doc polDoc
		if err := json.Unmarshal([]byte(key.Str("policy")), &doc); err != nil {
			continue // CKV2_AWS_64 reports keys without a readable policy
		}
		for _, st := range doc.Statement {
			if !slices.ContainsFunc(st.Principal.byType["Service"], func(s string) bool { return strings.HasPrefix(s, "logs.") }) {
				continue
			}
			arns := st.Condition["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
			if len(arns) == 0 || slices.ContainsFunc(arns, func(a string) bool { return strings.ContainsAny(a, "*?") }) {
				out = append(out, polViolation(key, "CloudWatch Logs may use the key for any log group: %v", st.Condition))
			}
		}
	}
	return out
}

func checkFlowLogsTrustSourceArn(g *plan.Result) []string {
	var out []string
	for _, d := range polDocuments(g) {
		if d.kind != "trust" || d.err != nil {
			continue
		}
		for _, st := range d.doc.Statement {
			if !slices.Contains(st.Principal.byType["Service"], "vpc-flow-logs.amazonaws.com") {
				continue
			}
			if !polHasConditionKey(st, "aws:SourceAccount") || !polHasConditionKey(st, "aws:SourceArn") {
				out = append(out, polViolation(d.res, "VPC Flow Logs trusted without aws:SourceAccount and aws:SourceArn"))
			}
		}
	}
	return out
}

var polPulumiOrgRe = regexp.MustCompile(`^pulumi:deploy:org:([^:]+):`)

func checkPulumiAudienceMatchesSubjects(g *plan.Result) []string {
	var out []string
	polWebIdentityStatements(g, func(d polDocument, st polStatement, issuer string) {
		if issuer != infra.PulumiIssuerHost {
			return
		}
		var auds []string
		for _, v := range polClaimValues(st, issuer, "aud") {
			auds = append(auds, v...)
		}
		for _, values := range polClaimValues(st, issuer, "sub") {
			for _, sub := range values {
				if m := polPulumiOrgRe.FindStringSubmatch(sub); m == nil || !slices.Contains(auds, m[1]) {
					out = append(out, polViolation(d.res, "subject %s names no audience of %v", sub, auds))
				}
			}
		}
	})
	return out
}

func checkNoClusterCreate(g *plan.Result) []string {
	var out []string
	polIdentityStatements(g, func(d polDocument, st polStatement) {
		if st.grants("eks:CreateCluster") && !polDeniesAction(d.doc, "eks:CreateCluster") {
			out = append(out, polViolation(d.res, "policy may create EKS clusters"))
		}
	})
	return out
}

// IAM's limits on document sizes (IAM and AWS STS quotas); managed and inline policies count without whitespace.
const (
	polMaxTrust   = 2048
	polMaxManaged = 6144
	polMaxInline  = 10240
)

func polSize(raw string) int {
	n := 0
	for _, r := range raw {
		if r != ' ' && r != '\n' && r != '\t' && r != '\r' {
			n++
		}
	}
	return n
}

func checkIAMQuotas(g *plan.Result) []string {
	var out []string
	inline := map[string]int{}
	for _, d := range polDocuments(g) {
		switch {
		case d.kind == "trust" && len(d.raw) > polMaxTrust:
			out = append(out, polViolation(d.res, "trust policy is %d characters, over %d", len(d.raw), polMaxTrust))
		case d.res.Type == polTypeManagedPolicy && polSize(d.raw) > polMaxManaged:
			out = append(out, polViolation(d.res, "managed policy is %d characters, over %d", polSize(d.raw), polMaxManaged))
		case d.res.Type == polTypeRolePolicy:
			inline[d.res.Str("role")] += polSize(d.raw)
		}
	}
	for role, n := range inline {
		if n > polMaxInline {
			out = append(out, fmt.Sprintf("role %s: inline policies are %d characters, over %d", role, n, polMaxInline))
		}
	}
	slices.Sort(out)
	return out
}

// --- Fixtures ---------------------------------------------------------------------------------------------------

// fxWithDeployAccess turns the prod fixture's deploy roles on (Pulumi Deployments, the infrastructure repository).
func fxWithDeployAccess(cfg stackConfig) {
	cfg.Set("pulumiOrganization", "acme")
	withInfraRepository(cfg)
}

// fxEditDocument rewrites a JSON policy document held in an input.
func fxEditDocument(t *testing.T, r *plan.Resource, field string, edit func(doc map[string]any)) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.Str(field)), &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	b, _ := json.Marshal(doc)
	fxSet(r, field, string(b))
}

func fxStatements(doc map[string]any) []any { s, _ := doc["Statement"].([]any); return s }

// fxAppendStatement adds a statement to a document.
func fxAppendStatement(st map[string]any) func(map[string]any) {
	return func(doc map[string]any) { doc["Statement"] = append(fxStatements(doc), st) }
}

// fxDropStatement removes the statements with a Sid.
func fxDropStatement(sid string) func(map[string]any) {
	return func(doc map[string]any) {
		doc["Statement"] = slices.DeleteFunc(fxStatements(doc), func(st any) bool { return st.(map[string]any)["Sid"] == sid })
	}
}

var privilegeFixtures = []policyFixture{
	{policy: "PLAT-BOUNDARY-SCOPED", name: "ecr:* on every repository", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeManagedPolicy, "roles-policy"), "policy",
			fxAppendStatement(map[string]any{"Effect": "Allow", "Action": []any{"ecr:*"}, "Resource": "*"}))
	}},
	{policy: "PLAT-BOUNDARY-SCOPED", name: "eks writes", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeManagedPolicy, "roles-policy"), "policy",
			fxAppendStatement(map[string]any{"Effect": "Allow", "Action": []any{"eks:UpdateClusterConfig"}, "Resource": "arn:aws:eks:us-east-1:123456789012:cluster/x"}))
	}},
	{policy: "PLAT-BOUNDARY-SCOPED", name: "writes to a service no role uses", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeManagedPolicy, "roles-policy"), "policy",
			fxAppendStatement(map[string]any{"Effect": "Allow", "Action": []any{"s3:PutObject"}, "Resource": "arn:aws:s3:::some-bucket/*"}))
	}},
	{policy: "PLAT-BOUNDARY-SCOPED", name: "the service's boundary allows more than its policy",
		config: func(cfg stackConfig) {
			cfg.Set("serviceIamStatements", []any{map[string]any{"Effect": "Allow", "Action": []any{"s3:GetObject"}, "Resource": []any{"arn:aws:s3:::assets/*"}}})
		},
		mutate: func(t *testing.T, g *plan.Result) {
			fxEditDocument(t, fxOne(t, g, polTypeManagedPolicy, "service-roles-policy"), "policy",
				fxAppendStatement(map[string]any{"Effect": "Allow", "Action": []any{"s3:PutObject"}, "Resource": "arn:aws:s3:::assets/*"}))
		}},
	{policy: "PLAT-BOUNDARY-SCOPED", name: "scaling any group", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeManagedPolicy, "roles-policy"), "policy",
			fxAppendStatement(map[string]any{"Effect": "Allow", "Action": []any{"autoscaling:SetDesiredCapacity"}, "Resource": "*"}))
	}},
	{policy: "PLAT-IAM-NO-ROLE-CHANGES", name: "the deploy role may create bounded roles", config: fxWithDeployAccess,
		mutate: func(t *testing.T, g *plan.Result) {
			p := fxOne(t, g, polTypeRolePolicy, "deploy-deploy-policy")
			fxEditDocument(t, p, "policy", fxDropStatement("NeverChangeRolesPoliciesOrCredentials"))
			fxEditDocument(t, p, "policy", fxAppendStatement(map[string]any{"Effect": "Allow",
				"Action": []any{"iam:CreateRole", "iam:UpdateAssumeRolePolicy"}, "Resource": "arn:aws:iam::123456789012:role/eks-gitops-platform/prod/*",
				"Condition": map[string]any{"StringEquals": map[string]any{"iam:PermissionsBoundary": "arn:aws:iam::123456789012:policy/b"}}}))
		}},
	{policy: "PLAT-ACCOUNT-PER-STACK", name: "the account check left out", config: fxWithDeployAccess,
		mutate: func(t *testing.T, g *plan.Result) {
			g.Invokes = slices.DeleteFunc(g.Invokes, func(s string) bool { return s == "aws:iam/getRoles:getRoles" })
		}},
	{policy: "PLAT-NO-USERDATA-READS", name: "a role reads launch template versions", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypeRolePolicy, "nodes-userdata", map[string]any{"role": "cluster-node-role-id",
			"policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`})
	}},
	{policy: "PLAT-ONE-ISSUER-PER-ROLE", name: "the deploy role trusts Pulumi and GitHub", config: fxWithDeployAccess,
		mutate: func(t *testing.T, g *plan.Result) {
			fxEditDocument(t, fxOne(t, g, polTypeRole, "deploy-deploy-role"), "assumeRolePolicy",
				fxAppendStatement(map[string]any{"Effect": "Allow", "Principal": map[string]any{"Federated": fxGitHubProvider},
					"Action": "sts:AssumeRoleWithWebIdentity", "Condition": map[string]any{"StringEquals": map[string]any{
						"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
						"token.actions.githubusercontent.com:sub": infraSubject + "environment:prod"}}}))
		}},
	{policy: "PLAT-NO-PR-ACCESS-TO-PROTECTED", name: "prod's deploy role trusts pull requests", config: fxWithDeployAccess,
		mutate: func(t *testing.T, g *plan.Result) {
			fxEditDocument(t, fxOne(t, g, polTypeRole, "deploy-deploy-role"), "assumeRolePolicy", func(doc map[string]any) {
				st := fxStatements(doc)[0].(map[string]any)
				eq := st["Condition"].(map[string]any)["StringEquals"].(map[string]any)
				eq["api.pulumi.com/oidc:sub"] = "pulumi:deploy:org:acme:project:eks-gitops-platform:stack:prod:operation:preview:scope:write"
			})
		}},
	{policy: "PLAT-ARGOCD-NO-CLUSTER-SCOPE", name: "Namespace whitelisted", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeArgoAppProject, "gitops-project"), "spec.clusterResourceWhitelist",
			[]any{map[string]any{"group": "", "kind": "Namespace"}})
	}},
	{policy: "PLAT-ARGOCD-NO-CLUSTER-SCOPE", name: "CreateNamespace", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeArgoApplication, "gitops-application"), "spec.syncPolicy.syncOptions", []any{"CreateNamespace=true"})
	}},
	{policy: "PLAT-OIDC-IMMUTABLE", name: "a name-only subject", mutate: func(t *testing.T, g *plan.Result) {
		fxSet(fxOne(t, g, polTypeRole, "github-push-role"), "assumeRolePolicy",
			fxGitHubTrust(`{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"repo:your-org/your-service:ref:refs/heads/main"}}`))
	}},
	{policy: "PLAT-IAM-SLR-SCOPED", name: "service-linked roles for any service", config: fxWithDeployAccess,
		mutate: func(t *testing.T, g *plan.Result) {
			fxEditDocument(t, fxOne(t, g, polTypeRolePolicy, "deploy-deploy-policy"), "policy", func(doc map[string]any) {
				for _, st := range fxStatements(doc) {
					if m := st.(map[string]any); m["Sid"] == "ServiceLinkedRoles" {
						delete(m, "Condition")
					}
				}
			})
		}},
	{policy: "PLAT-ECR-NO-POLICY-WRITES", name: "ecr:* on the repository", config: fxWithDeployAccess,
		mutate: func(t *testing.T, g *plan.Result) {
			p := fxOne(t, g, polTypeRolePolicy, "deploy-deploy-policy")
			fxEditDocument(t, p, "policy", fxDropStatement("NeverChangeRepositoryPolicies"))
			fxEditDocument(t, p, "policy", fxAppendStatement(map[string]any{"Effect": "Allow", "Action": "ecr:*",
				"Resource": "arn:aws:ecr:us-east-1:123456789012:repository/prod/your-service"}))
		}},
	{policy: "PLAT-LOGS-KEY-SCOPED", name: "every log group of the account", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeKMSKey, "network-flow-logs-key"), "policy", func(doc map[string]any) {
			for _, st := range fxStatements(doc) {
				if m := st.(map[string]any); m["Condition"] != nil {
					m["Condition"] = map[string]any{"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"}}
				}
			}
		})
	}},
	{policy: "PLAT-CONFUSED-DEPUTY", name: "no aws:SourceArn", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeRole, "network-flow-logs"), "assumeRolePolicy", func(doc map[string]any) {
			delete(fxStatements(doc)[0].(map[string]any)["Condition"].(map[string]any), "ArnLike")
		})
	}},
	{policy: "PLAT-OIDC-AUD-SUB", name: "capitals in the subject's organization", config: fxWithDeployAccess,
		mutate: func(t *testing.T, g *plan.Result) {
			fxEditDocument(t, fxOne(t, g, polTypeRole, "deploy-deploy-role"), "assumeRolePolicy", func(doc map[string]any) {
				eq := fxStatements(doc)[0].(map[string]any)["Condition"].(map[string]any)["StringEquals"].(map[string]any)
				eq["api.pulumi.com/oidc:sub"] = "pulumi:deploy:org:Acme:project:eks-gitops-platform:stack:prod:operation:update:scope:write"
			})
		}},
	{policy: "PLAT-NO-CLUSTER-CREATE", name: "eks:* without the deny", config: fxWithDeployAccess,
		mutate: func(t *testing.T, g *plan.Result) {
			fxEditDocument(t, fxOne(t, g, polTypeRolePolicy, "deploy-deploy-policy"), "policy", fxDropStatement("NeverCreateACluster"))
		}},
	{policy: "PLAT-IAM-QUOTAS", name: "a boundary over 6144 characters", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeManagedPolicy, "roles-policy"), "policy", func(doc map[string]any) {
			var many []any
			for i := 0; i < 400; i++ {
				many = append(many, fmt.Sprintf("ec2:DescribeThing%d", i))
			}
			doc["Statement"] = append(fxStatements(doc), map[string]any{"Effect": "Allow", "Action": many, "Resource": "*"})
		})
	}},
	{policy: "PLAT-IAM-QUOTAS", name: "a trust policy over 2048 characters", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeRole, "github-push-role"), "assumeRolePolicy", func(doc map[string]any) {
			eq := fxStatements(doc)[0].(map[string]any)["Condition"].(map[string]any)["StringEquals"].(map[string]any)
			var subs []any
			for i := 0; i < 40; i++ {
				subs = append(subs, fmt.Sprintf("repo:your-org@100000001/your-service@200000002:ref:refs/heads/release-%02d", i))
			}
			eq["token.actions.githubusercontent.com:sub"] = subs
		})
	}},
}
