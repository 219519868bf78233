// Command pulumi-resource-eks-gitops serves the platform as a Pulumi component package: TypeScript, Python, YAML
// and Go programs create the whole platform with one eks-gitops:index:Platform resource.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/example/eks-gitops-platform/component/platform"
)

func main() {
	p, err := platform.Provider()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := p.Run(context.Background(), platform.Package, platform.Version); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
