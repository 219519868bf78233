package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
)

// awsManagedPolicies are the documents of the AWS managed policies the node role (infra.NodePolicies) and the
// cluster role hold, as the AWS Managed Policy Reference publishes them at their default version
// (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/<name>.html):
//   - AmazonEKSWorkerNodePolicy v3 (edited 2023-11-27)
//   - AmazonEKS_CNI_Policy v5 (edited 2024-03-04)
//   - AmazonEC2ContainerRegistryReadOnly v3 (edited 2019-12-10)
//   - AmazonEKSClusterPolicy v10 (edited 2026-02-12)
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
	"AmazonEKSClusterPolicy": `{"Version": "2012-10-17", "Statement": [{"Sid": "AmazonEKSClusterPolicy", "Effect": "Allow",
		"Action": ["autoscaling:DescribeAutoScalingGroups", "autoscaling:UpdateAutoScalingGroup", "ec2:AttachVolume",
			"ec2:AuthorizeSecurityGroupIngress", "ec2:CreateRoute", "ec2:CreateSecurityGroup", "ec2:CreateTags", "ec2:CreateVolume",
			"ec2:DeleteRoute", "ec2:DeleteSecurityGroup", "ec2:DeleteVolume", "ec2:DescribeInstances", "ec2:DescribeRouteTables",
			"ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVolumes", "ec2:DescribeVolumesModifications",
			"ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeAvailabilityZones",
			"ec2:DetachVolume", "ec2:ModifyInstanceAttribute", "ec2:ModifyVolume", "ec2:RevokeSecurityGroupIngress",
			"ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeInternetGateways", "ec2:DescribeInstanceTopology",
			"elasticloadbalancing:AddTags", "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
			"elasticloadbalancing:AttachLoadBalancerToSubnets", "elasticloadbalancing:ConfigureHealthCheck",
			"elasticloadbalancing:CreateListener", "elasticloadbalancing:CreateLoadBalancer",
			"elasticloadbalancing:CreateLoadBalancerListeners", "elasticloadbalancing:CreateLoadBalancerPolicy",
			"elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:DeleteLoadBalancer",
			"elasticloadbalancing:DeleteLoadBalancerListeners", "elasticloadbalancing:DeleteTargetGroup",
			"elasticloadbalancing:DeregisterInstancesFromLoadBalancer", "elasticloadbalancing:DeregisterTargets",
			"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeLoadBalancerAttributes",
			"elasticloadbalancing:DescribeLoadBalancerPolicies", "elasticloadbalancing:DescribeLoadBalancers",
			"elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetGroups",
			"elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DetachLoadBalancerFromSubnets",
			"elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyLoadBalancerAttributes",
			"elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
			"elasticloadbalancing:RegisterInstancesWithLoadBalancer", "elasticloadbalancing:RegisterTargets",
			"elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer", "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
			"kms:DescribeKey"], "Resource": "*"},
		{"Sid": "AmazonEKSClusterPolicySLRCreate", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
			"Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}},
		{"Sid": "AmazonEKSClusterPolicyENIDelete", "Effect": "Allow", "Action": "ec2:DeleteNetworkInterface", "Resource": "*",
			"Condition": {"StringEquals": {"ec2:ResourceTag/eks:eni:owner": "amazon-vpc-cni"}}}]}`,
}

