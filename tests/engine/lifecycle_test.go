package engine_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/stacks"
	"github.com/example/eks-gitops-platform/tests/engine/standin"
)

// prodEgress is what the README's prod steps put in endpointPublicAccessCidrs in place of the placeholder.
const prodEgress = "93.184.216.0/24"

// prodStack is the fixture prod stack after the README's prod steps.
func prodStack(b *backend) *engineStack {
	s := b.platform("prod", fixtures)
	s.set("endpointPublicAccessCidrs[0]", prodEgress)
	return s
}

// TestUp_contractOutputsAreReadBackWithTheCLIAndKubeconfigIsSecret: what the service's CI and a user's shell
// read with `pulumi stack output`, the kubeconfig masked.
func TestUp_contractOutputsAreReadBackWithTheCLIAndKubeconfigIsSecret(t *testing.T) {
	b := shared(t)
	for _, stack := range []string{"dev", "prod"} {
		t.Run(stack, func(t *testing.T) {
			s := b.stack(stack, stacks.Run)
			out, err := s.pulumi("stack", "output", "--json")
			require.NoError(t, err, out)
			var outputs map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &outputs), out)
			for _, name := range []string{stacks.OutputVPCID, stacks.OutputPrivateSubnetIDs, stacks.OutputPublicSubnetIDs,
				stacks.OutputClusterName, stacks.OutputKubeconfig, stacks.OutputECRRepositoryURL, stacks.OutputGitHubActionsRoleARN,
				stacks.OutputArgoCDNamespace, stacks.OutputServiceNamespace, stacks.OutputDeployRoleARN} {
				assert.Containsf(t, outputs, name, "contract output %s", name)
			}
			assert.Equal(t, "[secret]", outputs[stacks.OutputKubeconfig], "the CLI masks the kubeconfig")
		})
	}
}

// TestUp_stateHoldsNoSecretInPlaintext reads the checkpoint file the local backend writes: the API key, the
// repository token and the kubeconfig (which pulumi-eks itself returns in plain text, and hands to two
// Kubernetes providers of its own) appear only encrypted.
func TestUp_stateHoldsNoSecretInPlaintext(t *testing.T) {
	s := shared(t).stack("dev", stacks.Run)
	state := string(s.state())
	require.Contains(t, state, "ciphertext", "secrets are in the state, encrypted")
	for what, plain := range map[string]string{
		"the API key": testAPIKey, "the repository token": testRepoToken,
		"the kubeconfig's exec command": "get-token", "the kubeconfig's certificate": "certificate-authority-data",
		"the cluster endpoint": ".gr7.us-east-1.eks.amazonaws.com",
	} {
		assert.NotContainsf(t, state, plain, "the state holds %s in plain text", what)
	}
}

// TestUp_everyRoleLivesUnderTheStackPathAndCarriesTheBoundary: every IAM role in the state after `up`,
// pulumi-eks's children included, is under /<project>/<stack>/ and capped by the stack's boundary, but the deploy
// role, which manages them. The pulumi-eks stand-in creates a role of its own when the program passes none, as
// v2.8.1 does (nodejs/eks/cluster.ts:767-819), so a role from pulumi-eks would be seen here.
func TestUp_everyRoleLivesUnderTheStackPathAndCarriesTheBoundary(t *testing.T) {
	s := shared(t).stack("dev", stacks.Run)
	var roles int
	for _, r := range s.resources() {
		if r.Type != "aws:iam/role:Role" {
			continue
		}
		roles++
		assert.Equalf(t, "/"+project+"/dev/", r.Outputs["path"], "%s lives under the stack's path", r.URN)
		if strings.Contains(string(r.URN), "deploy-deploy-role") {
			continue
		}
		assert.Containsf(t, r.Outputs["permissionsBoundary"], ":policy/"+project+"/dev/roles-policy-", "%s carries the boundary", r.URN)
	}
	assert.Equal(t, 7, roles, "flow logs, push, cluster service, node, autoscaler, deploy and preview roles; none from pulumi-eks")
}

