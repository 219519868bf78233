package infra

import (
	"fmt"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const workloadIdentityType = "platform:infra:WorkloadIdentity" // frozen; renaming needs an alias

// WorkloadIdentityType is the WorkloadIdentity component's type token, which its children's URNs carry.
const WorkloadIdentityType = workloadIdentityType

// PodIdentityPrincipal is the service EKS Pod Identity assumes roles as.
const PodIdentityPrincipal = "pods.eks.amazonaws.com"

// Session tags EKS Pod Identity sets when it assumes a role (EKS user guide, "Enable or disable session tags").
const (
	TagClusterARN     = "eks-cluster-arn"
	TagNamespace      = "kubernetes-namespace"
	TagServiceAccount = "kubernetes-service-account"
)

// WildcardOnlyActions are actions with no resource-level permissions (Service Authorization Reference): the only
// ones a workload statement may grant on Resource "*".
var WildcardOnlyActions = []string{
	"cloudwatch:PutMetricData", "ecr:GetAuthorizationToken", "sts:GetCallerIdentity",
	"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
}

// ClusterARN is the ARN of an EKS cluster.
func ClusterARN(a Account, clusterName string) string {
	return fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", a.Partition, a.Region, a.ID, clusterName)
}

// PodIdentityTrust lets EKS Pod Identity assume a role for one ServiceAccount of one namespace of one cluster,
// and nothing else: an association anywhere else (another cluster, namespace or ServiceAccount of the account)
// is refused by the role itself, not only by who may create associations.
func PodIdentityTrust(a Account, clusterName, namespace, serviceAccount string) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{{
		Sid:       "EKSPodIdentityForOneServiceAccount",
		Effect:    "Allow",
		Principal: &Principal{Service: []string{PodIdentityPrincipal}},
		// EKS Pod Identity assumes the role and passes its session tags, which the conditions test.
		Action: []string{"sts:AssumeRole", "sts:TagSession"},
		Condition: map[string]map[string][]string{"StringEquals": {
			"aws:RequestTag/" + TagClusterARN:     {ClusterARN(a, clusterName)},
			"aws:RequestTag/" + TagNamespace:      {namespace},
			"aws:RequestTag/" + TagServiceAccount: {serviceAccount},
		}},
	}}}
}

// WorkloadIdentityArgs configures an AWS identity for the pods of one Kubernetes ServiceAccount.
type WorkloadIdentityArgs struct {
	ClusterName string             // the cluster's name (required)
	Cluster     pulumi.StringInput // the cluster's name as an output of the cluster, which the association waits for (required)
	Account     Account            // (required)
	Roles       RoleSettings       // path and boundary of the role (required)
	// Namespace and ServiceAccount name the pods' ServiceAccount; they need not exist yet (required).
	Namespace, ServiceAccount string
	Description               string         // the role's description (required)
	Policy                    PolicyDocument // the role's only permissions, inline (required, at least one statement)
}

// WorkloadIdentity is a role under the stack's path and boundary, trusted by EKS Pod Identity for one
// ServiceAccount, with its inline policy and the Pod Identity association. Pods of that ServiceAccount created
// after the association get the role's credentials from the Pod Identity agent: no key, no annotation.
type WorkloadIdentity struct {
	pulumi.ResourceState
	RoleARN pulumi.StringOutput `pulumi:"roleArn"`
	// Ready is what pods of the ServiceAccount must wait for: the association (which needs the role and its policy).
	Ready []pulumi.Resource
}

// WorkloadRoleName is the logical name of the role NewWorkloadIdentity creates for a component name: its physical
// name is this name with a random suffix.
func WorkloadRoleName(name string) string { return name + "-role" }

// NewWorkloadIdentity creates the role, its policy and the Pod Identity association.
func NewWorkloadIdentity(ctx *pulumi.Context, name string, args *WorkloadIdentityArgs, opts ...pulumi.ResourceOption) (*WorkloadIdentity, error) {
	if args == nil || args.ClusterName == "" || args.Cluster == nil || !args.Account.valid() || !args.Roles.valid() ||
		args.Namespace == "" || args.ServiceAccount == "" || args.Description == "" || len(args.Policy.Statement) == 0 {
		return nil, fmt.Errorf("workload identity %q: cluster, account, roles, namespace, service account, description and policy are required", name)
	}
	policy, err := args.Policy.JSON()
	if err != nil {
		return nil, fmt.Errorf("workload identity %q: %w", name, err)
	}
	w := &WorkloadIdentity{}
	if err := ctx.RegisterComponentResource(workloadIdentityType, name, w, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(w)
	wrap := func(what string, err error) error { return fmt.Errorf("workload identity %q: %s: %w", name, what, err) }

	role, err := iam.NewRole(ctx, WorkloadRoleName(name), &iam.RoleArgs{
		Description:         pulumi.String(args.Description),
		AssumeRolePolicy:    pulumi.String(mustJSON(PodIdentityTrust(args.Account, args.ClusterName, args.Namespace, args.ServiceAccount))),
		Path:                pulumi.String(args.Roles.Path),
		PermissionsBoundary: args.Roles.Boundary,
	}, parent)
	if err != nil {
		return nil, wrap("create role", err)
	}
	rolePolicy, err := iam.NewRolePolicy(ctx, name+"-policy", &iam.RolePolicyArgs{
		Role:   role.ID(),
		Policy: pulumi.String(policy),
	}, parent)
	if err != nil {
		return nil, wrap("attach policy", err)
	}
	// The association only once the role may do its job: a pod started in between would get a role without
	// permissions and cache the failure.
	association, err := awseks.NewPodIdentityAssociation(ctx, name+"-association", &awseks.PodIdentityAssociationArgs{
		ClusterName:    args.Cluster,
		Namespace:      pulumi.String(args.Namespace),
		ServiceAccount: pulumi.String(args.ServiceAccount),
		RoleArn:        role.Arn,
	}, parent, pulumi.DependsOn([]pulumi.Resource{rolePolicy}))
	if err != nil {
		return nil, wrap("associate the role with "+args.Namespace+"/"+args.ServiceAccount, err)
	}
	w.RoleARN = role.Arn
	w.Ready = []pulumi.Resource{association}
	if err := ctx.RegisterResourceOutputs(w, pulumi.Map{"roleArn": w.RoleARN}); err != nil {
		return nil, wrap("register outputs", err)
	}
	return w, nil
}
