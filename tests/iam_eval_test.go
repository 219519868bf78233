package tests

// The roles that automation runs with, evaluated by an IAM policy evaluation engine rather than read by rules:
// @cloud-copilot/iam-simulate (tools/iam-eval, pinned in its package.json, installed by `make tools` into
// .tools/iam-eval), which implements AWS's evaluation logic (explicit deny, identity policy intersected with the
// permissions boundary, condition operators, resource-type matching per action) over AWS's service authorization
// data. Each role gets two request tables written from its job and from an attacker's view, not from what the
// policies happen to say: what it must be allowed (every call a `pulumi up`, `refresh` or routine update makes
// through the AWS provider) and what it must be denied (other stacks' resources, persistence paths, escalation,
// prod's serving resources). Every action and condition key the program's policies name must exist in the data.
//
// What the engine does not model, and the policy suite checks by rule instead: the aud and sub claims of OIDC
// providers in trust policies (the engine evaluates only the claim keys AWS lists for STS), and requests that name
// several resources at once (each resource of a request is evaluated as its own request here, as IAM does).

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
)

// iamSimulation is one request to the engine, with the policies of the principal that makes it.
type iamSimulation struct {
	ID        string            `json:"id"`
	Principal string            `json:"principal"`
	Action    string            `json:"action"`
	Resource  string            `json:"resource"`
	Account   string            `json:"account"`
	Context   map[string]any    `json:"context"`
	Identity  []json.RawMessage `json:"identity"`
	Boundary  []json.RawMessage `json:"boundary,omitempty"`
	// ResourcePolicy is the resource's own policy: a KMS key's key policy, without which IAM allows nothing on it.
	ResourcePolicy json.RawMessage `json:"resourcePolicy,omitempty"`
}

type iamResult struct {
	ID       string `json:"id"`
	Decision string `json:"decision"`
	Error    string `json:"error"`
}

type iamOutput struct {
	DataVersion string      `json:"dataVersion"`
	Results     []iamResult `json:"results"`
	Unknown     []string    `json:"unknown"`
}