// TestDrift_refreshSeesChangesMadeOutsidePulumiAndUpPutsThemBack: right after `up`, a refresh reads every
// resource back and changes nothing. Then a change made outside Pulumi (log retention shortened in the console,
// a label removed from the service namespace) is what the next refresh reports, and the `up` after it restores
// what the program says, in the cloud too, touching nothing else.
func TestDrift_refreshSeesChangesMadeOutsidePulumiAndUpPutsThemBack(t *testing.T) {
	t.Parallel()
	b := shared(t).fork(t)
	s := b.stack("dev", stacks.Run)
	before := s.resources()
	r := s.refresh()
	require.NoError(t, r.err, r.stdout)
	assert.NotEmpty(t, s.journal().Of(standin.OpRead), "the refresh read the resources back")
	for urn, op := range r.ops() {
		assert.Containsf(t, []apitype.OpType{apitype.OpSame, apitype.OpRefresh}, op, "%s: %s after a refresh", urn, op)
	}
	for _, e := range s.journal().Entries() {
		assert.Equalf(t, standin.OpRead, e.Op, "%s %s during a refresh", e.Op, e.URN)
	}
	assert.Empty(t, changedOutputs(before, s.resources()), "nothing drifted yet")

	logGroup := onlyLive(t, s.cloud(), "aws:cloudwatch/logGroup:LogGroup", func(_ string, p resource.PropertyMap) bool {
		return p["name"].StringValue() == "/aws/eks/"+project+"-dev/cluster"
	})
	s.cloud().Change("aws:cloudwatch/logGroup:LogGroup", logGroup, func(p resource.PropertyMap) {
		p["retentionInDays"] = resource.NewNumberProperty(1)
	})
	namespace := onlyLive(t, s.cloud(), "kubernetes:core/v1:Namespace", func(key string, _ resource.PropertyMap) bool {
		return key == project+"-dev:your-service" // the dev cluster's namespace (the cloud holds prod's too)
	})
	s.cloud().Change("kubernetes:core/v1:Namespace", namespace, func(p resource.PropertyMap) {
		meta := p["metadata"].ObjectValue()
		labels := meta["labels"].ObjectValue().Copy()
		delete(labels, "pod-security.kubernetes.io/enforce")
		meta["labels"] = resource.NewObjectProperty(labels)
	})

	s.journal().Reset()
	before = s.resources()
	r = s.refresh()
	require.NoError(t, r.err, r.stdout)
	assert.ElementsMatch(t, []string{"cluster-control-plane-logs", "gitops-service-ns"}, names(changedOutputs(before, s.resources())),
		"the refresh takes in the two changes, and only them")
	assert.Contains(t, r.stdout, "retentionInDays", "and shows them")

	s.journal().Reset()
	up := s.mustUp()
	assert.ElementsMatch(t, []string{"cluster-control-plane-logs", "gitops-service-ns"}, names(changedURNs(up)), "up changes back what drifted, nothing else")
	assert.Empty(t, s.journal().Of(standin.OpCreate))
	assert.Empty(t, s.journal().Of(standin.OpDelete))
	live := s.cloud().Of("aws:cloudwatch/logGroup:LogGroup")[logGroup]
	assert.NotEqual(t, 1.0, live["retentionInDays"].NumberValue(), "the retention the program sets is back in the cloud")
	ns := s.cloud().Of("kubernetes:core/v1:Namespace")[namespace]
	assert.Equal(t, "baseline", ns["metadata"].ObjectValue()["labels"].ObjectValue()["pod-security.kubernetes.io/enforce"].StringValue())
}

// changedOutputs are the resources whose outputs differ between two exports of a stack's state.
func changedOutputs(before, after []apitype.ResourceV3) []string {
	old := map[string]map[string]any{}
	for _, r := range before {
		old[string(r.URN)] = r.Outputs
	}
	var out []string
	for _, r := range after {
		if !reflect.DeepEqual(old[string(r.URN)], r.Outputs) {
			out = append(out, string(r.URN))
		}
	}
	slices.Sort(out)
	return out
}

// onlyLive is the ID of the one live resource of a type that matches.
func onlyLive(t *testing.T, c *standin.Cloud, typ string, match func(key string, p resource.PropertyMap) bool) string {
	t.Helper()
	var found []string
	for id, p := range c.Of(typ) {
		if match(id, p) {
			found = append(found, id)
		}
	}
	require.Lenf(t, found, 1, "one live %s", typ)
	return found[0]
}

// changedURNs are the resources an operation did anything but leave alone.
func changedURNs(r run) []string {
	var out []string
	for urn, op := range r.ops() {
		if op != apitype.OpSame && op != apitype.OpRead {
			out = append(out, urn)
		}
	}
	slices.Sort(out)
	return out
}

