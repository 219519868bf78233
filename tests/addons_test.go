package tests

// What runs in the cluster for every workload: EKS managed add-ons that follow the Kubernetes version, the
// Cluster Autoscaler with its Pod Identity role, and the service's own optional AWS identity.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

const (
	addonTy       = "aws:eks/addon:Addon"
	associationTy = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
	roleTy        = "aws:iam/role:Role"
	rolePolicyTy  = "aws:iam/rolePolicy:RolePolicy"
)

// addonsBeforeNodes are DaemonSets nodes need to become Ready; addonsAfterNodes are Deployments that need nodes.
var (
	addonsBeforeNodes = []string{"vpc-cni", "kube-proxy", "eks-pod-identity-agent"}
	addonsAfterNodes  = []string{"coredns", "metrics-server"}
)

func addonNamed(t *testing.T, r *run, name string) *record {
	t.Helper()
	var found []*record
	for _, a := range r.all(addonTy) {
		if a.Str("addonName") == name {
			found = append(found, a)
		}
	}
	require.Lenf(t, found, 1, "one %s add-on in stack %s", name, r.stack)
	return found[0]
}

// TestAddons_eachRunsAtAVersionResolvedForTheClustersKubernetesVersion: for every supported version, every add-on
// is an EKS managed add-on whose version was resolved for that version, and the autoscaler's chart is the one
// built for it. A version bump therefore moves them all in one update.
func TestAddons_eachRunsAtAVersionResolvedForTheClustersKubernetesVersion(t *testing.T) {
	t.Parallel()
	require.Equal(t, infra.KubernetesVersionNames(), stacks.SupportedKubernetesVersions, "every version of the EKS calendar")
	for _, stack := range stackNames {
		for _, version := range stacks.SupportedKubernetesVersions {
			t.Run(stack+"/"+version, func(t *testing.T) {
				cfg := fixtureConfig(t, stack)
				cfg.Set("kubernetesVersion", version)
				r := runStack(t, stack, cfg).ok()
				assert.Len(t, r.all(addonTy), len(addonsBeforeNodes)+len(addonsAfterNodes), "exactly these add-ons")
				cluster := r.single(eksClusterTy)
				assert.Equal(t, version, cluster.Str("version"))
				for _, name := range append(slices.Clone(addonsBeforeNodes), addonsAfterNodes...) {
					a := addonNamed(t, r, name)
					assert.Equal(t, plan.AddonVersion(name, version), a.Str("addonVersion"),
						"%s runs the version getAddonVersion resolved for itself and Kubernetes %s", name, version)
					assert.Equal(t, "OVERWRITE", a.Str("resolveConflictsOnCreate"), "%s adopts what EKS installed", name)
					assert.Equal(t, "OVERWRITE", a.Str("resolveConflictsOnUpdate"), name)
					assert.True(t, r.dependsOn(a, cluster), "%s names the cluster through its output", name)
				}
				assert.Contains(t, r.invokes, "aws:eks/getAddonVersion:getAddonVersion")
				mostRecent := r.result.InvokeArgs["aws:eks/getAddonVersion:getAddonVersion"]["mostRecent"]
				assert.True(t, mostRecent.IsBool() && mostRecent.BoolValue(), "the newest version EKS publishes for the Kubernetes version")
				ca := r.one(releaseTy, "addons-autoscaler")
				row, ok := infra.LookupKubernetesVersion(version)
				require.True(t, ok)
				assert.Equal(t, row.AutoscalerChart, ca.Str("version"))
				tag := ca.Str("values.image.tag")
				assert.Equal(t, row.AutoscalerImageTag, tag)
				assert.Truef(t, strings.HasPrefix(tag, "v"+version+"."), "the autoscaler %s is built for Kubernetes %s (it must match the minor version)", tag, version)
			})
		}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestAddons_comeInTheOrderEKSNeeds: the DaemonSets nodes need come before the nodegroup (and so, on a version
// bump, upgrade after the control plane and before the nodes); the Deployments come after it (created earlier,
// EKS reports them DEGRADED until it times out); whatever runs workloads comes after DNS and the metrics API and
// is deleted before them; the autoscaler starts only once its Pod Identity association exists.
func TestAddons_comeInTheOrderEKSNeeds(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		nodes := r.single(nodeGroupTy)
		for _, name := range addonsBeforeNodes {
			a := addonNamed(t, r, name)
			assert.Contains(t, nodes.Dependencies, a.URN, "the nodegroup waits for %s", name)
			assert.False(t, r.dependsOnTransitively(a, nodes), "%s does not wait for nodes", name)
		}
		argocd := r.one(releaseTy, "gitops-argocd")
		ca := r.one(releaseTy, "addons-autoscaler")
		for _, name := range addonsAfterNodes {
			a := addonNamed(t, r, name)
			assert.Contains(t, a.Dependencies, nodes.URN, "%s waits for the nodes", name)
			for _, w := range []*record{argocd, r.one(namespaceTy, "gitops-argocd-ns"), r.one(namespaceTy, "gitops-service-ns")} {
				assert.Contains(t, w.Dependencies, a.URN, "%s waits for %s, and is deleted before it", w.Name, name)
			}
		}
		assert.Contains(t, ca.Dependencies, addonNamed(t, r, "coredns").URN, "the autoscaler resolves AWS endpoints through CoreDNS")
		assert.Contains(t, ca.Dependencies, r.one(associationTy, "addons-autoscaler-association").URN,
			"pods get Pod Identity credentials only if the association exists when they start")
		assert.Contains(t, r.one(associationTy, "addons-autoscaler-association").Dependencies,
			r.one(rolePolicyTy, "addons-autoscaler-policy").URN, "the association once the role may do its job")
		assert.Equal(t, r.single(k8sProvTy).URN, providerURN(ca.Provider), "the autoscaler through the stack's Kubernetes provider")
	}
}

// TestAutoscaler_scalesThisClustersNodegroupUpToItsMaxSize: the autoscaler finds the nodegroup by the tags EKS puts
// on its Auto Scaling group, limits itself to nothing smaller than the group's own min and max (it sets no --nodes
// or total limit of its own), and its role and the boundary both allow the scaling writes on exactly that group.
func TestAutoscaler_scalesThisClustersNodegroupUpToItsMaxSize(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		cluster := "eks-gitops-platform-" + stack
		nodes := r.single(nodeGroupTy)
		assert.Equal(t, float64(mustAtoi(t, cfg.Get("nodeMaxSize"))), nodes.In("scalingConfig.maxSize"))
		assert.Equal(t, float64(mustAtoi(t, cfg.Get("nodeMinSize"))), nodes.In("scalingConfig.minSize"))
		assert.Contains(t, nodes.IgnoreChanges, "scalingConfig.desiredSize", "pulumi up never undoes the autoscaler")

		ca := r.one(releaseTy, "addons-autoscaler")
		assert.Equal(t, "cluster-autoscaler", ca.Str("chart"))
		assert.Equal(t, "https://kubernetes.github.io/autoscaler", ca.Str("repositoryOpts.repo"))
		assert.Equal(t, "kube-system", ca.Str("namespace"))
		assert.Equal(t, "aws", ca.Str("values.cloudProvider"))
		assert.Equal(t, cluster, ca.Str("values.autoDiscovery.clusterName"), "discovers the groups tagged k8s.io/cluster-autoscaler/<cluster>")
		assert.Nil(t, ca.In("values.autoDiscovery.tags"), "the chart's default tags: enabled and <cluster>, which EKS sets")
		assert.Equal(t, plan.Region, ca.Str("values.awsRegion"))
		args, _ := ca.In("values.extraArgs").(map[string]any)
		for _, limit := range []string{"nodes", "max-nodes-total", "cores-total", "memory-total"} {
			assert.NotContains(t, args, limit, "no limit below the nodegroup's own max size")
		}
		assert.Equal(t, "least-waste", args["expander"])
		assert.Equal(t, true, ca.In("values.rbac.serviceAccount.create"))
		association := r.one(associationTy, "addons-autoscaler-association")
		assert.Equal(t, ca.Str("values.rbac.serviceAccount.name"), association.Str("serviceAccount"), "the association names the chart's ServiceAccount")
		assert.Equal(t, ca.Str("namespace"), association.Str("namespace"))
		assert.Equal(t, true, ca.In("values.securityContext.runAsNonRoot"))
		assert.Equal(t, false, ca.In("values.containerSecurityContext.allowPrivilegeEscalation"))
		assert.Equal(t, true, ca.In("values.containerSecurityContext.readOnlyRootFilesystem"))

		// Its role: the documented policy, the writes on this cluster's managed nodegroup groups only.
		role := r.one(roleTy, "addons-autoscaler-role")
		assert.Equal(t, "/eks-gitops-platform/"+stack+"/", role.Str("path"))
		assert.Contains(t, role.PropertyDeps["permissionsBoundary"], r.one("aws:iam/policy:Policy", "roles-policy").URN)
		assert.Contains(t, association.PropertyDeps["roleArn"], role.URN)
		trust := jsonInput[map[string]any](t, role, "assumeRolePolicy")
		st := asSlice(trust["Statement"])[0].(map[string]any)
		assert.Equal(t, []any{"pods.eks.amazonaws.com"}, st["Principal"].(map[string]any)["Service"])
		assert.ElementsMatch(t, []any{"sts:AssumeRole", "sts:TagSession"}, st["Action"])
		assert.Equal(t, map[string]any{"StringEquals": map[string]any{
			"aws:RequestTag/eks-cluster-arn":            []any{"arn:aws:eks:" + plan.Region + ":" + plan.Account + ":cluster/" + cluster},
			"aws:RequestTag/kubernetes-namespace":       []any{"kube-system"},
			"aws:RequestTag/kubernetes-service-account": []any{"cluster-autoscaler"},
		}}, st["Condition"])

		policy := jsonInput[map[string]any](t, r.one(rolePolicyTy, "addons-autoscaler-policy"), "policy")
		granted := map[string][]string{} // action -> resources
		conditions := map[string]any{}
		for _, s := range asSlice(policy["Statement"]) {
			st := s.(map[string]any)
			require.Equal(t, "Allow", st["Effect"])
			for _, a := range asSlice(st["Action"]) {
				for _, res := range asSlice(st["Resource"]) {
					granted[a.(string)] = append(granted[a.(string)], res.(string))
				}
				conditions[a.(string)] = st["Condition"]
			}
		}
		// Cluster Autoscaler's AWS documentation (cloudprovider/aws/README.md, "Full Cluster Autoscaler Features
		// Policy (Recommended)"): these reads, and the two writes.
		documented := []string{"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
			"autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities", "ec2:DescribeImages",
			"ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
			"eks:DescribeNodegroup", "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
		assert.ElementsMatch(t, documented, slices.Collect(mapsKeys(granted)), "exactly what the documentation lists")
		groups := "arn:aws:autoscaling:" + plan.Region + ":" + plan.Account + ":autoScalingGroup:*:autoScalingGroupName/eks-*"
		tagged := map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/k8s.io/cluster-autoscaler/" + cluster: []any{"owned"}}}
		for _, w := range []string{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"} {
			assert.Equal(t, []string{groups}, granted[w], "%s on managed nodegroups' groups only", w)
			assert.Equal(t, tagged, conditions[w], "%s on this cluster's groups only", w)
		}
		assert.Equal(t, []string{"arn:aws:eks:" + plan.Region + ":" + plan.Account + ":nodegroup/" + cluster + "/*"}, granted["eks:DescribeNodegroup"])

		// The boundary lets the same writes through, under the same condition.
		boundary := jsonInput[map[string]any](t, r.one("aws:iam/policy:Policy", "roles-policy"), "policy")
		var scales bool
		for _, s := range asSlice(boundary["Statement"]) {
			st := s.(map[string]any)
			if st["Effect"] == "Allow" && slices.Contains(asSlice(st["Action"]), any("autoscaling:SetDesiredCapacity")) {
				scales = true
				assert.Equal(t, tagged, st["Condition"])
				assert.Equal(t, []any{groups}, st["Resource"])
				assert.Contains(t, asSlice(st["Action"]), any("autoscaling:TerminateInstanceInAutoScalingGroup"))
			}
		}
		assert.True(t, scales, "the boundary allows the autoscaler's writes")
	}
}

// TestAutoscaler_prodRunsTwoReplicasOnDifferentNodes: one replica is active (leader election), the other takes
// over when its node goes; the chart's disruption budget keeps one running through node drains.
func TestAutoscaler_prodRunsTwoReplicasOnDifferentNodes(t *testing.T) {
	t.Parallel()
	dev := runStack(t, "dev", fixtureConfig(t, "dev")).ok().one(releaseTy, "addons-autoscaler")
	prod := runStack(t, "prod", fixtureConfig(t, "prod")).ok().one(releaseTy, "addons-autoscaler")
	assert.Equal(t, float64(1), dev.In("values.replicaCount"))
	assert.Nil(t, dev.In("values.topologySpreadConstraints"))
	assert.Equal(t, float64(2), prod.In("values.replicaCount"))
	spread := asSlice(prod.In("values.topologySpreadConstraints"))
	require.Len(t, spread, 1)
	c := spread[0].(map[string]any)
	assert.Equal(t, "kubernetes.io/hostname", c["topologyKey"])
	assert.Equal(t, "DoNotSchedule", c["whenUnsatisfiable"])
	// The labels the chart puts on its pods: app.kubernetes.io/instance is the release, name aws-cluster-autoscaler.
	assert.Equal(t, map[string]any{"app.kubernetes.io/instance": "cluster-autoscaler", "app.kubernetes.io/name": "aws-cluster-autoscaler"},
		c["labelSelector"].(map[string]any)["matchLabels"])
	assert.Equal(t, "cluster-autoscaler", prod.Str("name"), "the release name the labels name")
}

// serviceStatements is a typical configuration: read one bucket's objects, publish metrics.
var serviceStatements = []any{
	map[string]any{"Sid": "ReadAssets", "Effect": "Allow", "Action": []any{"s3:GetObject"}, "Resource": []any{"arn:aws:s3:::acme-assets/*"}},
	map[string]any{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
		"Condition": map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": "Shop"}}},
}

// TestServiceIdentity_existsOnlyWhenConfigured: without serviceIamStatements there is no role; with them, a role
// under the stack's path and boundary, trusted by Pod Identity for the service's ServiceAccount alone, holding
// exactly the configured statements, associated with that ServiceAccount before Argo CD deploys the service.
func TestServiceIdentity_existsOnlyWhenConfigured(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		for _, role := range r.all(roleTy) {
			assert.NotContains(t, role.Name, "service-identity", "no service role without statements")
		}
		assert.Len(t, r.all(associationTy), 1, "the autoscaler's association alone")
		_, annotated := helmParameter(r.single(applicationTy), "podAnnotations."+infra.ServiceRoleAnnotation)
		assert.False(t, annotated, "no role to annotate the pods with")
		assert.NotContains(t, r.outputs, stacks.OutputServiceRoleARN)

		cfg := fixtureConfig(t, stack)
		cfg.Set("serviceIamStatements", serviceStatements)
		r = runStack(t, stack, cfg).ok()
		role := r.one(roleTy, "service-identity-role")
		assert.Equal(t, "/eks-gitops-platform/"+stack+"/", role.Str("path"))
		serviceBoundary := r.one("aws:iam/policy:Policy", "service-roles-policy")
		assert.Equal(t, []string{serviceBoundary.URN}, role.PropertyDeps["permissionsBoundary"], "a boundary of its own")
		trust := jsonInput[map[string]any](t, role, "assumeRolePolicy")
		cond := asSlice(trust["Statement"])[0].(map[string]any)["Condition"].(map[string]any)["StringEquals"].(map[string]any)
		assert.Equal(t, []any{"your-service"}, cond["aws:RequestTag/kubernetes-namespace"])
		assert.Equal(t, []any{"your-service"}, cond["aws:RequestTag/kubernetes-service-account"])
		assert.Equal(t, []any{"arn:aws:eks:" + plan.Region + ":" + plan.Account + ":cluster/eks-gitops-platform-" + stack}, cond["aws:RequestTag/eks-cluster-arn"])

		policy := jsonInput[map[string]any](t, r.one(rolePolicyTy, "service-identity-policy"), "policy")
		got, _ := json.Marshal(policy["Statement"])
		want, _ := json.Marshal([]any{
			map[string]any{"Sid": "ReadAssets", "Effect": "Allow", "Action": []any{"s3:GetObject"}, "Resource": []any{"arn:aws:s3:::acme-assets/*"}},
			map[string]any{"Effect": "Allow", "Action": []any{"cloudwatch:PutMetricData"}, "Resource": []any{"*"},
				"Condition": map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": []any{"Shop"}}}},
		})
		assert.JSONEq(t, string(want), string(got), "exactly the configured statements")

		association := r.one(associationTy, "service-identity-association")
		assert.Equal(t, "your-service", association.Str("namespace"))
		assert.Equal(t, "your-service", association.Str("serviceAccount"), "the ServiceAccount the service chart renders (its release name)")
		assert.Contains(t, association.PropertyDeps["roleArn"], role.URN)
		assert.Contains(t, r.single(applicationTy).Dependencies, association.URN, "Argo CD deploys the service once it has credentials")
		assert.Equal(t, "your-service", r.single(applicationTy).Str("spec.source.helm.releaseName"), "which names the ServiceAccount")
		assert.Contains(t, r.outputs, stacks.OutputServiceRoleARN)

		// Its boundary lets exactly its Allow statements through, and denies IAM changes; the stack's boundary,
		// which every other role carries, grants none of it.
		boundary := jsonInput[map[string]any](t, serviceBoundary, "policy")
		var allowed []any
		for _, st := range asSlice(boundary["Statement"]) {
			st := st.(map[string]any)
			if st["Effect"] == "Allow" {
				allowed = append(allowed, map[string]any{"Action": st["Action"], "Resource": st["Resource"]})
			} else {
				assert.Equal(t, "*", asSlice(st["Resource"])[0])
			}
		}
		assert.Equal(t, []any{
			map[string]any{"Action": []any{"s3:GetObject"}, "Resource": []any{"arn:aws:s3:::acme-assets/*"}},
			map[string]any{"Action": []any{"cloudwatch:PutMetricData"}, "Resource": []any{"*"}},
		}, allowed)
		shared, err := json.Marshal(r.one("aws:iam/policy:Policy", "roles-policy").In("policy"))
		require.NoError(t, err)
		assert.NotContains(t, string(shared), "s3:GetObject")
		assert.NotContains(t, string(shared), "cloudwatch:PutMetricData")

		// A new or changed role rolls the pods: Pod Identity gives credentials only to pods started after it.
		param, ok := helmParameter(r.single(applicationTy), "podAnnotations."+infra.ServiceRoleAnnotation)
		require.True(t, ok)
		assert.Equal(t, map[string]any{"name": "podAnnotations.platform/service-role", "value": r.outputs[stacks.OutputServiceRoleARN].Value,
			"forceString": true}, param)
	}
}

// TestServiceChart_rendersTheServiceAccountThePlatformAssociates: the reference chart, rendered by helm as Argo CD
// renders it (release name = the service name), creates the ServiceAccount the Pod Identity association names,
// and its pods run as it.
func TestServiceChart_rendersTheServiceAccountThePlatformAssociates(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.Set("serviceIamStatements", serviceStatements)
	r := runStack(t, "dev", cfg).ok()
	association := r.one(associationTy, "service-identity-association")
	app := r.single(applicationTy)
	require.Equal(t, kitRelease, app.Str("spec.source.helm.releaseName"))
	require.Equal(t, kitNamespace, app.Str("spec.destination.namespace"))

	objs := kitRender(t, kitPath(t, kitChartDir))
	sa := objs.one(t, "ServiceAccount")
	assert.Equal(t, association.Str("serviceAccount"), sa.Metadata.Name)
	assert.Equal(t, association.Str("namespace"), sa.Metadata.Namespace)
	assert.Equal(t, association.Str("serviceAccount"), kitDeploymentOf(t, objs).Spec.Template.Spec.ServiceAccountName)

	// The Application's Helm parameter lands on the pod template, so a new role rolls the pods.
	param, ok := helmParameter(app, "podAnnotations."+infra.ServiceRoleAnnotation)
	require.True(t, ok)
	role := "arn:aws:iam::123456789012:role/eks-gitops-platform/dev/service-identity-role-1a2b3c4"
	d := kitDeploymentOf(t, kitRender(t, kitPath(t, kitChartDir), "--set-string", param["name"].(string)+"="+role))
	assert.Equal(t, role, d.Spec.Template.Metadata.Annotations["platform/service-role"])
}

// helmParameter is the Application's Helm parameter of that name.
func helmParameter(app *record, name string) (map[string]any, bool) {
	for _, p := range asSlice(app.In("spec.source.helm.parameters")) {
		if m, ok := p.(map[string]any); ok && m["name"] == name {
			return m, true
		}
	}
	return nil, false
}

// TestAPIKeyRotation_updatesTheSecretInPlaceAndRollsThePods: the program's Kubernetes provider updates a Secret
// whose data changes in place (pulumi-kubernetes replaces it otherwise, and a protected one cannot be replaced),
// and the service's pods carry the Secret's resourceVersion as an annotation through the Application, so a new key
// changes the pod template: the reference chart renders the parameter onto it, and the Deployment rolls. The
// real-engine test of a prod rotation is tests/engine TestRotation_prodAPIKeyIsUpdatedInPlaceAndRollsThePods.
func TestAPIKeyRotation_updatesTheSecretInPlaceAndRollsThePods(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		prov := r.single(k8sProvTy)
		assert.Equal(t, true, prov.In("enableSecretMutable"), "a changed Secret is updated, not replaced")
		secret := r.one("kubernetes:core/v1:Secret", "gitops-api-key")
		app := r.single(applicationTy)
		param, ok := helmParameter(app, "podAnnotations."+infra.APIKeyVersionAnnotation)
		require.True(t, ok, "the pods follow the API key Secret")
		assert.Equal(t, "resource-version-1", param["value"], "the Secret's resourceVersion, as the API server returns it")
		assert.Equal(t, true, param["forceString"])
		assert.True(t, r.dependsOn(app, secret), "the Application waits for the Secret it reads")
	}
	objs := kitRender(t, kitPath(t, kitChartDir), "--set-string", "podAnnotations."+infra.APIKeyVersionAnnotation+"=42")
	assert.Equal(t, "42", kitDeploymentOf(t, objs).Spec.Template.Metadata.Annotations[infra.APIKeyVersionAnnotation],
		"the annotation lands on the pod template")
}

// serviceStatementCases are configurations the program refuses, each with the key and index it names.
var serviceStatementCases = []struct {
	name string
	set  any
	want []string
}{
	{"not a list", "s3:GetObject", []string{"serviceIamStatements: must be a list of IAM statements"}},
	{"reads every bucket", []any{map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}},
		[]string{`serviceIamStatements[0].Resource: is "*", which lets s3:GetObject reach every resource`, "name the resources by ARN"}},
	{"every action of a service", []any{map[string]any{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}},
		[]string{`serviceIamStatements[0].Action: "s3:*" grants every action of s3`}},
	{"passes roles", []any{map[string]any{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/x"}},
		[]string{`serviceIamStatements[0].Action: "iam:PassRole" changes IAM or assumes roles`}},
	{"assumes roles", []any{map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::123456789012:role/x"}},
		[]string{`serviceIamStatements[0].Action: "sts:AssumeRole" changes IAM or assumes roles`}},
	{"changes the cluster", []any{map[string]any{"Effect": "Allow", "Action": "eks:UpdateClusterConfig", "Resource": "arn:aws:eks:us-east-1:123456789012:cluster/x"}},
		[]string{`serviceIamStatements[0].Action: "eks:UpdateClusterConfig" changes the cluster`}},
	{"NotAction", []any{map[string]any{"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}},
		[]string{"serviceIamStatements[0]: has NotAction", "serviceIamStatements[0].Action: is required"}},
	{"a principal", []any{map[string]any{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}},
		[]string{"serviceIamStatements[0]: has Principal"}},
	{"no effect", []any{map[string]any{"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}},
		[]string{"serviceIamStatements[0].Effect: must be Allow or Deny"}},
	{"not an action", []any{map[string]any{"Effect": "Allow", "Action": "GetObject", "Resource": "arn:aws:s3:::b/*"}},
		[]string{`serviceIamStatements[0].Action: "GetObject" is not an IAM action`}},
	{"not an ARN", []any{map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "my-bucket"}},
		[]string{`serviceIamStatements[0].Resource: "my-bucket" is not an ARN`}},
	{"the second statement", []any{serviceStatements[0], map[string]any{"Effect": "Allow", "Action": "sqs:SendMessage"}},
		[]string{"serviceIamStatements[1].Resource: is required"}},
	{"a bad condition", []any{map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": "yes"}},
		[]string{"serviceIamStatements[0].Condition: must map condition operators"}},
	{"every bucket by ARN", []any{map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"}},
		[]string{`serviceIamStatements[0].Resource: "arn:aws:s3:::*" names every resource of s3`}},
	{"instances of any account", []any{map[string]any{"Effect": "Allow", "Action": "ec2:StartInstances", "Resource": "arn:aws:ec2:us-east-1:*:instance/*"}},
		[]string{`serviceIamStatements[0].Resource: "arn:aws:ec2:us-east-1:*:instance/*" names every resource of ec2`}},
	{"larger than IAM accepts", manyStatements(200), []string{"serviceIamStatements: make a policy of", "IAM accepts 10240"}},
	{"a boundary larger than IAM accepts", manyStatements(80), []string{"serviceIamStatements: the service role's permissions boundary carries its statements", "IAM accepts 6144"}},
}

func manyStatements(n int) []any {
	var out []any
	for i := 0; i < n; i++ {
		out = append(out, map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": fmt.Sprintf("arn:aws:s3:::bucket-%03d/*", i)})
	}
	return out
}

func TestServiceIdentity_badStatementsAreRefusedBeforeAnyResource(t *testing.T) {
	t.Parallel()
	for _, tc := range serviceStatementCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fixtureConfig(t, "dev")
			cfg.Set("serviceIamStatements", tc.set)
			r := runStack(t, "dev", cfg)
			require.Error(t, r.err)
			for _, want := range tc.want {
				assert.Contains(t, r.err.Error(), want)
			}
			assert.Empty(t, r.records, "nothing may be registered when the configuration is invalid")
		})
	}
}

// TestServiceIdentity_prodRemovalSaysHowToUnprotect: in protected prod, emptying serviceIamStatements deletes the
// service's role and boundary, which protect refuses. The program sees the role in the account and says, on the
// run, the one command that unprotects exactly those resources; it does not refuse itself (it cannot see that the
// command has run, so refusing would refuse for ever): the engine's protection refuses until then.
func TestServiceIdentity_prodRemovalSaysHowToUnprotect(t *testing.T) {
	t.Parallel()
	serviceRole := "arn:aws:iam::" + testAccount + ":role/" + projectName + "/prod/service-identity-role-1a2b3c4"
	cfg := fixtureConfig(t, "prod")
	p, err := buildWithRoles(t, "prod", cfg, []string{serviceRole})
	require.NoError(t, err)
	require.Len(t, p.Notices, 1)
	assert.Contains(t, p.Notices[0], "serviceIamStatements: is empty, which deletes the service's AWS role")
	assert.Contains(t, p.Notices[0], "this stack protects them (protect: true)")
	urns := unprotectURNs(t, p.Notices[0])
	assert.Len(t, urns, 6)

	cfg.Set("serviceIamStatements", serviceStatements)
	r := runStackWith(t, "prod", cfg, func(e *plan.Engine) { e.Roles = []string{serviceRole} }).ok()
	for _, urn := range urns {
		rec := r.byURN(urn)
		if assert.NotNilf(t, rec, "%s: the URN the command names is the resource's own", urn) {
			assert.True(t, rec.Protect)
		}
	}
	dev, err := buildWithRoles(t, "dev", fixtureConfig(t, "dev"),
		[]string{"arn:aws:iam::" + testAccount + ":role/" + projectName + "/dev/service-identity-role-1a2b3c4"})
	require.NoError(t, err)
	assert.Empty(t, dev.Notices, "unprotected: the removal just happens")
}
