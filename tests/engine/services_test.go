package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/stacks"
	"github.com/example/eks-gitops-platform/tests/engine/standin"
)

// service is a services entry as a user writes it in the stack file.
func service(name, repoID string, extra ...any) map[string]any {
	e := map[string]any{"name": name, "githubRepository": "acme/" + name, "githubOwnerId": "61000001",
		"githubRepositoryId": repoID, "appRepoUrl": "https://github.com/acme/" + name + ".git"}
	for i := 0; i+1 < len(extra); i += 2 {
		e[extra[i].(string)] = extra[i+1]
	}
	return e
}

// writeServices edits the stack file as a user does: the single-service keys out, services in.
func writeServices(t *testing.T, path string, services ...map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var file map[string]any
	require.NoError(t, yaml.Unmarshal(b, &file))
	cfg := file["config"].(map[string]any)
	for _, k := range []string{"serviceName", "githubRepository", "githubOwnerId", "githubRepositoryId", "githubAllowedSubjects",
		"appRepoUrl", "appTargetRevision", "apiKey"} {
		delete(cfg, project+":"+k)
	}
	list := []any{}
	for _, s := range services {
		list = append(list, s)
	}
	cfg[project+":services"] = list
	out, err := yaml.Marshal(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, out, 0o600))
}

// ofService reports whether a URN belongs to the Service of that name: the component or one of its descendants.
func ofService(urn, name string) bool {
	u := resource.URN(urn)
	return strings.HasPrefix(string(u.QualifiedType()), infra.ServiceType) &&
		(u.Name() == name || strings.HasPrefix(u.Name(), name+"-"))
}

// servicesStack is a new stack of a fresh backend whose file (the shipped fixture's, its single-service keys
// replaced) lists services, and the path of that file, which the test edits as a user does.
func servicesStack(t *testing.T, name string, services ...map[string]any) (*engineStack, string) {
	t.Helper()
	b := newBackend(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(repoRoot(t), "Pulumi.yaml"), filepath.Join(dir, "Pulumi.yaml"))
	file, _ := withoutEncryption(t, filepath.Join(repoRoot(t), string(fixtures), "Pulumi."+name+".yaml"))
	stackFile := filepath.Join(dir, "Pulumi."+name+".yaml")
	require.NoError(t, os.WriteFile(stackFile, file, 0o600))
	writeServices(t, stackFile, services...)
	return b.newStack(name, dir, stacks.Run), stackFile
}

// TestServices_addingAndRemovingAServiceTouchesOnlyIt: under the real CLI and engine, a dev stack with one service
// gets a second: the update creates the second service's resources and changes nothing else; rotating its API key
// updates its Secret and Application alone; removing it deletes exactly what was created, and the first service,
// Argo CD and the cluster stay as they were. A second up with nothing changed changes nothing.
func TestServices_addingAndRemovingAServiceTouchesOnlyIt(t *testing.T) {
	t.Parallel()
	s, stackFile := servicesStack(t, "dev", service("shop", "62000002"))
	s.setSecret("shopApiKey", testAPIKey)
	first := s.up()
	require.NoError(t, first.err, first.stdout)
	for urn, op := range first.ops() {
		assert.NotEqualf(t, "billing", resource.URN(urn).Name(), "%s", op)
	}
	again := s.up()
	require.NoError(t, again.err, again.stdout)
	assert.Empty(t, changedURNs(again), "a second up with nothing changed changes nothing")

	// Add billing, which shop calls.
	writeServices(t, stackFile, service("shop", "62000002"), service("billing", "62000003", "ingressFrom", []any{"shop"}))
	s.setSecret("billingApiKey", "billing-key-0c1d2e3f-never-in-plaintext")
	added := s.up()
	require.NoError(t, added.err, added.stdout)
	created := 0
	for urn, op := range added.ops() {
		if op == apitype.OpSame || op == apitype.OpRead {
			continue
		}
		if assert.Truef(t, ofService(urn, "billing"), "%s: %s; only billing's resources change", urn, op) {
			assert.Equalf(t, apitype.OpCreate, op, "%s", urn)
			created++
		}
	}
	assert.GreaterOrEqual(t, created, len(infra.ServiceProtectedChildren("billing", false)), "billing's resources are created")
	assert.NotContains(t, string(s.state()), "billing-key-0c1d2e3f", "its API key is encrypted in the state")

	// Rotating one service's key updates its Secret and rolls its pods (its Application's annotation), nothing else.
	s.setSecret("billingApiKey", "billing-key-rotated-5e6f7a8b-never-in-plaintext")
	rotated := s.up()
	require.NoError(t, rotated.err, rotated.stdout)
	assert.ElementsMatch(t, []string{"billing-api-key", "billing-application"}, names(changedURNs(rotated)))
	for urn, op := range rotated.ops() {
		assert.NotContainsf(t, []apitype.OpType{apitype.OpReplace, apitype.OpCreate, apitype.OpDelete}, op, "%s: %s", urn, op)
	}
	assert.NotContains(t, string(s.state()), "billing-key-rotated-5e6f7a8b", "encrypted in the state")

	// Remove it again.
	writeServices(t, stackFile, service("shop", "62000002"))
	removed := s.up()
	require.NoError(t, removed.err, removed.stdout)
	deletes := 0
	for urn, op := range removed.ops() {
		if op == apitype.OpSame || op == apitype.OpRead {
			continue
		}
		if assert.Truef(t, ofService(urn, "billing"), "%s: %s; only billing's resources change", urn, op) {
			assert.Equalf(t, apitype.OpDelete, op, "%s", urn)
			deletes++
		}
	}
	assert.Equal(t, created, deletes, "everything the addition created, and nothing else, is deleted")
	for _, r := range s.resources() {
		assert.Falsef(t, ofService(string(r.URN), "billing"), "%s is gone", r.URN)
	}
}

