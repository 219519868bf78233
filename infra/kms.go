package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Account is where the stack deploys.
type Account struct {
	Partition string // aws, aws-cn, aws-us-gov
	Region    string // such as us-east-1
	ID        string // 12-digit account ID
}

func (a Account) valid() bool { return a.Partition != "" && a.Region != "" && a.ID != "" }

// AccountKeyPolicy is a key policy that lets the account administer and use the key through IAM policies, as
// the default key policy does, written out so that reviewers and scanners see it; extra statements follow.
func AccountKeyPolicy(a Account, extra ...Statement) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: append([]Statement{{
		Sid:       "AccountAdministersThroughIAM",
		Effect:    "Allow",
		Principal: &Principal{AWS: []string{"arn:" + a.Partition + ":iam::" + a.ID + ":root"}},
		Action:    []string{"kms:*"},
		Resource:  []string{"*"}, // in a key policy, "*" is this key
	}}, extra...)}
}

// LogsKeyPolicy also lets CloudWatch Logs of the account's region use the key for one log group only: the
// encryption context names the log group, and the condition names exactly that group's ARN.
func LogsKeyPolicy(a Account, logGroupName string) PolicyDocument {
	return AccountKeyPolicy(a, Statement{
		Sid:       "CloudWatchLogsForOneLogGroup",
		Effect:    "Allow",
		Principal: &Principal{Service: []string{"logs." + a.Region + ".amazonaws.com"}},
		Action:    []string{"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"},
		Resource:  []string{"*"},
		Condition: map[string]map[string][]string{"ArnEquals": {
			"kms:EncryptionContext:aws:logs:arn": {LogGroupARN(a, logGroupName)},
		}},
	})
}

// LogGroupARN is the ARN of a log group, as CloudWatch Logs puts it in the encryption context (no ":*").
func LogGroupARN(a Account, name string) string {
	return fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s", a.Partition, a.Region, a.ID, name)
}

// newKey creates a symmetric key with yearly rotation, a 30-day deletion window and an explicit policy.
func newKey(ctx *pulumi.Context, name, description string, policy PolicyDocument, opts ...pulumi.ResourceOption) (*kms.Key, error) {
	doc, err := policy.JSON()
	if err != nil {
		return nil, err
	}
	return kms.NewKey(ctx, name, &kms.KeyArgs{
		Description:          pulumi.String(description),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(30),
		Policy:               pulumi.String(doc),
	}, opts...)
}
