package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/stacks"
)

const (
	releaseTy     = "kubernetes:helm.sh/v3:Release"
	namespaceTy   = "kubernetes:core/v1:Namespace"
	secretTy      = "kubernetes:core/v1:Secret"
	applicationTy = "kubernetes:argoproj.io/v1alpha1:Application"
	appProjectTy  = "kubernetes:argoproj.io/v1alpha1:AppProject"
	inCluster     = "https://kubernetes.default.svc"
)

func TestArgoCD_isInstalledByAPinnedHelmReleaseIntoItsOwnNamespace(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		rel := r.one(releaseTy, "gitops-argocd")
		assert.Equal(t, "argo-cd", rel.Str("chart"))
		assert.Equal(t, "https://argoproj.github.io/argo-helm", rel.Str("repositoryOpts.repo"))
		assert.Equal(t, cfg.Get("argocdChartVersion"), rel.Str("version"))
		assert.Regexp(t, `^\d+\.\d+\.\d+$`, rel.Str("version"), "an exact chart version")
		assert.Equal(t, "argocd", rel.Str("name"))
		assert.Equal(t, "argocd", rel.Str("namespace"))
		assert.Equal(t, true, rel.In("atomic"))
		assert.GreaterOrEqual(t, rel.In("timeout"), float64(600), "a cold cluster pulls every image first")
		assert.Equal(t, false, rel.In("createNamespace"), "the namespace is created once, by Pulumi")
		var argoNS []*record
		for _, ns := range r.all(namespaceTy) {
			if ns.Str("metadata.name") == "argocd" {
				argoNS = append(argoNS, ns)
			}
		}
		require.Len(t, argoNS, 1)
		assert.True(t, r.dependsOn(rel, argoNS[0]))
		assert.Equal(t, "ClusterIP", rel.Str("values.server.service.type"), "no public ArgoCD endpoint; port-forward")
		// EKS access policies are fixed permission lists, not ClusterRoles: aggregating Argo CD's kinds into the
		// view role would give the preview role (AmazonEKSViewPolicy) nothing, so the chart's default stays.
		assert.Nil(t, rel.In("values.createAggregateRoles"))
		assert.Equal(t, false, rel.In("values.dex.enabled"), "no SSO configured: no Dex")
	}
}

func TestArgoCD_prodIsHighlyAvailableDevIsNot(t *testing.T) {
	t.Parallel()
	dev := runStack(t, "dev", fixtureConfig(t, "dev")).ok().one(releaseTy, "gitops-argocd")
	prod := runStack(t, "prod", fixtureConfig(t, "prod")).ok().one(releaseTy, "gitops-argocd")
	assert.Equal(t, false, dev.In("values.redis-ha.enabled"))
	assert.Equal(t, true, dev.In("values.redis.enabled"))
	assert.Equal(t, true, prod.In("values.redis-ha.enabled"))
	assert.Equal(t, false, prod.In("values.redis.enabled"), "redis-ha replaces the single redis")
	for _, part := range []string{"server", "repoServer", "applicationSet"} {
		assert.Equal(t, float64(1), dev.In("values."+part+".replicas"), "dev %s", part)
		assert.GreaterOrEqual(t, prod.In("values."+part+".replicas"), float64(2), "prod %s", part)
		assert.Equal(t, true, prod.In("values."+part+".pdb.enabled"), "prod %s has a disruption budget", part)
	}
}

func TestAppProject_limitsTheServiceToItsRepositoryAndNamespace(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		p := r.single(appProjectTy)
		assert.Equal(t, "argoproj.io/v1alpha1", p.Str("apiVersion"))
		assert.Equal(t, "your-service", p.Str("metadata.name"))
		assert.Equal(t, "argocd", p.Str("metadata.namespace"))
		assert.Equal(t, []string{cfg.Get("appRepoUrl")}, p.Strs("spec.sourceRepos"))
		assert.Equal(t, []any{map[string]any{"server": inCluster, "namespace": "your-service"}}, p.In("spec.destinations"))
		assert.Equal(t, []any{}, p.In("spec.clusterResourceWhitelist"),
			"no cluster-scoped kind: a chart that could write a Namespace could relabel any to Pod Security privileged")
		assert.True(t, r.dependsOn(p, r.one(releaseTy, "gitops-argocd")), "the CRD comes with the release")
	}
}