func names(urns []string) []string {
	var out []string
	for _, u := range urns {
		out = append(out, resource.URN(u).Name())
	}
	return out
}

// deleted returns the resources deleted in a journal, in order, by URN.
func deleted(j *standin.Journal) []resource.URN {
	var out []resource.URN
	for _, e := range j.Of(standin.OpDelete) {
		out = append(out, e.URN)
	}
	return out
}

func seqOf(j *standin.Journal, op standin.Op, match func(resource.URN) bool) (first, last int) {
	for _, e := range j.Of(op) {
		if match(e.URN) {
			if first == 0 {
				first = e.Seq
			}
			last = e.Seq
		}
	}
	return first, last
}

func isType(types ...string) func(resource.URN) bool {
	return func(u resource.URN) bool { return slices.Contains(types, string(u.Type())) }
}

func isKubernetes(u resource.URN) bool { return strings.HasPrefix(string(u.Type()), "kubernetes:") }

func named(name string) func(resource.URN) bool {
	return func(u resource.URN) bool { return u.Name() == name }
}

// entryNamed is the one journal entry of an operation on a resource of that type and name.
func entryNamed(t *testing.T, j *standin.Journal, op standin.Op, typ, name string) standin.Entry {
	t.Helper()
	var found []standin.Entry
	for _, e := range j.Of(op) {
		if e.Type == typ && e.Name == name {
			found = append(found, e)
		}
	}
	require.Lenf(t, found, 1, "one %s of %s %s", op, typ, name)
	return found[0]
}

var networkTypes = []string{
	"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
	"aws:ec2/eip:Eip", "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation",
}

const (
	addonType   = "aws:eks/addon:Addon"
	releaseType = "kubernetes:helm.sh/v3:Release"
	oidcType    = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
)