// TestServices_protectedRemovalGoesThroughAfterTheCommandTheProgramGives: in protected prod, a service marked
// `remove: true` is not deleted by the engine while it is protected (nothing of it goes, nothing else changes);
// after the `pulumi state unprotect` of exactly the URNs the program names, the same `pulumi up` deletes it, and the
// other service stays as it was.
func TestServices_protectedRemovalGoesThroughAfterTheCommandTheProgramGives(t *testing.T) {
	t.Parallel()
	s, stackFile := servicesStack(t, "prod", service("shop", "62000002"), service("billing", "62000003"))
	s.set("endpointPublicAccessCidrs[0]", prodEgress)
	s.setSecret("shopApiKey", testAPIKey)
	s.setSecret("billingApiKey", "billing-key-0c1d2e3f-never-in-plaintext")
	first := s.up()
	require.NoError(t, first.err, first.stdout)

	writeServices(t, stackFile, service("shop", "62000002"), map[string]any{"name": "billing", "remove": true})
	refused := s.up()
	require.Error(t, refused.err, "protect refuses the deletes")
	assert.Contains(t, refused.stdout+refused.err.Error(), "cannot be deleted", "the engine refuses the deletes: they are protected")
	for _, r := range s.resources() {
		if ofService(string(r.URN), "billing") {
			assert.Truef(t, r.Protect, "%s is still there and protected", r.URN)
		}
	}
	assert.Empty(t, deleted(s.journal()), "nothing was deleted")

	_, err := s.pulumi(append([]string{"state", "unprotect", "--yes"}, stacks.ServiceURNs(project, "prod", "billing", false)...)...)
	require.NoError(t, err)
	removed := s.up()
	require.NoError(t, removed.err, removed.stdout)
	for urn, op := range removed.ops() {
		if op != apitype.OpSame && op != apitype.OpRead {
			assert.Truef(t, ofService(urn, "billing") && op == apitype.OpDelete, "%s: %s; only billing's resources are deleted", urn, op)
		}
	}
	for _, r := range s.resources() {
		assert.Falsef(t, ofService(string(r.URN), "billing"), "%s is gone", r.URN)
		if ofService(string(r.URN), "shop") {
			assert.Truef(t, r.Protect, "%s: the other service stays protected", r.URN)
		}
	}
}