// iamEvaluate runs the engine once over every simulation and checks the names in policies.
func iamEvaluate(t *testing.T, sims []iamSimulation, policies []json.RawMessage) iamOutput {
	t.Helper()
	modules := filepath.Join(repoRoot(t), ".tools", "iam-eval", "node_modules")
	_, err := os.Stat(filepath.Join(modules, "@cloud-copilot", "iam-simulate"))
	require.NoError(t, err, "the IAM evaluation engine is not installed: run `make tools`")
	in, err := json.Marshal(map[string]any{"simulations": sims, "policies": policies})
	require.NoError(t, err)
	cmd := exec.Command("node", filepath.Join(repoRoot(t), "tools", "iam-eval", "evaluate.cjs"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = strings.NewReader(string(in))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var res iamOutput
	require.NoError(t, json.Unmarshal(out, &res))
	require.Len(t, res.Results, len(sims))
	return res
}

// iamRequest is a row of a role's table: a request and whether the role must be allowed it.
type iamRequest struct {
	why      string
	action   string
	resource string
	context  map[string]any
	allow    bool
}

// iamWorld names the resources of a stack, of another stack in the same account, and of the account itself.
type iamWorld struct {
	stack, tag, cluster, repository, rolePath string
	admin                                     string // a configured cluster admin ("" when none)
}

const otherTag = "another-project/prod"

func (w iamWorld) ec2(typ, id string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:%s/%s", plan.Region, plan.Account, typ, id)
}
func (w iamWorld) arn(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, plan.Region, plan.Account, resource)
}
func (w iamWorld) iam(resource string) string { return "arn:aws:iam::" + plan.Account + ":" + resource }

// role is the ARN of the stack's role of that logical name, as the offline engine names it (path included).
func (w iamWorld) role(logical string) string {
	return w.iam("role" + w.rolePath + logical + "-1a2b3c4")
}

// stackWorld is the world of a stack of the fixtures, whose (first) service repository is repository.
func stackWorld(stack, repository string) iamWorld {
	return iamWorld{stack: stack, tag: infra.StackTagValue(projectName, stack), cluster: projectName + "-" + stack,
		repository: stack + "/" + repository, rolePath: "/" + projectName + "/" + stack + "/"}
}

// own, other and untagged are the tags an existing resource carries; create the tags a create request carries.
func (w iamWorld) own(extra ...any) map[string]any {
	return with(map[string]any{"aws:ResourceTag/" + infra.StackTagKey: w.tag}, extra...)
}
func (w iamWorld) other(extra ...any) map[string]any {
	return with(map[string]any{"aws:ResourceTag/" + infra.StackTagKey: otherTag}, extra...)
}
func (w iamWorld) create(extra ...any) map[string]any {
	return with(map[string]any{"aws:RequestTag/" + infra.StackTagKey: w.tag, "aws:RequestTag/environment": w.stack,
		"aws:TagKeys": []string{infra.StackTagKey, "environment"}}, extra...)
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// podSession is the context of EKS Pod Identity's request for a pod: its cluster, namespace and ServiceAccount as
// session tags (EKS user guide, "EKS Pod Identity session tags").
func podSession(cluster, namespace, account string) map[string]any {
	return map[string]any{"aws:RequestTag/" + infra.TagClusterARN: cluster, "aws:RequestTag/" + infra.TagNamespace: namespace,
		"aws:RequestTag/" + infra.TagServiceAccount: account}
}

// programLookups are the reads the program makes on every preview and update, whoever runs it (stacks/platform.go:
// the account's roles and issuers, the running cluster and its nodegroups; infra/addons.go: the add-ons' versions).
func programLookups(w iamWorld, cluster, nodegroup string) []iamRequest {
	return []iamRequest{
		{"who am I", "sts:GetCallerIdentity", "*", nil, true},
		{"the zones", "ec2:DescribeAvailabilityZones", "*", nil, true},
		{"the account's roles (one stack per account)", "iam:ListRoles", "*", nil, true},
		{"the account's issuers", "iam:ListOpenIDConnectProviders", "*", nil, true},
		{"an issuer to adopt", "iam:GetOpenIDConnectProvider", w.iam("oidc-provider/token.actions.githubusercontent.com"), nil, true},
		{"the clusters", "eks:ListClusters", "*", nil, true},
		{"the running cluster's version", "eks:DescribeCluster", cluster, nil, true},
		{"its nodegroups", "eks:ListNodegroups", cluster, nil, true},
		{"the autoscaler's size", "eks:DescribeNodegroup", nodegroup, nil, true},
		{"the add-ons' versions", "eks:DescribeAddonVersions", "*", nil, true},
	}
}

// deployRoleTable is what a stack's deploy role must and must not do, for either flow.
func deployRoleTable(w iamWorld, protected bool) []iamRequest {
	// Public SSM parameters (the EKS AMI's) have no account in their ARN, which the engine cannot take; the
	// policy suite checks that statement by rule.
	vpc, subnet, sg := w.ec2("vpc", "vpc-0own"), w.ec2("subnet", "subnet-0own"), w.ec2("security-group", "sg-0own")
	key, otherKey := w.arn("kms", "key/1111aaaa-own"), w.arn("kms", "key/2222bbbb-other")
	clusterLogs := w.arn("logs", "log-group:"+infra.ClusterLogGroupName(w.cluster))
	cluster := w.arn("eks", "cluster/"+w.cluster)
	nodegroup := w.arn("eks", "nodegroup/"+w.cluster+"/nodes-4f2a/0ac6e1f0-1111-2222-3333-444455556666")
	accessEntry := func(principal string) string {
		name := principal[strings.LastIndex(principal, "/")+1:]
		return w.arn("eks", "access-entry/"+w.cluster+"/role/"+plan.Account+"/"+name+"/8ec6e1f0-1111-2222-3333-444455556666")
	}
	stackRole := w.iam("role" + w.rolePath + "cluster-node-role-7d1e2f3")
	deployRole := w.iam("role" + w.rolePath + "deploy-deploy-role-1a2b3c4")
	previewRole := w.iam("role" + w.rolePath + "deploy-preview-role-5e6f7a8")
	pushRole := w.iam("role" + w.rolePath + "github-push-role-9b0c1d2")
	serviceRole := w.iam("role" + w.rolePath + "gitops-service-role-3e4f5a6")
	admin := w.admin
	if admin == "" {
		admin = deployRole
	}
	policyARN := func(name string) string { return "arn:aws:eks::aws:cluster-access-policy/" + name }
	access := func(principal, policy string) map[string]any {
		return map[string]any{"eks:principalArn": principal, "eks:policyArn": policyARN(policy)}
	}
	outsider := "arn:aws:iam::999999999999:role/attacker"
	clusterIssuer := w.iam("oidc-provider/oidc.eks." + plan.Region + ".amazonaws.com/id/0A1B2C3D4E5F")
	otherIssuer := w.iam("oidc-provider/oidc.eks." + plan.Region + ".amazonaws.com/id/9F8E7D6C5B4A")
	retag := map[string]any{"aws:ResourceTag/" + infra.StackTagKey: w.tag, "aws:RequestTag/" + infra.StackTagKey: otherTag,
		"aws:TagKeys": []string{infra.StackTagKey}}
	rows := append(programLookups(w, cluster, nodegroup), []iamRequest{
		// What `pulumi up`, `refresh` and routine updates call (terraform-provider-aws and pulumi-eks).
		{"refresh reads the network", "ec2:DescribeVpcs", "*", nil, true},
		{"refresh reads the launch template", "ec2:DescribeLaunchTemplateVersions", "*", nil, true},
		{"a VPC tagged as the stack's", "ec2:CreateVpc", w.ec2("vpc", "*"), w.create(), true},
		{"tags at creation", "ec2:CreateTags", w.ec2("vpc", "vpc-0new"), w.create("ec2:CreateAction", "CreateVpc"), true},
		{"a subnet", "ec2:CreateSubnet", w.ec2("subnet", "*"), w.create(), true},
		{"in the stack's VPC", "ec2:CreateSubnet", vpc, w.own(), true},
		{"a route table", "ec2:CreateRouteTable", w.ec2("route-table", "*"), w.create(), true},
		{"routes", "ec2:CreateRoute", w.ec2("route-table", "rtb-0own"), w.own(), true},
		{"a route table association", "ec2:AssociateRouteTable", subnet, w.own(), true},
		{"an Elastic IP", "ec2:AllocateAddress", w.ec2("elastic-ip", "*"), w.create(), true},
		{"a NAT gateway", "ec2:CreateNatGateway", w.ec2("natgateway", "*"), w.create(), true},
		{"in the stack's subnet", "ec2:CreateNatGateway", subnet, w.own(), true},
		{"with the stack's address", "ec2:CreateNatGateway", w.ec2("elastic-ip", "eipalloc-0own"), w.own(), true},
		{"an internet gateway", "ec2:CreateInternetGateway", w.ec2("internet-gateway", "*"), w.create(), true},
		{"attached to the stack's VPC", "ec2:AttachInternetGateway", vpc, w.own(), true},
		{"a security group", "ec2:CreateSecurityGroup", w.ec2("security-group", "*"), w.create(), true},
		{"in the stack's VPC", "ec2:CreateSecurityGroup", vpc, w.own(), true},
		{"its rules", "ec2:AuthorizeSecurityGroupIngress", sg, w.own(), true},
		{"a tagged group's egress rules", "ec2:RevokeSecurityGroupEgress", sg, w.own(), true},
		{"the node template", "ec2:CreateLaunchTemplate", w.ec2("launch-template", "*"), w.create(), true},
		{"a new version of it", "ec2:CreateLaunchTemplateVersion", w.ec2("launch-template", "lt-0own"), w.own(), true},
		{"flow logs", "ec2:CreateFlowLogs", w.ec2("vpc-flow-log", "*"), w.create(), true},
		{"of the stack's VPC", "ec2:CreateFlowLogs", vpc, w.own(), true},
		{"a default tag added", "ec2:CreateTags", subnet, w.own("aws:RequestTag/"+infra.StackTagKey, w.tag, "aws:RequestTag/owner", "team-a",
			"aws:TagKeys", []string{infra.StackTagKey, "owner"}), true},
		{"a default tag removed", "ec2:DeleteTags", subnet, w.own("aws:TagKeys", []string{"owner"}), true},
		{"its rotation", "kms:EnableKeyRotation", key, w.own(), true},
		{"refresh reads a key", "kms:DescribeKey", key, nil, true},
		{"its tags", "kms:TagResource", key, w.own("aws:RequestTag/"+infra.StackTagKey, w.tag, "aws:TagKeys", []string{infra.StackTagKey}), true},
		{"a grant for EBS or EKS", "kms:CreateGrant", key, w.own("kms:GrantIsForAWSResource", "true"), true},
		{"the control-plane log group", "logs:CreateLogGroup", clusterLogs, w.create(), true},
		{"its retention", "logs:PutRetentionPolicy", clusterLogs, nil, true},
		{"the flow log group's key", "logs:AssociateKmsKey", w.arn("logs", "log-group:/aws/vpc-flow-logs/"+w.cluster), nil, true},
		{"refresh reads log groups", "logs:DescribeLogGroups", "*", nil, true},
		{"a Kubernetes upgrade", "eks:UpdateClusterVersion", cluster, nil, true},
		{"the nodes' upgrade", "eks:UpdateNodegroupVersion", nodegroup, nil, true},
		{"the nodes' sizes", "eks:UpdateNodegroupConfig", nodegroup, nil, true},
		{"an add-on", "eks:CreateAddon", cluster, nil, true},
		{"an add-on's version", "eks:UpdateAddon", w.arn("eks", "addon/"+w.cluster+"/vpc-cni/1ac6e1f0-1111-2222-3333-444455556666"), nil, true},
		{"access for a configured admin", "eks:CreateAccessEntry", cluster, map[string]any{"eks:principalArn": admin}, true},
		{"its policy", "eks:AssociateAccessPolicy", accessEntry(admin), access(admin, "AmazonEKSClusterAdminPolicy"), true},
		{"access for the deploy role", "eks:CreateAccessEntry", cluster, map[string]any{"eks:principalArn": deployRole}, true},
		{"the nodes' access entry", "eks:CreateAccessEntry", cluster, map[string]any{"eks:principalArn": stackRole}, true},
		{"the preview role's view access", "eks:AssociateAccessPolicy", accessEntry(previewRole), access(previewRole, "AmazonEKSViewPolicy"), true},
		{"Pod Identity for the service", "eks:CreatePodIdentityAssociation", cluster, nil, true},
		{"the image lifecycle", "ecr:PutLifecyclePolicy", w.arn("ecr", "repository/"+w.repository), nil, true},
		{"the node role to the nodes", "iam:PassRole", stackRole, map[string]any{"iam:PassedToService": "ec2.amazonaws.com"}, true},
		{"the nodegroup's service-linked role", "iam:CreateServiceLinkedRole",
			w.iam("role/aws-service-role/eks-nodegroup.amazonaws.com/AWSServiceRoleForAmazonEKSNodegroup"),
			map[string]any{"iam:AWSServiceName": "eks-nodegroup.amazonaws.com"}, true},
		{"default tags on the stack's roles", "iam:TagRole", stackRole, nil, true},
		{"the account's GitHub issuer, once", "iam:CreateOpenIDConnectProvider", w.iam("oidc-provider/token.actions.githubusercontent.com"), nil, true},
		{"the cluster's IRSA issuer's tags", "iam:TagOpenIDConnectProvider", clusterIssuer, w.own("aws:RequestTag/"+infra.StackTagKey, w.tag,
			"aws:TagKeys", []string{infra.StackTagKey}), true},

		// Another stack's resources, the account's, and anything untagged.
		{"another stack's VPC", "ec2:DeleteVpc", w.ec2("vpc", "vpc-0other"), w.other(), false},
		{"an untagged VPC", "ec2:DeleteVpc", w.ec2("vpc", "vpc-0plain"), nil, false},
		{"another workload's instance", "ec2:TerminateInstances", w.ec2("instance", "i-0other"), w.other(), false},
		{"another workload's volume", "ec2:DeleteVolume", w.ec2("volume", "vol-0other"), w.other(), false},
		{"another stack's security group", "ec2:AuthorizeSecurityGroupIngress", w.ec2("security-group", "sg-0other"), w.other(), false},
		{"a subnet in another stack's VPC", "ec2:CreateSubnet", w.ec2("vpc", "vpc-0other"), w.other("aws:RequestTag/"+infra.StackTagKey, w.tag), false},
		{"a NAT gateway in another stack's subnet", "ec2:CreateNatGateway", w.ec2("subnet", "subnet-0other"), w.other("aws:RequestTag/"+infra.StackTagKey, w.tag), false},
		{"another stack's resource tagged as this one's", "ec2:CreateTags", w.ec2("subnet", "subnet-0other"), w.other("aws:RequestTag/"+infra.StackTagKey, w.tag, "aws:TagKeys", []string{infra.StackTagKey}), false},
		{"this stack's resource tagged as another's", "ec2:CreateTags", subnet, retag, false},
		{"the stack's tag removed", "ec2:DeleteTags", subnet, w.own("aws:TagKeys", []string{infra.StackTagKey}), false},
		{"a VPC tagged as another stack's", "ec2:CreateVpc", w.ec2("vpc", "*"), map[string]any{"aws:RequestTag/" + infra.StackTagKey: otherTag, "aws:TagKeys": []string{infra.StackTagKey}}, false},
		{"an untagged VPC", "ec2:CreateVpc", w.ec2("vpc", "*"), nil, false},
		{"peering out of the stack's VPC", "ec2:CreateVpcPeeringConnection", vpc, w.own(), false},
		{"a VPN", "ec2:CreateVpnConnection", w.ec2("vpn-connection", "*"), w.create(), false},
		{"mirroring the nodes' traffic", "ec2:CreateTrafficMirrorSession", w.ec2("traffic-mirror-session", "*"), w.create(), false},
		{"sharing a snapshot", "ec2:ModifySnapshotAttribute", "arn:aws:ec2:" + plan.Region + "::snapshot/snap-0own", w.own(), false},
		{"sharing an image", "ec2:ModifyImageAttribute", "arn:aws:ec2:" + plan.Region + "::image/ami-0own", w.own(), false},
		{"the account's CloudTrail log group", "logs:DeleteLogGroup", w.arn("logs", "log-group:aws-cloudtrail-logs-"+plan.Account), nil, false},
		{"its retention", "logs:PutRetentionPolicy", w.arn("logs", "log-group:aws-cloudtrail-logs-"+plan.Account), nil, false},
		{"a subscription on the stack's logs", "logs:PutSubscriptionFilter", clusterLogs, nil, false},
		{"another log group", "logs:CreateLogGroup", w.arn("logs", "log-group:/aws/lambda/other"), w.create(), false},
		{"another stack's key", "kms:ScheduleKeyDeletion", otherKey, w.other(), false},
		{"decrypting with another key", "kms:Decrypt", otherKey, w.other(), false},
		{"re-writing the stack's key policy", "kms:PutKeyPolicy", key, w.own(), false},
		{"a grant to a person", "kms:CreateGrant", key, w.own("kms:GrantIsForAWSResource", "false"), false},
		{"a grant on another key", "kms:CreateGrant", otherKey, w.other("kms:GrantIsForAWSResource", "true"), false},
		{"a new key (created with its stack, from a laptop)", "kms:CreateKey", "*", w.create(), false},
		{"an untagged key tagged as this stack's", "kms:TagResource", w.arn("kms", "key/3333cccc-plain"),
			map[string]any{"aws:RequestTag/" + infra.StackTagKey: w.tag, "aws:TagKeys": []string{infra.StackTagKey}}, false},
		{"cluster access for an outsider", "eks:CreateAccessEntry", cluster, map[string]any{"eks:principalArn": outsider}, false},
		{"admin policy for an outsider", "eks:AssociateAccessPolicy", accessEntry(outsider), access(outsider, "AmazonEKSClusterAdminPolicy"), false},
		{"cluster access for the service repository's CI", "eks:CreateAccessEntry", cluster, map[string]any{"eks:principalArn": pushRole}, false},
		{"cluster access for the service's pods", "eks:CreateAccessEntry", cluster, map[string]any{"eks:principalArn": serviceRole}, false},
		{"admin policy for pull request code", "eks:AssociateAccessPolicy", accessEntry(previewRole), access(previewRole, "AmazonEKSClusterAdminPolicy"), false},
		{"admin policy for the nodes", "eks:AssociateAccessPolicy", accessEntry(stackRole), access(stackRole, "AmazonEKSAdminPolicy"), false},
		{"an identity provider that bypasses access entries", "eks:AssociateIdentityProviderConfig", cluster, nil, false},
		{"another cluster", "eks:DeleteCluster", w.arn("eks", "cluster/another-cluster"), nil, false},
		{"another cluster's nodes", "eks:UpdateNodegroupConfig", w.arn("eks", "nodegroup/another-cluster/ng/0ac6e1f0-1111-2222-3333-444455556666"), nil, false},
		{"a cluster of its own (EKS makes the creator its admin)", "eks:CreateCluster", "*", nil, false},
		{"another cluster's IRSA issuer", "iam:DeleteOpenIDConnectProvider", otherIssuer, w.other(), false},
		{"another cluster's issuer tagged as this one's", "iam:TagOpenIDConnectProvider", otherIssuer,
			w.other("aws:RequestTag/"+infra.StackTagKey, w.tag, "aws:TagKeys", []string{infra.StackTagKey}), false},
		{"a new cluster issuer (it comes with a new cluster, from a laptop)", "iam:CreateOpenIDConnectProvider", clusterIssuer, w.create(), false},
		{"the account's GitHub issuer", "iam:DeleteOpenIDConnectProvider", w.iam("oidc-provider/token.actions.githubusercontent.com"), nil, false},
		{"a role", "iam:CreateRole", w.iam("role" + w.rolePath + "new-role"), nil, false},
		{"its own permissions", "iam:PutRolePolicy", deployRole, nil, false},
		{"a role's trust", "iam:UpdateAssumeRolePolicy", stackRole, nil, false},
		{"a role outside the stack", "iam:PassRole", w.iam("role/admin"), map[string]any{"iam:PassedToService": "ec2.amazonaws.com"}, false},
		{"an access key", "iam:CreateAccessKey", w.iam("user/someone"), nil, false},
		{"the repository's policy", "ecr:SetRepositoryPolicy", w.arn("ecr", "repository/"+w.repository), nil, false},
		{"another repository", "ecr:DeleteRepository", w.arn("ecr", "repository/other/service"), nil, false},
		{"an image into the repository", "ecr:PutImage", w.arn("ecr", "repository/"+w.repository), nil, false},
	}...)
	serving := []iamRequest{
		{"the cluster", "eks:DeleteCluster", cluster, nil, !protected},
		{"the nodegroup", "eks:DeleteNodegroup", nodegroup, nil, !protected},
		{"the VPC", "ec2:DeleteVpc", vpc, w.own(), !protected},
		{"a subnet", "ec2:DeleteSubnet", subnet, w.own(), !protected},
		{"a key", "kms:ScheduleKeyDeletion", key, w.own(), !protected},
		{"the control-plane logs", "logs:DeleteLogGroup", clusterLogs, nil, !protected},
	}
	for i := range serving {
		serving[i].why = "deleting " + serving[i].why
	}
	return append(rows, append(serving,
		iamRequest{"deleting the repository (a laptop's job)", "ecr:DeleteRepository", w.arn("ecr", "repository/"+w.repository), nil, false})...)
}

// TestIAMEvaluation_deployRolesStayInsideTheirStack: the deploy role of dev and prod, under both flows and with a
// service role configured, is allowed every call a routine update makes and denied everything of the account
// that is not its stack's, every persistence path, and in prod the deletes of what serves traffic.
func TestIAMEvaluation_deployRolesStayInsideTheirStack(t *testing.T) {
	t.Parallel()
	var sims []iamSimulation
	var rows []iamRequest
	var documents []json.RawMessage
	for _, stack := range stackNames {
		for flow, config := range map[string]func(*testing.T, string) stackConfig{"deployments": deployConfig, "github-actions": githubDeployConfig} {
			cfg := config(t, stack)
			cfg.Set("serviceIamStatements", serviceStatements)
			if stack == "prod" {
				cfg.Set("clusterAdminArns", []any{"arn:aws:iam::" + plan.Account + ":role/oncall"})
			}
			r := runStack(t, stack, cfg).ok()
			documents = append(documents, iamDocuments(r)...)
			w := stackWorld(stack, cfg.Get("serviceName"))
			if stack == "prod" {
				w.admin = "arn:aws:iam::" + plan.Account + ":role/oncall"
			}
			policy := graphPolicy(t, r, "aws:iam/rolePolicy:RolePolicy", "deploy-deploy-policy", "policy")
			guardrails := json.RawMessage(r.one("aws:iam/policy:Policy", "deploy-deploy-guardrails").Str("policy"))
			// Every key of the stack has the account key policy (IAM policies decide); another stack's key is
			// assumed to have the same.
			keyPolicy := json.RawMessage(r.one("aws:kms/key:Key", "cluster-logs-key").Str("policy"))
			for _, row := range deployRoleTable(w, cfg.Get("protect") == "true") {
				row.why = stack + "/" + flow + ": " + row.why
				rows = append(rows, row)
				sims = append(sims, iamSimulation{ID: row.why, Principal: w.role("deploy-deploy-role"),
					Action: row.action, Resource: row.resource, Account: plan.Account, Context: row.context,
					Identity: []json.RawMessage{policy, guardrails}})
				if strings.HasPrefix(row.action, "kms:") && row.resource != "*" {
					sims[len(sims)-1].ResourcePolicy = keyPolicy
				}
			}
		}
	}
	assertDecisions(t, rows, iamEvaluate(t, sims, documents))
}

// iamDocuments are every IAM document of a plan: policies, inline policies and trust policies.
func iamDocuments(r *run) []json.RawMessage {
	var documents []json.RawMessage
	for _, rec := range r.records {
		switch rec.Type {
		case "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy":
			documents = append(documents, json.RawMessage(rec.Str("policy")))
		case "aws:iam/role:Role":
			documents = append(documents, json.RawMessage(rec.Str("assumeRolePolicy")))
		}
	}
	return documents
}

// assertDecisions checks the engine's decision on each row of the tables, and that every name the policies use
// exists in AWS's data.
func assertDecisions(t *testing.T, rows []iamRequest, out iamOutput) {
	t.Helper()
	assert.Empty(t, out.Unknown, "actions and condition keys not in AWS's service authorization data (%s)", out.DataVersion)
	allowed, denied := 0, 0
	for i, res := range out.Results {
		row := rows[i]
		require.Equal(t, row.why, res.ID, "the engine answers the requests in order")
		if !assert.Emptyf(t, res.Error, "%s: %s on %s is not a request AWS knows", row.why, row.action, row.resource) {
			continue
		}
		if row.allow {
			allowed++
			assert.Equalf(t, "Allowed", res.Decision, "%s: %s on %s must be allowed", row.why, row.action, row.resource)
		} else {
			denied++
			assert.NotEqualf(t, "Allowed", res.Decision, "%s: %s on %s must be denied", row.why, row.action, row.resource)
		}
	}
	t.Logf("%d requests allowed and %d denied as the tables say (IAM data %s)", allowed, denied, out.DataVersion)
}
