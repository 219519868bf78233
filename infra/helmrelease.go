package infra

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// helmReleaseType is pulumi-kubernetes' Helm release: the provider installs and upgrades the chart with Helm's
// own engine.
const helmReleaseType = "kubernetes:helm.sh/v3:Release"

// HelmReleaseArgs are the helm.sh/v3 Release inputs this platform sets (pulumi-kubernetes v4.32.0,
// sdk/go/kubernetes/helm/v3/release.go, ReleaseArgs); each becomes the input of the schema's name.
type HelmReleaseArgs struct {
	Name, Chart, Version, Repo string
	Namespace                  pulumi.StringInput
	// CreateNamespace, if set, is sent as is; nil leaves it to the provider's default (false).
	CreateNamespace       *bool
	Atomic, CleanupOnFail bool
	Timeout, MaxHistory   int // seconds; releases kept
	Values                map[string]any
}

// helmRelease is the registered release; the platform reads none of its outputs.
type helmRelease struct{ pulumi.CustomResourceState }

// newHelmRelease registers a Helm release as the SDK's helmv3.NewRelease does: the same type token and inputs,
// compat "true", which NewRelease always sets, and the SDK's provider version (utilities.PkgResourceDefaultOpts).
// It does not import the SDK's helm/v3 package, which imports the SDK's yaml package and with it every Kubernetes
// API group the SDK generates: some sixty packages whose compile costs every cold build minutes (docs/test-times.md)
// for one resource type.
func newHelmRelease(ctx *pulumi.Context, name string, args HelmReleaseArgs, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
	props := pulumi.Map{
		"name":           pulumi.String(args.Name),
		"chart":          pulumi.String(args.Chart),
		"version":        pulumi.String(args.Version),
		"repositoryOpts": pulumi.Map{"repo": pulumi.String(args.Repo)},
		"namespace":      args.Namespace,
		"atomic":         pulumi.Bool(args.Atomic),
		"cleanupOnFail":  pulumi.Bool(args.CleanupOnFail),
		"timeout":        pulumi.Int(args.Timeout),
		"maxHistory":     pulumi.Int(args.MaxHistory),
		"values":         pulumi.ToMap(args.Values),
		"compat":         pulumi.String("true"),
	}
	if args.CreateNamespace != nil {
		props["createNamespace"] = pulumi.Bool(*args.CreateNamespace)
	}
	r := &helmRelease{}
	if err := ctx.RegisterResource(helmReleaseType, name, props, r, utilities.PkgResourceDefaultOpts(opts)...); err != nil {
		return nil, err
	}
	return r, nil
}
