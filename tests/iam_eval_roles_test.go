package tests

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
)

// stackRole is one of the stack's roles as the evaluation engine sees it: its ARN, its identity policies and its
// permissions boundary, and the request table written from its job and from an attacker's view.
type stackRole struct {
	name     string
	arn      string
	identity []json.RawMessage
	boundary json.RawMessage
	table    []iamRequest
}

// graphPolicy is a policy document the graph holds: an input of the resource of that type and name.
func graphPolicy(t *testing.T, r *run, typ, name, input string) json.RawMessage {
	t.Helper()
	doc := r.one(typ, name).Str(input)
	require.NotEmptyf(t, doc, "%s %s has a %s", typ, name, input)
	return json.RawMessage(doc)
}

// stackRoleTables are the tables of the roles automation and pods run with, other than the deploy role: the
// service repository's push role, Cluster Autoscaler's and the service's Pod Identity roles, the flow logs'
// delivery role and (in dev) the pull-request preview role. Each is its identity policy intersected with its
// boundary.
func stackRoleTables(t *testing.T, r *run, w iamWorld, previews bool) []stackRole {
	t.Helper()
	boundary := graphPolicy(t, r, "aws:iam/policy:Policy", "roles-policy", "policy")
	repo := w.arn("ecr", "repository/"+w.repository)
	otherRepo := w.arn("ecr", "repository/other/service")
	cluster := w.arn("eks", "cluster/"+w.cluster)
	nodegroup := w.arn("eks", "nodegroup/"+w.cluster+"/nodes-4f2a/0ac6e1f0-1111-2222-3333-444455556666")
	otherNodegroup := w.arn("eks", "nodegroup/another-cluster/nodes/1ac6e1f0-1111-2222-3333-444455556666")
	asg := w.arn("autoscaling", "autoScalingGroup:0ac6e1f0-1111-2222-3333-444455556666:autoScalingGroupName/eks-nodes-4f2a-0ac6e1f0")
	scaleTag := "aws:ResourceTag/k8s.io/cluster-autoscaler/" + w.cluster
	flowLogs := w.arn("logs", "log-group:/aws/vpc-flow-logs/"+w.cluster)
	clusterLogs := w.arn("logs", "log-group:"+infra.ClusterLogGroupName(w.cluster))
	role := w.role

	roles := []stackRole{
		{
			name: "push role", arn: role("github-push-role"),
			identity: []json.RawMessage{graphPolicy(t, r, "aws:iam/rolePolicy:RolePolicy", "github-push-policy", "policy")},
			boundary: boundary,
			table: []iamRequest{
				{"registry login", "ecr:GetAuthorizationToken", "*", nil, true},
				{"layers it has", "ecr:BatchCheckLayerAvailability", repo, nil, true},
				{"a layer upload", "ecr:InitiateLayerUpload", repo, nil, true},
				{"its parts", "ecr:UploadLayerPart", repo, nil, true},
				{"its end", "ecr:CompleteLayerUpload", repo, nil, true},
				{"the image", "ecr:PutImage", repo, nil, true},
				{"the image it built on", "ecr:BatchGetImage", repo, nil, true},
				{"whether the tag is pushed already (the service CI's check)", "ecr:DescribeImages", repo, nil, true},
				{"another repository", "ecr:PutImage", otherRepo, nil, false},
				{"the repository's policy", "ecr:SetRepositoryPolicy", repo, nil, false},
				{"the repository's lifecycle", "ecr:PutLifecyclePolicy", repo, nil, false},
				{"deleting images", "ecr:BatchDeleteImage", repo, nil, false},
				{"deleting the repository", "ecr:DeleteRepository", repo, nil, false},
				{"the cluster", "eks:DescribeCluster", cluster, nil, false},
				{"a stack's secret key", "kms:Decrypt", w.arn("kms", "key/1111aaaa-own"), nil, false},
				{"another role", "sts:AssumeRole", w.iam("role/admin"), nil, false},
				{"a role", "iam:CreateRole", role("new"), nil, false},
			},
		},
		{
			name: "Cluster Autoscaler", arn: role("addons-autoscaler-role"),
			identity: []json.RawMessage{graphPolicy(t, r, "aws:iam/rolePolicy:RolePolicy", "addons-autoscaler-policy", "policy")},
			boundary: boundary,
			table: []iamRequest{
				// cluster-autoscaler/cloudprovider/aws/README.md ("Full Cluster Autoscaler Features Policy"), the
				// calls of its AWS cloud provider.
				{"the groups", "autoscaling:DescribeAutoScalingGroups", "*", nil, true},
				{"their instances", "autoscaling:DescribeAutoScalingInstances", "*", nil, true},
				{"their launch configurations", "autoscaling:DescribeLaunchConfigurations", "*", nil, true},
				{"their scaling activities (every refresh)", "autoscaling:DescribeScalingActivities", "*", nil, true},
				{"instance types", "ec2:DescribeInstanceTypes", "*", nil, true},
				{"the nodes' image", "ec2:DescribeImages", "*", nil, true},
				{"types from requirements", "ec2:GetInstanceTypesFromInstanceRequirements", "*", nil, true},
				{"the node template (scale from zero)", "ec2:DescribeLaunchTemplateVersions", "*", nil, true},
				{"its cluster's nodegroups", "eks:DescribeNodegroup", nodegroup, nil, true},
				{"a scale-up", "autoscaling:SetDesiredCapacity", asg, map[string]any{scaleTag: "owned"}, true},
				{"a scale-down", "autoscaling:TerminateInstanceInAutoScalingGroup", asg, map[string]any{scaleTag: "owned"}, true},
				{"another cluster's group", "autoscaling:SetDesiredCapacity", asg,
					map[string]any{"aws:ResourceTag/k8s.io/cluster-autoscaler/another-cluster": "owned"}, false},
				{"an untagged group", "autoscaling:TerminateInstanceInAutoScalingGroup", asg, nil, false},
				{"a group's bounds", "autoscaling:UpdateAutoScalingGroup", asg, map[string]any{scaleTag: "owned"}, false},
				{"another cluster's nodegroups", "eks:DescribeNodegroup", otherNodegroup, nil, false},
				{"the nodegroup's sizes", "eks:UpdateNodegroupConfig", nodegroup, nil, false},
				{"any instance", "ec2:TerminateInstances", w.ec2("instance", "i-0123456789abcdef0"), nil, false},
				{"node user data", "ec2:DescribeInstanceAttribute", w.ec2("instance", "i-0123456789abcdef0"), nil, false},
				{"a role", "iam:PassRole", role("cluster-node-role"), nil, false},
			},
		},
		{
			name: "flow logs delivery", arn: role("network-flow-logs"),
			identity: []json.RawMessage{graphPolicy(t, r, "aws:iam/rolePolicy:RolePolicy", "network-flow-logs", "policy")},
			boundary: boundary,
			table: []iamRequest{
				{"a stream", "logs:CreateLogStream", flowLogs + ":log-stream:eni-0123456789abcdef0-all", nil, true},
				{"its events", "logs:PutLogEvents", flowLogs + ":log-stream:eni-0123456789abcdef0-all", nil, true},
				{"the groups", "logs:DescribeLogGroups", "*", nil, true},
				{"its streams", "logs:DescribeLogStreams", flowLogs, nil, true},
				{"the control plane's log", "logs:PutLogEvents", clusterLogs + ":log-stream:kube-apiserver-audit", nil, false},
				{"a subscription", "logs:PutSubscriptionFilter", flowLogs, nil, false},
				{"deleting the group", "logs:DeleteLogGroup", flowLogs, nil, false},
				{"its retention", "logs:PutRetentionPolicy", flowLogs, nil, false},
			},
		},
	}
	if slices.ContainsFunc(r.all("aws:iam/rolePolicy:RolePolicy"), func(rec *record) bool { return rec.Name == "service-identity-policy" }) {
		roles = append(roles, stackRole{
			name: "the service", arn: role("service-identity-role"),
			identity: []json.RawMessage{graphPolicy(t, r, "aws:iam/rolePolicy:RolePolicy", "service-identity-policy", "policy")},
			// Its own boundary, at its own statements: the stack's never widens for it.
			boundary: graphPolicy(t, r, "aws:iam/policy:Policy", "service-roles-policy", "policy"),
			table: []iamRequest{
				{"its assets", "s3:GetObject", "arn:aws:s3:::acme-assets/logo.png", nil, true},
				{"its metrics", "cloudwatch:PutMetricData", "*", map[string]any{"cloudwatch:namespace": "Shop"}, true},
				{"another bucket", "s3:GetObject", "arn:aws:s3:::another-bucket/secret.txt", nil, false},
				{"writing its assets", "s3:PutObject", "arn:aws:s3:::acme-assets/logo.png", nil, false},
				{"another namespace's metrics", "cloudwatch:PutMetricData", "*", map[string]any{"cloudwatch:namespace": "Billing"}, false},
				{"its own image", "ecr:PutImage", repo, nil, false},
				{"a role", "iam:CreateRole", role("new"), nil, false},
				{"another role", "sts:AssumeRole", w.iam("role/admin"), nil, false},
				{"the cluster", "eks:DescribeCluster", cluster, nil, false},
			},
		})
	}
	if previews {
		secretsKey := w.arn("kms", "key/3333cccc-secrets")
		roles = append(roles, stackRole{
			name: "preview", arn: role("deploy-preview-role"),
			identity: []json.RawMessage{graphPolicy(t, r, "aws:iam/rolePolicy:RolePolicy", "deploy-preview-policy", "policy")},
			boundary: boundary,
			// The program's lookups (previews do not refresh), then the rest.
			table: append(programLookups(w, cluster, nodegroup), []iamRequest{
				{"the stack's secrets", "kms:Decrypt", secretsKey, map[string]any{"kms:ResourceAliases": []string{infra.SecretsKeyAlias}}, true},
				{"another key", "kms:Decrypt", w.arn("kms", "key/4444dddd-other"), map[string]any{"kms:ResourceAliases": []string{"alias/other"}}, false},
				{"node user data", "ec2:DescribeInstanceAttribute", w.ec2("instance", "i-0123456789abcdef0"), nil, false},
				{"the node template", "ec2:DescribeLaunchTemplateVersions", "*", nil, false},
				{"any write", "ec2:CreateVpc", w.ec2("vpc", "*"), w.create(), false},
				{"an image", "ecr:PutImage", repo, nil, false},
				{"a Kubernetes upgrade", "eks:UpdateClusterVersion", cluster, nil, false},
				{"another role", "sts:AssumeRole", w.iam("role/admin"), nil, false},
			}...),
		})
	}
	return roles
}

