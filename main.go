// Command eks-gitops-platform is the Pulumi program; everything it does is in package stacks.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/example/eks-gitops-platform/stacks"
)

func main() { pulumi.Run(stacks.Run) }