func TestApplication_syncsTheServiceChartFromGitAutomatically(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		app := r.single(applicationTy)
		assert.Equal(t, "your-service", app.Str("metadata.name"))
		assert.Equal(t, "argocd", app.Str("metadata.namespace"))
		assert.Equal(t, []string{"resources-finalizer.argocd.argoproj.io"}, app.Strs("metadata.finalizers"))
		assert.Equal(t, r.single(appProjectTy).Str("metadata.name"), app.Str("spec.project"))
		assert.NotEqual(t, "default", app.Str("spec.project"))
		assert.Equal(t, cfg.Get("appRepoUrl"), app.Str("spec.source.repoURL"))
		assert.Equal(t, cfg.Get("appTargetRevision"), app.Str("spec.source.targetRevision"))
		assert.Equal(t, "helm/your-service", app.Str("spec.source.path"))
		assert.Equal(t, "your-service", app.Str("spec.source.helm.releaseName"), "the chart reads Secret <release>-secret")
		assert.Equal(t, []string{"values.yaml", "values-" + stack + ".yaml"}, app.Strs("spec.source.helm.valueFiles"))
		assert.Equal(t, true, app.In("spec.source.helm.ignoreMissingValueFiles"))
		assert.Equal(t, inCluster, app.Str("spec.destination.server"))
		assert.Equal(t, "your-service", app.Str("spec.destination.namespace"))
		assert.Equal(t, true, app.In("spec.syncPolicy.automated.prune"))
		assert.Equal(t, true, app.In("spec.syncPolicy.automated.selfHeal"))
		assert.NotContains(t, app.Strs("spec.syncPolicy.syncOptions"), "CreateNamespace=true", "Pulumi owns the namespace")
		assert.Equal(t, float64(5), app.In("spec.syncPolicy.retry.limit"), "bounded retry")
		assert.NotEmpty(t, app.Str("spec.syncPolicy.retry.backoff.maxDuration"))
	}
}

func TestApplication_waitsForArgoCDTheSecretAndTheNodes(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		app := r.single(applicationTy)
		for _, dep := range []*record{r.one(releaseTy, "gitops-argocd"), r.single(secretTy), r.single(appProjectTy), r.one(namespaceTy, "gitops-service-ns")} {
			assert.True(t, r.dependsOn(app, dep), "the Application waits for %s", dep.Name)
		}
		assert.True(t, r.dependsOnTransitively(app, r.single(nodeGroupTy)), "through the provider, on the nodes")
		assert.Equal(t, "20m", app.DeleteTimeout, "deletion waits for ArgoCD to remove the workloads and their load balancers")
	}
}

// TestDestroy_removesTheApplicationBeforeArgoCDNodesClusterAndVPC: Pulumi deletes in reverse dependency
// order, so this chain of edges is the destroy order.
func TestDestroy_removesTheApplicationBeforeArgoCDNodesClusterAndVPC(t *testing.T) {
	t.Parallel()
	r := runStack(t, "prod", fixtureConfig(t, "prod")).ok()
	chain := []*record{
		r.single(applicationTy), r.one(releaseTy, "gitops-argocd"), r.single(k8sProvTy), r.single(nodeGroupTy),
		r.single(eksClusterTy), r.single("aws:ec2/vpc:Vpc"),
	}
	for i := 0; i+1 < len(chain); i++ {
		assert.True(t, r.dependsOnTransitively(chain[i], chain[i+1]), "%s is deleted before %s", chain[i].Name, chain[i+1].Name)
	}
	// Load balancers that ArgoCD's workloads created hold public addresses: the internet gateway, NAT gateways,
	// routes and subnets can only go once they are gone, so all of them outlive the Application. (Flow logs and
	// the default security group block nothing and may go earlier.)
	app := r.single(applicationTy)
	for _, typ := range []string{"aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip",
		"aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/subnet:Subnet"} {
		all := r.all(typ)
		require.NotEmpty(t, all, typ)
		for _, res := range all {
			assert.True(t, r.dependsOnTransitively(app, res), "%s %s is deleted after the Application", typ, res.Name)
		}
	}
}

func TestServiceSecret_holdsTheAPIKeyAndStaysSecret(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		s := r.single(secretTy)
		assert.Equal(t, "your-service-secret", s.Str("metadata.name"))
		assert.Equal(t, "your-service", s.Str("metadata.namespace"))
		assert.True(t, r.dependsOn(s, r.one(namespaceTy, "gitops-service-ns")))
		assert.True(t, s.SecretAt("stringData.api-key"), "the API key is secret in the registered inputs (and so in state)")
		assert.Equal(t, testAPIKey, s.Str("stringData.api-key"))
		assert.Subset(t, s.SecretOutputs, []string{"data", "stringData"})
		annotations, _ := s.In("metadata.annotations").(map[string]any)
		assert.Equal(t, "Prune=false", annotations["argocd.argoproj.io/sync-options"], "ArgoCD never prunes the platform's Secret")
		for _, out := range r.outputs {
			assert.NotContains(t, out.Value, testAPIKey, "no output carries the API key")
		}
	}
}

func TestServiceNamespace_isCreatedOnceByPulumi(t *testing.T) {
	t.Parallel()
	r := runStack(t, "dev", fixtureConfig(t, "dev")).ok()
	ns := r.one(namespaceTy, "gitops-service-ns")
	assert.Equal(t, "your-service", ns.Str("metadata.name"))
	assert.Len(t, r.all(namespaceTy), 2)
	assert.Equal(t, "your-service", r.outputs[stacks.OutputServiceNamespace].Value)
	assert.Equal(t, "argocd", r.outputs[stacks.OutputArgoCDNamespace].Value)
}

