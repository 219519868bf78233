package platform

// outputDescriptions document the component's outputs, which are the program's stack outputs.
var outputDescriptions = map[string]string{
	"vpcId":                  "The VPC.",
	"privateSubnetIds":       "The private subnets, one per zone: nodes and the private API endpoint.",
	"publicSubnetIds":        "The public subnets, one per zone: internet-facing load balancers and NAT gateways.",
	"clusterName":            "The EKS cluster's name, <project>-<stack>.",
	"kubeconfig":             "A kubeconfig that authenticates with `aws eks get-token` (secret).",
	"clusterOidcProviderArn": "The cluster's IRSA OIDC provider.",
	"clusterOidcProviderUrl": "The cluster's OIDC issuer URL.",
	"nodeRoleArn":            "The nodes' IAM role.",
	"nodeGroupName":          "The managed nodegroup's name.",
	"ecrRepositoryUrl":       "Where the service's CI pushes images.",
	"githubActionsRoleArn":   "The role the service repository's GitHub Actions push images with.",
	"githubOidcProviderArn":  "The account's GitHub Actions OIDC provider.",
	"argocdNamespace":        "Argo CD's namespace.",
	"serviceNamespace":       "The service's namespace.",
	"apiPublicAccessCidrs":   "The ranges the public API endpoint admits; empty: reachable from inside the VPC only.",
	"autoscalerRoleArn":      "Cluster Autoscaler's Pod Identity role.",
	"deployRoleArn":          "The deploy role (with pulumiOrganization or infraRepository); \"\" without.",
	"deployWith":             "The one flow the deploy role trusts: deployments or github-actions; \"\" without a deploy role.",
	"protected":              "Whether protect holds the platform's resources. The Deployments settings deploy merges only to a stack that is not protected.",
	"previewRoleArn":         "The pull-request preview role (unprotected, with infraRepository); \"\" without.",
	"serviceRoleArn":         "The service's own role (with serviceIamStatements); \"\" without.",
	"services":               "With services, per service name: namespace, ecrRepositoryUrl, githubActionsRoleArn and serviceRoleArn (\"\" without iamStatements); empty without.",
}
