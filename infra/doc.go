// Package infra holds the platform's component resources: the network, the container registry, the GitHub and
// Pulumi OIDC trust, the EKS cluster and its nodegroup, and the GitOps layer. Components take typed arguments and
// read no configuration; the stacks package wires them together.
package infra
