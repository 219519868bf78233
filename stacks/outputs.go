package stacks

// Stack output names: the contract read by `pulumi stack output` in users' shells and in the service's CI.
const (
	OutputVPCID                 = "vpcId"
	OutputPrivateSubnetIDs      = "privateSubnetIds"
	OutputPublicSubnetIDs       = "publicSubnetIds"
	OutputClusterName           = "clusterName"
	OutputKubeconfig            = "kubeconfig" // secret
	OutputClusterOIDCProvider   = "clusterOidcProviderArn"
	OutputClusterOIDCIssuerURL  = "clusterOidcProviderUrl"
	OutputNodeRoleARN           = "nodeRoleArn"
	OutputNodeGroupName         = "nodeGroupName"
	OutputECRRepositoryURL      = "ecrRepositoryUrl"
	OutputGitHubActionsRoleARN  = "githubActionsRoleArn"
	OutputGitHubOIDCProviderARN = "githubOidcProviderArn"
	OutputArgoCDNamespace       = "argocdNamespace"
	OutputServiceNamespace      = "serviceNamespace"
	OutputAPIPublicAccessCIDRs  = "apiPublicAccessCidrs" // who reaches the API endpoint; empty: only the VPC
	OutputDeployRoleARN         = "deployRoleArn"        // only with pulumiOrganization or infraRepository
	OutputDeployWith            = "deployWith"           // the flow the deploy role trusts; only with it
	OutputProtected             = "protected"            // protect holds its resources (prod); only with a deploy role
	OutputPreviewRoleARN        = "previewRoleArn"       // only with pull-request previews (unprotected, infraRepository)
	OutputAutoscalerRoleARN     = "autoscalerRoleArn"    // Cluster Autoscaler's Pod Identity role
	OutputServiceRoleARN        = "serviceRoleArn"       // only with serviceIamStatements
	// OutputServices replaces ecrRepositoryUrl, githubActionsRoleArn, serviceNamespace and serviceRoleArn in a
	// stack that lists services: per service name, its namespace, ecrRepositoryUrl, githubActionsRoleArn and
	// serviceRoleArn ("" without iamStatements).
	OutputServices = "services"
)
