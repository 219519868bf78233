package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
)

// awsManagedPolicies are the documents of the AWS managed policies the node role holds (infra.NodePolicies), as
// the AWS Managed Policy Reference publishes them at their default version
// (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/<name>.html):
//   - AmazonEKSWorkerNodePolicy v3 (edited 2023-11-27)
//   - AmazonEKS_CNI_Policy v5 (edited 2024-03-04)
//   - AmazonEC2ContainerRegistryReadOnly v3 (edited 2019-12-10)
//
// AWS edits them: a newer version shows in the reference with a new edit date.
var awsManagedPolicies = map[string]string{
	"AmazonEKSWorkerNodePolicy": `{"Version": "2012-10-17", "Statement": [{"Sid": "WorkerNodePermissions", "Effect": "Allow",
		"Action": ["ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups",
			"ec2:DescribeSubnets", "ec2:DescribeVolumes", "ec2:DescribeVolumesModifications", "ec2:DescribeVpcs", "eks:DescribeCluster",
			"eks-auth:AssumeRoleForPodIdentity"], "Resource": "*"}]}`,
	"AmazonEKS_CNI_Policy": `{"Version": "2012-10-17", "Statement": [{"Sid": "AmazonEKSCNIPolicy", "Effect": "Allow",
		"Action": ["ec2:AssignPrivateIpAddresses", "ec2:AttachNetworkInterface", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
			"ec2:DescribeInstances", "ec2:DescribeTags", "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes", "ec2:DescribeSubnets",
			"ec2:DetachNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute", "ec2:UnassignPrivateIpAddresses"], "Resource": "*"},
		{"Sid": "AmazonEKSCNIPolicyENITag", "Effect": "Allow", "Action": ["ec2:CreateTags"], "Resource": ["arn:aws:ec2:*:*:network-interface/*"]}]}`,
	"AmazonEC2ContainerRegistryReadOnly": `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
		"Action": ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:GetRepositoryPolicy",
			"ecr:DescribeRepositories", "ecr:ListImages", "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:GetLifecyclePolicy",
			"ecr:GetLifecyclePolicyPreview", "ecr:ListTagsForResource", "ecr:DescribeImageScanFindings"], "Resource": "*"}]}`,
}