// TestServices_destroyRemovesEveryTenantAndUpBuildsItAgain: a dev stack of two services is destroyed and built
// again under the real CLI and engine. The destroy deletes every resource but the account's retained GitHub issuer:
// each Application before Argo CD and before its namespace (its finalizer deletes the workloads), every tenant's
// namespace, quota and policies before the nodes, each service's repository and push role, and the cluster's
// admission policy. The next up in the same account creates each resource once again and adopts the issuer.
func TestServices_destroyRemovesEveryTenantAndUpBuildsItAgain(t *testing.T) {
	t.Parallel()
	s, _ := servicesStack(t, "dev", service("shop", "62000002"), service("billing", "62000003", "ingressFrom", []any{"shop"}))
	s.setSecret("shopApiKey", testAPIKey)
	s.setSecret("billingApiKey", "billing-key-0c1d2e3f-never-in-plaintext")
	first := s.up()
	require.NoError(t, first.err, first.stdout)
	before := s.resources()

	s.journal().Reset()
	r := s.destroy()
	require.NoError(t, r.err, r.stdout)
	assert.Empty(t, s.resources(), "nothing is left in the state")
	j := s.journal()
	gone := deleted(j)
	retained := func(res apitype.ResourceV3) bool {
		return string(res.Type) == oidcType && !strings.Contains(string(res.URN), "eks-oidcProvider")
	}
	for _, res := range before {
		if !res.Custom || strings.HasPrefix(string(res.Type), "pulumi:providers:") {
			continue
		}
		if retained(res) {
			assert.NotContainsf(t, gone, res.URN, "%s is the account's shared issuer: retained", res.URN)
		} else {
			assert.Containsf(t, gone, res.URN, "%s was deleted", res.URN)
		}
		if res.ID != "" {
			assert.Equalf(t, retained(res), s.cloud().Has(string(res.Type), cloudKey("dev", res)), "%s outlives the stack: %v", res.URN, retained(res))
		}
	}
	nodes := entryNamed(t, j, standin.OpDelete, "aws:eks/nodeGroup:NodeGroup", "nodes").Seq
	argocd := entryNamed(t, j, standin.OpDelete, releaseType, "gitops-argocd").Seq
	for _, name := range []string{"shop", "billing"} {
		app := entryNamed(t, j, standin.OpDelete, "kubernetes:argoproj.io/v1alpha1:Application", name+"-application").Seq
		assert.Lessf(t, app, argocd, "%s's Application goes before Argo CD, whose controller runs its finalizer", name)
		assert.Lessf(t, app, entryNamed(t, j, standin.OpDelete, "kubernetes:core/v1:Namespace", name+"-service-ns").Seq,
			"%s's Application goes before its namespace", name)
		for _, child := range [][2]string{{"kubernetes:core/v1:Namespace", name + "-service-ns"},
			{"kubernetes:core/v1:ResourceQuota", name + "-quota"}, {"kubernetes:networking.k8s.io/v1:NetworkPolicy", name + "-isolation"},
			{"kubernetes:argoproj.io/v1alpha1:AppProject", name + "-project"}} {
			assert.Lessf(t, entryNamed(t, j, standin.OpDelete, child[0], child[1]).Seq, nodes, "%s goes before the nodes", child[1])
		}
	}
	_, lastK8s := seqOf(j, standin.OpDelete, isKubernetes)
	assert.Less(t, lastK8s, nodes, "every Kubernetes object, the admission policy included, goes before the nodes")

	// Up again, in the same account.
	s.journal().Reset()
	up := s.up()
	require.NoError(t, up.err, up.stdout)
	created := map[resource.URN]int{}
	for _, e := range s.journal().Of(standin.OpCreate) {
		created[e.URN]++
		if e.Type == oidcType && e.Name != "cluster-eks-oidcProvider" {
			t.Errorf("%s: the retained issuer is adopted, not created again", e.Name)
		}
	}
	assert.Equal(t, countCustom(before), countCustom(s.resources()), "the same stack again")
	for _, res := range s.resources() {
		if !res.Custom || strings.HasPrefix(string(res.Type), "pulumi:providers:") {
			continue
		}
		assert.Truef(t, s.cloud().Has(string(res.Type), cloudKey("dev", res)), "%s is live", res.URN)
		if !retained(res) {
			assert.Equalf(t, 1, created[res.URN], "%s was created once", res.URN)
		}
	}
	assert.NotContains(t, string(s.state()), "billing-key-0c1d2e3f", "the API keys are encrypted in the new state too")
}