// TestDestroy_devRemovesEverythingInOrderAndUpBuildsItAgain: dev is destroyed completely. The Kubernetes objects
// go before the nodes (the Application's finalizer needs Argo CD and nodes to delete the workloads and their load
// balancers), the autoscaler before the nodes it scales, Argo CD and both namespaces before DNS and the metrics
// API (a namespace cannot finish deleting while metrics.k8s.io is registered without its server), the nodes
// before the add-ons they need and before the cluster, and the network after all of them (a load balancer or node
// left in the VPC blocks its deletion). The account-wide OIDC issuers are retained: they stay in the account.
// Then `pulumi up` builds the stack again with no manual step: the retained issuers are adopted, not created a
// second time (IAM would refuse: one provider per issuer URL and account).
func TestDestroy_devRemovesEverythingInOrderAndUpBuildsItAgain(t *testing.T) {
	t.Parallel()
	b := shared(t).fork(t)
	s := b.stack("dev", stacks.Run)
	before := s.resources()
	r := s.destroy()
	require.NoError(t, r.err, r.stdout)
	assert.Empty(t, s.resources(), "nothing is left in the state")

	j := s.journal()
	gone := deleted(j)
	for _, res := range before {
		if !res.Custom || strings.HasPrefix(string(res.Type), "pulumi:providers:") {
			continue
		}
		if string(res.Type) == oidcType && !strings.Contains(string(res.URN), "eks-oidcProvider") {
			assert.NotContainsf(t, gone, res.URN, "%s is the account's shared issuer: retained, never deleted", res.URN)
			continue
		}
		assert.Containsf(t, gone, res.URN, "%s was deleted", res.URN)
	}
	for _, res := range before {
		if res.Custom && res.ID != "" && !strings.HasPrefix(string(res.Type), "pulumi:providers:") {
			retained := string(res.Type) == oidcType && !strings.Contains(string(res.URN), "eks-oidcProvider")
			assert.Equalf(t, retained, s.cloud().Has(string(res.Type), cloudKey("dev", res)), "%s outlives the stack in the account: %v", res.URN, retained)
		}
	}

	_, lastK8s := seqOf(j, standin.OpDelete, isKubernetes)
	nodes := entryNamed(t, j, standin.OpDelete, "aws:eks/nodeGroup:NodeGroup", "nodes").Seq
	cluster, _ := seqOf(j, standin.OpDelete, isType("aws:eks/cluster:Cluster"))
	firstNetwork, lastNetwork := seqOf(j, standin.OpDelete, isType(networkTypes...))
	vpc, _ := seqOf(j, standin.OpDelete, isType("aws:ec2/vpc:Vpc"))
	require.NotZero(t, lastK8s)
	assert.Less(t, lastK8s, nodes, "every Kubernetes object goes before the nodes")
	assert.Less(t, nodes, cluster, "the nodes go before the cluster")
	assert.Less(t, nodes, firstNetwork, "the network outlives the nodes")
	assert.Less(t, cluster, vpc, "the VPC outlives the cluster")
	for _, e := range j.Of(standin.OpDelete) {
		if !isType(networkTypes...)(e.URN) && !isType("aws:ec2/flowLog:FlowLog", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
			"aws:ec2/securityGroup:SecurityGroup", "aws:ec2/securityGroupRule:SecurityGroupRule")(e.URN) &&
			(strings.HasPrefix(string(e.Type), "aws:eks") || isKubernetes(e.URN)) {
			assert.Lessf(t, e.Seq, lastNetwork, "%s goes before the network", e.Name)
		}
	}
	autoscaler := entryNamed(t, j, standin.OpDelete, releaseType, "addons-autoscaler")
	assert.Less(t, autoscaler.Seq, nodes, "the autoscaler goes before the nodes")
	_, lastNamespace := seqOf(j, standin.OpDelete, isType("kubernetes:core/v1:Namespace"))
	for _, name := range []string{"addons-coredns", "addons-metrics-server"} {
		a := entryNamed(t, j, standin.OpDelete, addonType, name)
		assert.Greater(t, a.Seq, lastNamespace, "%s outlives the namespaces", name)
		assert.Greater(t, a.Seq, entryNamed(t, j, standin.OpDelete, releaseType, "gitops-argocd").Seq, "%s outlives Argo CD", name)
		assert.Less(t, a.Seq, nodes, "%s goes before the nodes", name)
	}
	for _, name := range []string{"cluster-vpc-cni", "cluster-kube-proxy", "cluster-eks-pod-identity-agent"} {
		first, _ := seqOf(j, standin.OpDelete, named(name))
		assert.Greater(t, first, nodes, "%s outlives the nodes", name)
	}

	// Up again, in the same account.
	s.journal().Reset()
	up := s.up()
	require.NoError(t, up.err, up.stdout)
	for _, e := range s.journal().Of(standin.OpCreate) {
		if e.Type == oidcType && e.Name != "cluster-eks-oidcProvider" { // the new cluster's own IRSA issuer is new
			t.Errorf("%s: the retained issuer is adopted, not created again", e.Name)
		}
	}
	assert.Equal(t, countCustom(before), countCustom(s.resources()), "the same stack again")
	created := map[resource.URN]int{}
	for _, e := range s.journal().Of(standin.OpCreate) {
		created[e.URN]++
	}
	for _, res := range s.resources() {
		if !res.Custom || strings.HasPrefix(string(res.Type), "pulumi:providers:") {
			continue
		}
		assert.Truef(t, s.cloud().Has(string(res.Type), cloudKey("dev", res)), "%s is live", res.URN)
		if string(res.Type) == oidcType && !strings.Contains(string(res.URN), "eks-oidcProvider") {
			assert.Truef(t, res.RetainOnDelete, "%s is still retained on delete", res.URN)
			continue
		}
		assert.Equalf(t, 1, created[res.URN], "%s was created once", res.URN)
	}
}

// cloudKey is where the stand-in cloud keeps a resource of a stack: Kubernetes objects within their cluster.
func cloudKey(stack string, res apitype.ResourceV3) string {
	if strings.HasPrefix(string(res.Type), "kubernetes:") {
		return project + "-" + stack + ":" + string(res.ID)
	}
	return string(res.ID)
}