// TestIAMEvaluation_nodeRoleIsItsManagedPoliciesUnderTheBoundary: the node role, its AWS managed policies intersected
// with the stack's boundary, may do what kubelet, the VPC CNI and image pulls need, and none of the rest: Pod
// Identity for another cluster, pushing images, node user data, the autoscaler's launch templates, writes outside
// network interfaces. Not in the table because both the managed CNI policy and the boundary allow it: network
// interface calls in another VPC of the account (docs/iam.md, "The VPC CNI still runs on the node role").
func TestIAMEvaluation_nodeRoleIsItsManagedPoliciesUnderTheBoundary(t *testing.T) {
	t.Parallel()
	var identity []json.RawMessage
	for name := range infra.NodePolicies {
		policy := infra.NodePolicies[name]
		doc, ok := awsManagedPolicies[string(policy)[len("arn:aws:iam::aws:policy/"):]]
		require.Truef(t, ok, "the document of %s is in awsManagedPolicies", policy)
		identity = append(identity, json.RawMessage(doc))
	}
	var sims []iamSimulation
	var rows []iamRequest
	var documents []json.RawMessage
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		boundary := graphPolicy(t, r, "aws:iam/policy:Policy", "roles-policy", "policy")
		documents = append(documents, boundary)
		w := iamWorld{stack: stack, cluster: projectName + "-" + stack, repository: stack + "/" + cfg.Get("serviceName"),
			rolePath: "/" + projectName + "/" + stack + "/"}
		nodeRole := w.iam("role" + w.rolePath + infra.NodeRoleName("cluster") + "-1a2b3c4")
		eni := w.ec2("network-interface", "eni-0123456789abcdef0")
		instance := w.ec2("instance", "i-0123456789abcdef0")
		repo := w.arn("ecr", "repository/"+w.repository)
		table := []iamRequest{
			{"kubelet: its instance", "ec2:DescribeInstances", "*", nil, true},
			{"kubelet: the cluster", "eks:DescribeCluster", w.arn("eks", "cluster/"+w.cluster), nil, true},
			{"the Pod Identity agent", "eks-auth:AssumeRoleForPodIdentity", w.arn("eks", "cluster/"+w.cluster), nil, true},
			{"the CNI: an interface", "ec2:CreateNetworkInterface", eni, nil, true},
			{"the CNI: addresses", "ec2:AssignPrivateIpAddresses", eni, nil, true},
			{"the CNI: attaching it", "ec2:AttachNetworkInterface", eni, nil, true},
			{"the CNI: its tags", "ec2:CreateTags", eni, nil, true},
			{"pulls: login", "ecr:GetAuthorizationToken", "*", nil, true},
			{"pulls: the service image", "ecr:BatchGetImage", repo, nil, true},
			{"pulls: its layers", "ecr:GetDownloadUrlForLayer", repo, nil, true},
			{"pulls: an add-on image of EKS's registry", "ecr:BatchGetImage", "arn:aws:ecr:" + plan.Region + ":602401143452:repository/amazon-k8s-cni", nil, true},
			{"Pod Identity for another cluster", "eks-auth:AssumeRoleForPodIdentity", w.arn("eks", "cluster/another-cluster"), nil, false},
			{"pushing an image", "ecr:PutImage", repo, nil, false},
			{"node user data", "ec2:DescribeInstanceAttribute", instance, nil, false},
			{"the autoscaler's launch templates", "ec2:DescribeLaunchTemplateVersions", "*", nil, false},
			{"tagging an instance", "ec2:CreateTags", instance, nil, false},
			{"terminating an instance", "ec2:TerminateInstances", instance, nil, false},
			{"resizing a group", "autoscaling:SetDesiredCapacity", w.arn("autoscaling", "autoScalingGroup:0ac6e1f0-1111-2222-3333-444455556666:autoScalingGroupName/eks-nodes"), nil, false},
			{"a key", "kms:Decrypt", w.arn("kms", "key/1111aaaa-own"), nil, false},
			{"a role", "iam:PassRole", w.iam("role/admin"), nil, false},
			{"another role", "sts:AssumeRole", w.iam("role/admin"), nil, false},
			{"a bucket", "s3:GetObject", "arn:aws:s3:::another-bucket/secret.txt", nil, false},
		}
		for _, row := range table {
			row.why = stack + "/node role: " + row.why
			rows = append(rows, row)
			sims = append(sims, iamSimulation{ID: row.why, Principal: nodeRole, Action: row.action, Resource: row.resource,
				Account: plan.Account, Context: map[string]any{"aws:PrincipalArn": nodeRole}, Identity: identity,
				Boundary: []json.RawMessage{boundary}})
			if row.action == "kms:Decrypt" {
				sims[len(sims)-1].ResourcePolicy = json.RawMessage(r.one("aws:kms/key:Key", "cluster-logs-key").Str("policy"))
			}
		}
	}
	assertDecisions(t, rows, iamEvaluate(t, sims, append(documents, identity...)))
}

// attachedPolicies are the documents of the AWS managed policies attached to a role of the plan, by the
// attachments' names (<prefix><key>).
func attachedPolicies(t *testing.T, r *run, prefix string) []json.RawMessage {
	t.Helper()
	var docs []json.RawMessage
	for _, rec := range r.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		if !strings.HasPrefix(rec.Name, prefix) {
			continue
		}
		doc, ok := awsManagedPolicies[strings.TrimPrefix(rec.Str("policyArn"), "arn:aws:iam::aws:policy/")]
		require.Truef(t, ok, "the document of %s is in awsManagedPolicies", rec.Str("policyArn"))
		docs = append(docs, json.RawMessage(doc))
	}
	require.NotEmpty(t, docs, "%s* attachments", prefix)
	return docs
}

