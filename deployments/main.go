// Command deployments is a small Pulumi program of its own: the Pulumi Deployments settings of the platform's
// stacks. A stack never manages its own settings (a bad change would lock it out of its deployments, and each
// change would take two deployments to apply), so they live here, applied from a laptop with `pulumi up`.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/example/eks-gitops-platform/deployments/settings"
)

func main() { pulumi.Run(settings.Run) }