// TestIAMEvaluation_nodeRoleIsItsManagedPoliciesUnderTheBoundary: the node role, its AWS managed policies intersected
// with the stack's boundary, may do what kubelet, the VPC CNI and image pulls need, and none of the rest: Pod
// Identity for another cluster, pushing images, node user data, the autoscaler's launch templates, writes outside
// network interfaces. Not in the table because both the managed CNI policy and the boundary allow it: network
// interface calls in another VPC of the account (docs/iam.md, "The VPC CNI still runs on the node role").
func TestIAMEvaluation_nodeRoleIsItsManagedPoliciesUnderTheBoundary(t *testing.T) {
	t.Parallel()
	var sims []iamSimulation
	var rows []iamRequest
	var documents []json.RawMessage
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		boundary := graphPolicy(t, r, "aws:iam/policy:Policy", "roles-policy", "policy")
		identity := attachedPolicies(t, r, "cluster-node-role-") // the plan's attachments, as the stack has them
		require.Len(t, identity, len(infra.NodePolicies), "by default the nodes hold all three, the VPC CNI's too")
		documents = append(append(documents, boundary), identity...)
		w := stackWorld(stack, cfg.Get("serviceName"))
		nodeRole := w.role(infra.NodeRoleName("cluster"))
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
			{"the stack's tag on an interface (the deploy role's reach)", "ec2:CreateTags", eni,
				map[string]any{"aws:RequestTag/" + infra.StackTagKey: projectName + "/" + stack, "aws:TagKeys": []string{infra.StackTagKey}}, false},
			{"terminating an instance", "ec2:TerminateInstances", instance, nil, false},
			{"resizing a group", "autoscaling:SetDesiredCapacity", w.arn("autoscaling", "autoScalingGroup:0ac6e1f0-1111-2222-3333-444455556666:autoScalingGroupName/eks-nodes"), nil, false},
			{"a key", "kms:Decrypt", w.arn("kms", "key/1111aaaa-own"), nil, false},
			{"a role", "iam:PassRole", w.iam("role/admin"), nil, false},
			{"another role", "sts:AssumeRole", w.iam("role/admin"), nil, false},
			{"a bucket", "s3:GetObject", "arn:aws:s3:::another-bucket/secret.txt", nil, false},
		}
		keyPolicy := json.RawMessage(r.one("aws:kms/key:Key", "cluster-logs-key").Str("policy"))
		rows, sims = underBoundary(rows, sims, stack+"/node role: ", nodeRole, identity, boundary, table,
			map[string]json.RawMessage{w.arn("kms", "key/1111aaaa-own"): keyPolicy})
	}
	assertDecisions(t, rows, iamEvaluate(t, sims, documents))
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
			w := stackWorld(stack, cfg.Get("serviceName"))
			nodeRole, cniRole := w.role(infra.NodeRoleName("cluster")), w.role("cluster-vpc-cni-role")
			node, cni := attachedPolicies(t, r, "cluster-node-role-"), attachedPolicies(t, r, "cluster-vpc-cni-policy")
			documents = append(append(append(documents, boundary), node...), cni...)
			eni := w.ec2("network-interface", "eni-0123456789abcdef0")
			instance := w.ec2("instance", "i-0123456789abcdef0")
			add := func(who, principal string, identity []json.RawMessage, table []iamRequest) {
				rows, sims = underBoundary(rows, sims, stack+"/"+mode+"/"+who+": ", principal, identity, boundary, table, nil)
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

// TestIAMEvaluation_clusterRoleIsItsManagedPolicyUnderTheBoundary: the cluster role, AmazonEKSClusterPolicy (as
// attached in the plan) intersected with the stack's boundary, may do what the control plane does for the cluster:
// load balancers and their security groups for Services of type LoadBalancer, the VPC CNI's leftover interfaces, the
// reads. It may not do what the managed policy grants beyond that and the boundary takes away (resizing Auto Scaling
// groups), nor anything an attacker holding it would want: instances, keys, roles, the cluster itself, peering,
// snapshots, logs, data. Its trust admits EKS and nothing else. The last rows pin what both still allow across the
// account (docs/iam.md, "Proven by evaluation"): a change of either shows here.
func TestIAMEvaluation_clusterRoleIsItsManagedPolicyUnderTheBoundary(t *testing.T) {
	t.Parallel()
	var sims []iamSimulation
	var rows []iamRequest
	var documents []json.RawMessage
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		boundary := graphPolicy(t, r, "aws:iam/policy:Policy", "roles-policy", "policy")
		identity := attachedPolicies(t, r, "cluster-service-role-")
		trust := graphPolicy(t, r, "aws:iam/role:Role", "cluster-service-role", "assumeRolePolicy")
		keyPolicy := json.RawMessage(r.one("aws:kms/key:Key", "cluster-secrets-key").Str("policy"))
		documents = append(append(documents, boundary, trust, keyPolicy), identity...)
		w := stackWorld(stack, cfg.Get("serviceName"))
		clusterRole := w.role("cluster-service-role")
		elb := func(resource string) string { return w.arn("elasticloadbalancing", resource) }
		lb := elb("loadbalancer/a1b2c3d4e5f60718293a4b5c6d7e8f90")
		nlb := elb("loadbalancer/net/a0b1c2d3e4f5061728394a5b6c7d8e9f/0123456789abcdef")
		targets := elb("targetgroup/k8s-shop-web-1a2b3c4d5e/0123456789abcdef")
		sg := w.ec2("security-group", "sg-0123456789abcdef0")
		eni := w.ec2("network-interface", "eni-0123456789abcdef0")
		instance := w.ec2("instance", "i-0123456789abcdef0")
		key := w.arn("kms", "key/1111aaaa-own")
		slr := func(service, name string) string { return w.iam("role/aws-service-role/" + service + "/" + name) }
		nodesASG := w.arn("autoscaling", "autoScalingGroup:0ac6e1f0-1111-2222-3333-444455556666:autoScalingGroupName/eks-nodes-4f2a-0ac6e1f0")
		otherASG := w.arn("autoscaling", "autoScalingGroup:1ac6e1f0-1111-2222-3333-444455556666:autoScalingGroupName/batch-workers")
		table := []iamRequest{
			{"the nodes", "ec2:DescribeInstances", "*", nil, true},
			{"the subnets", "ec2:DescribeSubnets", "*", nil, true},
			{"the secrets key", "kms:DescribeKey", key, nil, true},
			{"a Service's load balancer", "elasticloadbalancing:CreateLoadBalancer", lb, nil, true},
			{"its tags", "elasticloadbalancing:AddTags", lb, nil, true},
			{"its nodes", "elasticloadbalancing:RegisterInstancesWithLoadBalancer", lb, nil, true},
			{"a network load balancer's listener", "elasticloadbalancing:CreateListener", nlb, nil, true},
			{"its target group", "elasticloadbalancing:CreateTargetGroup", targets, nil, true},
			{"its targets", "elasticloadbalancing:RegisterTargets", targets, nil, true},
			{"the Service's removal", "elasticloadbalancing:DeleteLoadBalancer", lb, nil, true},
			{"the load balancer's security group", "ec2:CreateSecurityGroup", sg, nil, true},
			{"in the cluster's VPC", "ec2:CreateSecurityGroup", w.ec2("vpc", "vpc-0123456789abcdef0"), nil, true},
			{"its rules", "ec2:AuthorizeSecurityGroupIngress", sg, nil, true},
			{"its tags", "ec2:CreateTags", sg, map[string]any{"aws:TagKeys": []string{"kubernetes.io/cluster/" + w.cluster}}, true},
			{"its tags, as it is created", "ec2:CreateTags", sg,
				map[string]any{"ec2:CreateAction": "CreateSecurityGroup", "aws:TagKeys": []string{"kubernetes.io/cluster/" + w.cluster}}, true},
			{"a load balancer's tags, as it is created", "elasticloadbalancing:AddTags", nlb, map[string]any{
				"elasticloadbalancing:CreateAction": "CreateLoadBalancer", "aws:TagKeys": []string{"kubernetes.io/cluster/" + w.cluster}}, true},
			{"the cluster's tag on a node (the tagging controller)", "ec2:CreateTags", instance,
				map[string]any{"aws:TagKeys": []string{"kubernetes.io/cluster/" + w.cluster}}, true},
			{"the load balancers' service-linked role", "iam:CreateServiceLinkedRole",
				slr("elasticloadbalancing.amazonaws.com", "AWSServiceRoleForElasticLoadBalancing"),
				map[string]any{"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}, true},
			{"an interface the VPC CNI left behind", "ec2:DeleteNetworkInterface", eni,
				map[string]any{"ec2:ResourceTag/eks:eni:owner": "amazon-vpc-cni"}, true},

			{"another service's service-linked role", "iam:CreateServiceLinkedRole",
				slr("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling"), map[string]any{"iam:AWSServiceName": "autoscaling.amazonaws.com"}, false},
			{"an interface the CNI does not own", "ec2:DeleteNetworkInterface", eni, nil, false},
			{"resizing this cluster's nodes (the autoscaler's job, by capacity)", "autoscaling:UpdateAutoScalingGroup", nodesASG,
				map[string]any{"aws:ResourceTag/" + infra.AutoscalerDiscoveryTag(w.cluster): "owned"}, false},
			{"another cluster's nodes", "autoscaling:SetDesiredCapacity", nodesASG,
				map[string]any{"aws:ResourceTag/" + infra.AutoscalerDiscoveryTag("another-cluster"): "owned"}, false},
			{"an instance's attributes (user data, security groups)", "ec2:ModifyInstanceAttribute", instance, nil, false},
			{"attaching a volume", "ec2:AttachVolume", w.ec2("volume", "vol-0123456789abcdef0"), nil, false},
			{"deleting a volume", "ec2:DeleteVolume", w.ec2("volume", "vol-0123456789abcdef0"), nil, false},
			{"a route", "ec2:CreateRoute", w.ec2("route-table", "rtb-0123456789abcdef0"), nil, false},
			{"tagging an instance", "ec2:CreateTags", instance, map[string]any{"aws:TagKeys": []string{"owner"}}, false},
			{"tagging a VPC", "ec2:CreateTags", w.ec2("vpc", "vpc-0fedcba9876543210"), nil, false},
			{"the stack's tag, spelled otherwise", "ec2:CreateTags", sg, map[string]any{"aws:TagKeys": []string{"Platform/Stack"}}, false},
			{"the stack's tag among the cluster's", "ec2:CreateTags", sg,
				map[string]any{"aws:TagKeys": []string{"kubernetes.io/cluster/" + w.cluster, infra.StackTagKey}}, false},
			{"the stack's tag on a new security group", "ec2:CreateTags", sg,
				map[string]any{"ec2:CreateAction": "CreateSecurityGroup", "aws:TagKeys": []string{infra.StackTagKey}}, false},
			{"the stack's tag on a new load balancer", "elasticloadbalancing:AddTags", lb,
				map[string]any{"elasticloadbalancing:CreateAction": "CreateLoadBalancer", "aws:TagKeys": []string{infra.StackTagKey}}, false},
			{"the stack's tag on a security group (the deploy role's reach)", "ec2:CreateTags", sg,
				map[string]any{"aws:RequestTag/" + infra.StackTagKey: projectName + "/" + stack, "aws:TagKeys": []string{infra.StackTagKey}}, false},
			{"the stack's tag on a load balancer", "elasticloadbalancing:AddTags", lb,
				map[string]any{"aws:RequestTag/" + infra.StackTagKey: projectName + "/" + stack, "aws:TagKeys": []string{infra.StackTagKey}}, false},
			{"resizing another workload's group", "autoscaling:UpdateAutoScalingGroup", otherASG, nil, false},
			{"terminating an instance", "ec2:TerminateInstances", instance, nil, false},
			{"launching an instance", "ec2:RunInstances", instance, nil, false},
			{"node user data", "ec2:DescribeInstanceAttribute", instance, nil, false},
			{"a key's deletion", "kms:ScheduleKeyDeletion", key, nil, false},
			{"a key's policy", "kms:PutKeyPolicy", key, nil, false},
			{"a grant", "kms:CreateGrant", key, nil, false},
			{"a role", "iam:PassRole", w.iam("role/admin"), nil, false},
			{"another role", "sts:AssumeRole", w.iam("role/admin"), nil, false},
			{"deleting the cluster", "eks:DeleteCluster", w.arn("eks", "cluster/"+w.cluster), nil, false},
			{"an access entry", "eks:CreateAccessEntry", w.arn("eks", "cluster/"+w.cluster), nil, false},
			{"a VPC", "ec2:DeleteVpc", w.ec2("vpc", "vpc-0123456789abcdef0"), nil, false},
			{"a peering", "ec2:CreateVpcPeeringConnection", w.ec2("vpc", "vpc-0123456789abcdef0"), nil, false},
			{"sharing a snapshot", "ec2:ModifySnapshotAttribute", "arn:aws:ec2:" + plan.Region + "::snapshot/snap-0123456789abcdef0", nil, false},
			{"a log group", "logs:DeleteLogGroup", w.arn("logs", "log-group:"+infra.ClusterLogGroupName(w.cluster)), nil, false},
			{"a bucket", "s3:GetObject", "arn:aws:s3:::another-bucket/secret.txt", nil, false},
			{"a secret", "secretsmanager:GetSecretValue", w.arn("secretsmanager", "secret:prod/db-AbCdEf"), nil, false},

			// Known reach, both documents name `*` (docs/iam.md): Kubernetes does not tag every object it creates.
			{"known reach: another VPC's security group rules", "ec2:RevokeSecurityGroupIngress", w.ec2("security-group", "sg-0fedcba9876543210"), nil, true},
			{"known reach: another workload's load balancer", "elasticloadbalancing:DeleteLoadBalancer", elb("loadbalancer/app/billing/0fedcba987654321"), nil, true},
			{"known reach: its listeners", "elasticloadbalancing:ModifyListener", elb("listener/app/billing/0fedcba987654321/0123456789abcdef"), nil, true},
			{"known reach: a cluster tag on any instance of the account", "ec2:CreateTags", w.ec2("instance", "i-0fedcba9876543210"),
				map[string]any{"aws:TagKeys": []string{"kubernetes.io/cluster/another-cluster"}}, true},
			{"known reach: another workload's security group", "ec2:DeleteSecurityGroup", w.ec2("security-group", "sg-0fedcba9876543210"), nil, true},
			{"known reach: the VPC CNI's owner tag on any interface, which makes it deletable", "ec2:CreateTags", eni,
				map[string]any{"aws:RequestTag/eks:eni:owner": "amazon-vpc-cni", "aws:TagKeys": []string{"eks:eni:owner"}}, true},
		}
		rows, sims = underBoundary(rows, sims, stack+"/cluster role: ", clusterRole, identity, boundary, table,
			map[string]json.RawMessage{key: keyPolicy})
		for _, row := range []iamRequest{
			{"EKS", "sts:AssumeRole", "eks.amazonaws.com", nil, true},
			{"EC2", "sts:AssumeRole", "ec2.amazonaws.com", nil, false},
			{"EKS Pod Identity", "sts:AssumeRole", infra.PodIdentityPrincipal, nil, false},
			{"a role of the account", "sts:AssumeRole", w.iam("role/admin"), nil, false},
			{"another account", "sts:AssumeRole", "arn:aws:iam::210987654321:root", nil, false},
			{"session tags (EKS Auto Mode's, not this cluster's)", "sts:TagSession", "eks.amazonaws.com", nil, false},
		} {
			principal := row.resource
			row.why, row.resource = stack+"/cluster role trust: "+row.why, clusterRole
			rows = append(rows, row)
			sims = append(sims, iamSimulation{ID: row.why, Principal: principal, Action: row.action, Resource: clusterRole,
				Account: plan.Account, Context: map[string]any{}, ResourcePolicy: trust})
		}
	}
	assertDecisions(t, rows, iamEvaluate(t, sims, documents))
}

// underBoundary adds a role's table to rows and sims: each request by the role (its ARN as aws:PrincipalArn, with the
// row's context) under its identity policies and boundary, and, for a resource with a policy of its own (a KMS key,
// whose policy KMS asks first), that policy.
func underBoundary(rows []iamRequest, sims []iamSimulation, prefix, principal string, identity []json.RawMessage,
	boundary json.RawMessage, table []iamRequest, resourcePolicies map[string]json.RawMessage) ([]iamRequest, []iamSimulation) {
	for _, row := range table {
		row.why = prefix + row.why
		rows = append(rows, row)
		sims = append(sims, iamSimulation{ID: row.why, Principal: principal, Action: row.action, Resource: row.resource,
			Account: plan.Account, Context: with(map[string]any{"aws:PrincipalArn": principal}, flatten(row.context)...),
			Identity: identity, Boundary: []json.RawMessage{boundary}, ResourcePolicy: resourcePolicies[row.resource]})
	}
	return rows, sims
}

// flatten turns a context map into with's key, value list.
func flatten(m map[string]any) []any {
	var kv []any
	for k, v := range m {
		kv = append(kv, k, v)
	}
	return kv
}