// TestIAMEvaluation_vpcCniOnItsOwnRole: with vpcCniIdentity podIdentity, the node role (its attachments in the
// plan, under the boundary) can no longer make the CNI's EC2 calls; the VPC CNI's own role can, and nothing else of
// the node's; and its trust admits EKS Pod Identity for aws-node in kube-system of this cluster alone. With both, the
// node keeps the calls (the step in which aws-node restarts onto its role).
func TestIAMEvaluation_vpcCniOnItsOwnRole(t *testing.T) {
	t.Parallel()
	var sims []iamSimulation
	var rows []iamRequest
	var documents []json.RawMessage
	for _, stack := range stackNames {
		for _, mode := range []string{infra.VPCCNIBoth, infra.VPCCNIPodIdentity} {
			cfg := fixtureConfig(t, stack)
			cfg.Set("vpcCniIdentity", mode)
			r := runStack(t, stack, cfg).ok()
			boundary := graphPolicy(t, r, "aws:iam/policy:Policy", "roles-policy", "policy")
			w := iamWorld{stack: stack, cluster: projectName + "-" + stack, rolePath: "/" + projectName + "/" + stack + "/"}
			nodeRole := w.iam("role" + w.rolePath + infra.NodeRoleName("cluster") + "-1a2b3c4")
			cniRole := w.iam("role" + w.rolePath + "cluster-vpc-cni-role-1a2b3c4")
			node, cni := attachedPolicies(t, r, "cluster-node-role-"), attachedPolicies(t, r, "cluster-vpc-cni-policy")
			documents = append(append(append(documents, boundary), node...), cni...)
			eni := w.ec2("network-interface", "eni-0123456789abcdef0")
			instance := w.ec2("instance", "i-0123456789abcdef0")
			add := func(who, principal string, identity []json.RawMessage, table []iamRequest) {
				for _, row := range table {
					row.why = stack + "/" + mode + "/" + who + ": " + row.why
					rows = append(rows, row)
					sims = append(sims, iamSimulation{ID: row.why, Principal: principal, Action: row.action, Resource: row.resource,
						Account: plan.Account, Context: map[string]any{"aws:PrincipalArn": principal}, Identity: identity,
						Boundary: []json.RawMessage{boundary}})
				}
			}
			onNode := mode == infra.VPCCNIBoth
			add("node role", nodeRole, node, []iamRequest{
				{"the CNI: an interface", "ec2:CreateNetworkInterface", eni, nil, onNode},
				{"the CNI: addresses", "ec2:AssignPrivateIpAddresses", eni, nil, onNode},
				{"the CNI: deleting an interface", "ec2:DeleteNetworkInterface", eni, nil, onNode},
				{"kubelet: its instance", "ec2:DescribeInstances", "*", nil, true},
				{"the Pod Identity agent", "eks-auth:AssumeRoleForPodIdentity", w.arn("eks", "cluster/"+w.cluster), nil, true},
				{"pulls: login", "ecr:GetAuthorizationToken", "*", nil, true},
			})
			add("VPC CNI role", cniRole, cni, []iamRequest{
				{"an interface", "ec2:CreateNetworkInterface", eni, nil, true},
				{"addresses", "ec2:AssignPrivateIpAddresses", eni, nil, true},
				{"attaching it", "ec2:AttachNetworkInterface", eni, nil, true},
				{"its tags", "ec2:CreateTags", eni, nil, true},
				{"the node's instance", "ec2:DescribeInstances", "*", nil, true},
				{"tagging an instance", "ec2:CreateTags", instance, nil, false},
				{"terminating an instance", "ec2:TerminateInstances", instance, nil, false},
				{"image pulls", "ecr:GetAuthorizationToken", "*", nil, false},
				{"Pod Identity for others", "eks-auth:AssumeRoleForPodIdentity", w.arn("eks", "cluster/"+w.cluster), nil, false},
				{"a role", "iam:PassRole", w.iam("role/admin"), nil, false},
			})
			trust := graphPolicy(t, r, "aws:iam/role:Role", "cluster-vpc-cni-role", "assumeRolePolicy")
			documents = append(documents, trust)

			clusterARN := w.arn("eks", "cluster/"+w.cluster)
			for _, row := range []iamRequest{
				{"aws-node's session", "sts:AssumeRole", cniRole, podSession(clusterARN, infra.VPCCNINamespace, infra.VPCCNIServiceAccount), true},
				{"its session tags", "sts:TagSession", cniRole, podSession(clusterARN, infra.VPCCNINamespace, infra.VPCCNIServiceAccount), true},
				{"another ServiceAccount of kube-system", "sts:AssumeRole", cniRole, podSession(clusterARN, infra.VPCCNINamespace, "coredns"), false},
				{"aws-node's name in a tenant's namespace", "sts:AssumeRole", cniRole, podSession(clusterARN, "shop", infra.VPCCNIServiceAccount), false},
				{"aws-node of another cluster", "sts:AssumeRole", cniRole,
					podSession(w.arn("eks", "cluster/another-cluster"), infra.VPCCNINamespace, infra.VPCCNIServiceAccount), false},
			} {
				row.why = stack + "/" + mode + "/VPC CNI trust: " + row.why
				rows = append(rows, row)
				sims = append(sims, iamSimulation{ID: row.why, Principal: infra.PodIdentityPrincipal, Action: row.action,
					Resource: row.resource, Account: plan.Account, Context: row.context, ResourcePolicy: trust})
			}
		}
	}
	assertDecisions(t, rows, iamEvaluate(t, sims, documents))
}
