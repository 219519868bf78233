package infra

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const registryType = "platform:infra:Registry" // frozen; renaming needs an alias

// RegistryArgs configures the service's container registry.
type RegistryArgs struct {
	RepositoryName string // ECR repository name (required)
	// KeepTaggedImages is how many tagged images the lifecycle policy keeps (required, >= 1). Untagged images
	// expire after a day.
	KeepTaggedImages int
	// Protected keeps the repository when it still holds images: no force delete. Default false (dev), where
	// `pulumi destroy` deletes the repository with its images.
	Protected bool
	Account   Account // the key policy's account (required)
}

// Registry is an ECR repository with scan on push, immutable tags, KMS encryption and a lifecycle policy.
type Registry struct {
	pulumi.ResourceState
	RepositoryURL pulumi.StringOutput `pulumi:"repositoryUrl"`
	RepositoryARN pulumi.StringOutput `pulumi:"repositoryArn"`
	KeyARN        pulumi.StringOutput `pulumi:"keyArn"`
}

// LifecycleRule is one rule of an ECR lifecycle policy.
type LifecycleRule struct {
	RulePriority int                `json:"rulePriority"`
	Description  string             `json:"description"`
	Selection    LifecycleSelection `json:"selection"`
	Action       LifecycleAction    `json:"action"`
}

// LifecycleSelection chooses the images a lifecycle rule acts on.
type LifecycleSelection struct {
	TagStatus      string   `json:"tagStatus"`
	TagPatternList []string `json:"tagPatternList,omitempty"`
	CountType      string   `json:"countType"`
	CountUnit      string   `json:"countUnit,omitempty"`
	CountNumber    int      `json:"countNumber"`
}

// LifecycleAction is what a lifecycle rule does.
type LifecycleAction struct {
	Type string `json:"type"`
}

// LifecyclePolicy is an ECR lifecycle policy document.
type LifecyclePolicy struct {
	Rules []LifecycleRule `json:"rules"`
}

// NewRegistry creates the repository, its KMS key and lifecycle policy.
func NewRegistry(ctx *pulumi.Context, name string, args *RegistryArgs, opts ...pulumi.ResourceOption) (*Registry, error) {
	if args == nil || args.RepositoryName == "" || args.KeepTaggedImages < 1 || !args.Account.valid() {
		return nil, fmt.Errorf("registry %q: a repository name, the account and KeepTaggedImages >= 1 are required", name)
	}
	r := &Registry{}
	if err := ctx.RegisterComponentResource(registryType, name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	wrap := func(what string, err error) error { return fmt.Errorf("registry %q: %s: %w", name, what, err) }

	key, err := newKey(ctx, name+"-key", "ECR encryption for "+args.RepositoryName, AccountKeyPolicy(args.Account), parent)
	if err != nil {
		return nil, wrap("create KMS key", err)
	}

	repo, err := ecr.NewRepository(ctx, name+"-repo", &ecr.RepositoryArgs{
		Name:               pulumi.String(args.RepositoryName),
		ImageTagMutability: pulumi.String("IMMUTABLE"),
		ImageScanningConfiguration: &ecr.RepositoryImageScanningConfigurationArgs{
			ScanOnPush: pulumi.Bool(true),
		},
		EncryptionConfigurations: ecr.RepositoryEncryptionConfigurationArray{
			ecr.RepositoryEncryptionConfigurationArgs{
				EncryptionType: pulumi.String("KMS"),
				KmsKey:         key.Arn,
			},
		},
		// Never force-delete images of a protected (prod) repository.
		ForceDelete: pulumi.Bool(!args.Protected),
	}, parent)
	if err != nil {
		return nil, wrap("create repository", err)
	}

	policy, err := json.Marshal(LifecyclePolicy{Rules: []LifecycleRule{
		{
			RulePriority: 1,
			Description:  "expire untagged images after one day",
			Selection:    LifecycleSelection{TagStatus: "untagged", CountType: "sinceImagePushed", CountUnit: "days", CountNumber: 1},
			Action:       LifecycleAction{Type: "expire"},
		},
		{
			RulePriority: 2,
			Description:  fmt.Sprintf("keep the last %d tagged images", args.KeepTaggedImages),
			Selection:    LifecycleSelection{TagStatus: "any", CountType: "imageCountMoreThan", CountNumber: args.KeepTaggedImages},
			Action:       LifecycleAction{Type: "expire"},
		},
	}})
	if err != nil {
		return nil, wrap("marshal lifecycle policy", err)
	}
	if _, err := ecr.NewLifecyclePolicy(ctx, name+"-lifecycle", &ecr.LifecyclePolicyArgs{
		Repository: repo.Name,
		Policy:     pulumi.String(string(policy)),
	}, parent); err != nil {
		return nil, wrap("create lifecycle policy", err)
	}

	r.RepositoryURL = repo.RepositoryUrl
	r.RepositoryARN = repo.Arn
	r.KeyARN = key.Arn
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{
		"repositoryUrl": r.RepositoryURL,
		"repositoryArn": r.RepositoryARN,
		"keyArn":        r.KeyARN,
	}); err != nil {
		return nil, wrap("register outputs", err)
	}
	return r, nil
}