func TestRepoCredentials_onlyWhenATokenIsConfigured(t *testing.T) {
	t.Parallel()
	r := runStack(t, "dev", fixtureConfig(t, "dev")).ok()
	assert.Len(t, r.all(secretTy), 1, "public repository: no credentials")

	cfg := fixtureConfig(t, "dev")
	cfg.SetSecret("appRepoToken", "ghp_exampletoken")
	r = runStack(t, "dev", cfg).ok()
	repo := r.one(secretTy, "gitops-repo-credentials")
	assert.Equal(t, "argocd", repo.Str("metadata.namespace"))
	assert.Equal(t, "repository", repo.In("metadata.labels").(map[string]any)["argocd.argoproj.io/secret-type"])
	assert.Equal(t, cfg.Get("appRepoUrl"), repo.Str("stringData.url"))
	assert.Equal(t, "git", repo.Str("stringData.type"))
	assert.True(t, repo.SecretAt("stringData.password"))
	assert.Equal(t, "ghp_exampletoken", repo.Str("stringData.password"))
	assert.True(t, r.dependsOn(r.single(applicationTy), repo), "credentials exist before the first sync")
}

func TestKubernetesResources_allUseTheExplicitProvider(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		prov := r.single(k8sProvTy)
		var n int
		for _, rec := range r.records {
			if !strings.HasPrefix(rec.Type, "kubernetes:") {
				continue
			}
			n++
			assert.Equal(t, prov.URN, providerURN(rec.Provider), "%s %s uses the cluster's provider", rec.Type, rec.Name)
		}
		assert.GreaterOrEqual(t, n, 6)
	}
}

// --- the Argo CD CRD schemas -----------------------------------------------------------------------------

// argoCRDSchema compiles the openAPIV3Schema of one Argo CD CRD of the release the chart ships, downloaded
// through the Go module proxy. Objects that do not preserve unknown fields reject them, so a misspelt field
// fails (the API server would silently prune it).
func argoCRDSchema(t *testing.T, file string) *jsonschema.Schema {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/argoproj/argo-cd/v3@"+stacks.ArgoCDAppVersion).Output()
	require.NoError(t, err, "download the Argo CD module for its CRDs")
	var mod struct{ Dir string }
	require.NoError(t, json.Unmarshal(out, &mod))
	b, err := os.ReadFile(filepath.Join(mod.Dir, "manifests", "crds", file))
	require.NoError(t, err)
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string
				Schema struct {
					OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
				}
			}
		}
	}
	require.NoError(t, yaml.Unmarshal(b, &crd))
	require.Len(t, crd.Spec.Versions, 1)
	require.Equal(t, "v1alpha1", crd.Spec.Versions[0].Name)
	schema := strict(crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
	doc, err := json.Marshal(schema)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(file, strings.NewReader(string(doc))))
	s, err := c.Compile(file)
	require.NoError(t, err)
	return s
}

func strict(v any) any {
	switch n := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range n {
			out[k] = strict(e)
		}
		if _, ok := n["properties"]; ok && n["x-kubernetes-preserve-unknown-fields"] != true {
			if _, has := n["additionalProperties"]; !has {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		var out []any
		for _, e := range n {
			out = append(out, strict(e))
		}
		return out
	default:
		return v
	}
}

// asObject renders a recorded custom resource as the object the API server receives.
func asObject(t *testing.T, rec *record) any {
	t.Helper()
	obj := map[string]any{
		"apiVersion": rec.In("apiVersion"), "kind": rec.In("kind"),
		"metadata": rec.In("metadata"), "spec": rec.In("spec"),
	}
	b, err := json.Marshal(obj)
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

func TestArgoCDObjects_validateAgainstTheRealCRDSchemas(t *testing.T) {
	t.Parallel()
	appSchema := argoCRDSchema(t, "application-crd.yaml")
	projSchema := argoCRDSchema(t, "appproject-crd.yaml")
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		require.Equal(t, stacks.DefaultArgoCDChartVersion, cfg.Get("argocdChartVersion"),
			"the stack's chart must ship Argo CD %s, whose CRDs these tests use", stacks.ArgoCDAppVersion)
		r := runStack(t, stack, cfg).ok()
		assert.NoError(t, appSchema.Validate(asObject(t, r.single(applicationTy))))
		assert.NoError(t, projSchema.Validate(asObject(t, r.single(appProjectTy))))
		// With the service's own role, the Application passes it to the chart as a Helm parameter.
		cfg.Set("serviceIamStatements", serviceStatements)
		app := runStack(t, stack, cfg).ok().single(applicationTy)
		_, ok := helmParameter(app, "podAnnotations."+infra.ServiceRoleAnnotation)
		require.True(t, ok)
		assert.NoError(t, appSchema.Validate(asObject(t, app)))
	}
}

func TestArgoCDObjects_schemaCheckRejectsAMisspeltField(t *testing.T) {
	t.Parallel()
	appSchema := argoCRDSchema(t, "application-crd.yaml")
	r := runStack(t, "dev", fixtureConfig(t, "dev")).ok()
	obj := asObject(t, r.single(applicationTy)).(map[string]any)
	policy := obj["spec"].(map[string]any)["syncPolicy"].(map[string]any)
	policy["automatic"] = policy["automated"]
	delete(policy, "automated")
	assert.Error(t, appSchema.Validate(obj))
}