// TestIAMEvaluation_stackRolesStayInsideTheirJob: every other role of dev and prod (the push role, Cluster
// Autoscaler's and the service's Pod Identity roles, the flow logs' role, dev's preview role), its identity policy
// intersected with its permissions boundary, is allowed its job and denied the rest of the stack, other stacks'
// resources and escalation; and the Pod Identity roles' trust admits their own ServiceAccount's pods alone. The node and cluster roles hold AWS managed policies, whose documents are not in the
// plan: the policy suite's rules and their boundary cover them.
func TestIAMEvaluation_stackRolesStayInsideTheirJob(t *testing.T) {
	t.Parallel()
	var sims []iamSimulation
	var rows []iamRequest
	var documents []json.RawMessage
	for _, stack := range stackNames {
		cfg := deployConfig(t, stack)
		cfg.Set("serviceIamStatements", serviceStatements)
		r := runStack(t, stack, cfg).ok()
		w := stackWorld(stack, cfg.Get("serviceName"))
		roles := stackRoleTables(t, r, w, stack == "dev")
		names := []string{}
		for _, role := range roles {
			names = append(names, role.name)
			documents = append(documents, role.identity...)
			documents = append(documents, role.boundary)
			for _, row := range role.table {
				row.why = stack + "/" + role.name + ": " + row.why
				rows = append(rows, row)
				// AWS puts the role's ARN, path included, in every request of its sessions (aws:PrincipalArn).
				ctx := with(map[string]any{"aws:PrincipalArn": role.arn})
				for k, v := range row.context {
					ctx[k] = v
				}
				sims = append(sims, iamSimulation{ID: row.why, Principal: role.arn, Action: row.action, Resource: row.resource,
					Account: plan.Account, Context: ctx, Identity: role.identity, Boundary: []json.RawMessage{role.boundary}})
				if strings.HasPrefix(row.action, "kms:") && row.resource != "*" {
					// The key's own policy delegates to IAM, as every key of the stack's does.
					sims[len(sims)-1].ResourcePolicy = json.RawMessage(r.one("aws:kms/key:Key", "cluster-logs-key").Str("policy"))
				}
			}
		}
		// The Pod Identity roles' trust, as the resource policy of EKS Pod Identity's request (sts:AssumeRole and
		// sts:TagSession by pods.eks.amazonaws.com, with the pod's cluster, namespace and ServiceAccount as session
		// tags): each role for its own ServiceAccount of its own cluster, no other.
		clusterARN := w.arn("eks", "cluster/"+w.cluster)

		service := cfg.Get("serviceName")
		for _, trusted := range []struct {
			name, roleName, namespace, account string
			other                              [2]string // another tenant's namespace and ServiceAccount
		}{
			{"Cluster Autoscaler", "addons-autoscaler-role", infra.AutoscalerNamespace, infra.AutoscalerServiceAccount, [2]string{service, service}},
			{"the service", "service-identity-role", service, service, [2]string{infra.AutoscalerNamespace, infra.AutoscalerServiceAccount}},
		} {
			trust := graphPolicy(t, r, "aws:iam/role:Role", trusted.roleName, "assumeRolePolicy")
			documents = append(documents, trust)
			for _, row := range []iamRequest{
				{"its pods' session", "sts:AssumeRole", "", podSession(clusterARN, trusted.namespace, trusted.account), true},
				{"their session tags", "sts:TagSession", "", podSession(clusterARN, trusted.namespace, trusted.account), true},
				{"another ServiceAccount of its namespace", "sts:AssumeRole", "", podSession(clusterARN, trusted.namespace, "default"), false},
				{"another tenant's pods", "sts:AssumeRole", "", podSession(clusterARN, trusted.other[0], trusted.other[1]), false},
				{"the same ServiceAccount in another cluster", "sts:AssumeRole", "", podSession(w.arn("eks", "cluster/another-cluster"), trusted.namespace, trusted.account), false},
				{"no session tags", "sts:AssumeRole", "", nil, false},
			} {
				row.why = stack + "/" + trusted.name + " trust: " + row.why
				row.resource = w.role(trusted.roleName)
				rows = append(rows, row)
				sims = append(sims, iamSimulation{ID: row.why, Principal: infra.PodIdentityPrincipal, Action: row.action,
					Resource: row.resource, Account: plan.Account, Context: row.context, ResourcePolicy: trust})
			}
		}
		want := []string{"push role", "Cluster Autoscaler", "flow logs delivery", "the service"}
		if stack == "dev" {
			want = append(want, "preview")
		}
		require.Equal(t, want, names, "%s: every role has its table", stack)
	}
	assertDecisions(t, rows, iamEvaluate(t, sims, documents))
}
