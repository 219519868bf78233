package engine_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/stacks"
	"github.com/example/eks-gitops-platform/tests/engine/standin"
)

// TestRotation_prodAPIKeyIsUpdatedInPlaceAndRollsThePods: the README's rotation, `pulumi config set --secret
// apiKey` then `pulumi up`, in protected prod. pulumi-kubernetes replaces a Secret whose data changes unless its
// provider enables mutable Secrets, and a protected resource cannot be replaced, so without that setting the
// update is refused (and in dev the Secret would be deleted and re-created, a window in which new pods fail). With
// it, the Secret is updated in place, the Application's pod annotation follows the Secret's new resourceVersion,
// and Argo CD rolls the pods, which read the key at start. Nothing is replaced, created or deleted; the new key is
// never in the state in plain text.
func TestRotation_prodAPIKeyIsUpdatedInPlaceAndRollsThePods(t *testing.T) {
	t.Parallel()
	s := shared(t).fork(t).stack("prod", stacks.Run)
	before := applicationParameter(t, s)
	const rotated = "rotated-api-key-5d2e8c1a-never-in-plaintext"
	s.setSecret("apiKey", rotated)
	r := s.up()
	require.NoError(t, r.err, r.stdout)

	changed := changedURNs(r)
	assert.ElementsMatch(t, []string{"gitops-api-key", "gitops-application"}, names(changed), "the Secret and the Application, nothing else")
	for urn, op := range r.ops() {
		assert.NotContainsf(t, []apitype.OpType{apitype.OpReplace, apitype.OpCreate, apitype.OpDelete}, op, "%s: %s", urn, op)
	}
	assert.Empty(t, s.journal().Of(standin.OpCreate))
	assert.Empty(t, s.journal().Of(standin.OpDelete))

	secrets := s.cloud().Of("kubernetes:core/v1:Secret")
	live, ok := secrets[project+"-prod:your-service/your-service-secret"] // the Secret's ID, in the prod cluster
	require.True(t, ok, "the Secret keeps its name: %v", slices.Sorted(maps.Keys(secrets)))
	data := live["stringData"]
	for data.IsSecret() {
		data = data.SecretValue().Element
	}
	assert.Equal(t, rotated, data.ObjectValue()[infra.APIKeySecretKey].StringValue(), "the cluster has the new key")

	after := applicationParameter(t, s)
	assert.NotEqual(t, before, after, "the pods' annotation changes, so the Deployment rolls")
	assert.NotContains(t, string(s.state()), rotated, "the new key is encrypted in the state")
}

// applicationParameter is the value of the Application's pod annotation that follows the API key Secret.
func applicationParameter(t *testing.T, s *engineStack) string {
	t.Helper()
	for _, r := range s.resources() {
		if r.URN.Name() != "gitops-application" {
			continue
		}
		spec, _ := r.Inputs["spec"].(map[string]any)
		params, _ := spec["source"].(map[string]any)["helm"].(map[string]any)["parameters"].([]any)
		for _, p := range params {
			m := p.(map[string]any)
			if m["name"] == "podAnnotations."+infra.APIKeyVersionAnnotation {
				v, _ := m["value"].(string)
				require.NotEmpty(t, v)
				return v
			}
		}
	}
	t.Fatalf("no Application parameter podAnnotations.%s", infra.APIKeyVersionAnnotation)
	return ""
}