func countCustom(rs []apitype.ResourceV3) int {
	n := 0
	for _, r := range rs {
		if r.Custom && !strings.HasPrefix(string(r.Type), "pulumi:providers:") {
			n++
		}
	}
	return n
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestUp_aCreateThatFailsMidwayConvergesOnTheNextUp: EKS refuses the nodegroup's create (capacity, a quota), so
// the first `up` fails with the cluster built and the nodegroup and what needs it not; the second `up` creates
// exactly what is missing: nothing twice, nothing lost, and the cloud holds what the state does.
func TestUp_aCreateThatFailsMidwayConvergesOnTheNextUp(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	s := b.platform("dev", fixtures)
	b.prov.Cloud.FailNextCreate("nodes", errors.New("creating EKS Node Group (nodes): InsufficientCapacityException: "+
		"capacity for t3.large is not available in us-east-1a"))
	first := s.up()
	require.Error(t, first.err)
	assert.Contains(t, first.stdout, "InsufficientCapacityException")
	createdFirst := s.journal().Of(standin.OpCreate)
	assert.NotEmpty(t, createdFirst, "the cluster half was built")
	for _, e := range createdFirst {
		assert.NotEqualf(t, "kubernetes", strings.SplitN(e.Type, ":", 2)[0], "%s needs the nodes and was not created", e.Name)
	}

	second := s.mustUp()
	assert.Empty(t, s.journal().Of(standin.OpDelete), "nothing is deleted")
	assert.Empty(t, s.journal().Of(standin.OpUpdate), "nothing built by the first up changes")
	count := map[resource.URN]int{}
	for _, e := range s.journal().Of(standin.OpCreate) {
		count[e.URN]++
	}
	for urn, n := range count {
		assert.Equalf(t, 1, n, "%s was created %d times", urn, n)
	}
	assert.Equal(t, countCustom(s.resources()), sum(s.cloud().Count()), "the cloud holds exactly what the state does")
	assert.Equal(t, len(count), countCustom(s.resources()), "every resource in the state was created once")
	assert.NotEmpty(t, changedURNs(second), "the second up built the rest")
}

// TestDestroy_prodStopsAtItsProtectionWithoutTakingTheServiceDown: the engine deletes whatever it can before
// it refuses a protected resource; in prod everything is protected but what follows its configuration, so the
// destroy fails having deleted nothing that serves traffic (nothing at all).
func TestDestroy_prodStopsAtItsProtectionWithoutTakingTheServiceDown(t *testing.T) {
	t.Parallel()
	b := shared(t).fork(t)
	s := b.stack("prod", stacks.Run)
	before := urns(s.resources())
	r := s.destroy()
	require.Error(t, r.err, "a prod destroy fails")
	assert.Contains(t, r.stdout+r.err.Error(), "protected")
	assert.Empty(t, deleted(s.journal()), "nothing was deleted, so nothing that serves traffic")
	after := urns(s.resources())
	for _, u := range before {
		if !strings.Contains(u, "::pulumi:providers:") { // an unused default provider exists in the state only
			assert.Containsf(t, after, u, "%s is still in the state", u)
		}
	}
}

func urns(rs []apitype.ResourceV3) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.URN))
	}
	slices.Sort(out)
	return out
}

// TestUp_prodAsShippedRefusesThePlaceholdersBeforeBuildingAnything: previews (and the offline plan) of the
// shipped prod file run, with warnings; `pulumi up` refuses its placeholders, all at once, before it creates
// anything: the documentation-range endpoint (instead of failing at the first Kubernetes object after building
// the AWS half) and the service repository nobody owns (whose images the push role would trust and whose chart
// Argo CD would sync).
func TestUp_prodAsShippedRefusesThePlaceholdersBeforeBuildingAnything(t *testing.T) {
	t.Parallel()
	s := newBackend(t).platformAsShipped("prod")
	p := s.preview()
	require.NoError(t, p.err, p.stdout)
	assert.Contains(t, p.stdout, "203.0.113.0/24 is a documentation range (RFC 5737)")
	assert.Contains(t, p.stdout, "your-org/your-service is the shipped placeholder")
	r := s.up()
	require.Error(t, r.err)
	for _, want := range []string{
		"endpointPublicAccessCidrs: 203.0.113.0/24 is a documentation range (RFC 5737) that no machine has",
		"githubRepository: your-org/your-service is the shipped placeholder: set your service repository with `pulumi config set githubRepository <owner/name>`",
		"githubOwnerId: 100000001 is the shipped example ID",
		"githubRepositoryId: 200000002 is the shipped example ID",
		"appRepoUrl: https://github.com/your-org/your-service.git is the shipped placeholder",
	} {
		assert.Contains(t, r.stdout, want)
	}
	assert.Empty(t, s.journal().Of(standin.OpCreate), "nothing was created")
}
