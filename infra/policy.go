package infra

import (
	"encoding/json"
	"fmt"
)

// PolicyDocument is an IAM policy or trust policy. Documents are built from these types and marshalled, never
// concatenated, so a malformed document cannot be written.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid       string     `json:"Sid,omitempty"`
	Effect    string     `json:"Effect"`
	Principal *Principal `json:"Principal,omitempty"`
	Action    []string   `json:"Action"`
	Resource  []string   `json:"Resource,omitempty"`
	// Condition maps an operator (StringEquals) to condition keys and their allowed values.
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// Principal names who a trust statement trusts.
type Principal struct {
	Service   []string `json:"Service,omitempty"`
	Federated []string `json:"Federated,omitempty"`
	AWS       []string `json:"AWS,omitempty"`
}

const policyVersion = "2012-10-17"

// JSON renders the document.
func (d PolicyDocument) JSON() (string, error) {
	if d.Version == "" {
		d.Version = policyVersion
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("marshal policy document: %w", err)
	}
	return string(b), nil
}

// serviceTrust is the trust policy that lets an AWS service assume a role.
func serviceTrust(service string) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{{
		Effect:    "Allow",
		Principal: &Principal{Service: []string{service}},
		Action:    []string{"sts:AssumeRole"},
	}}}
}

// publicParameters lets a principal read AWS's public SSM parameters (EKS AMI and version lookups) and never the
// account's own. partition may be "*" where the document names none.
func publicParameters(partition string) Statement {
	return Statement{
		Sid:      "ReadPublicParameters",
		Effect:   "Allow",
		Action:   []string{"ssm:GetParameter", "ssm:GetParameters"},
		Resource: []string{"arn:" + partition + ":ssm:*::parameter/aws/service/*"},
	}
}

// mustJSON renders a document built from constants only; it cannot fail at run time.
func mustJSON(d PolicyDocument) string {
	s, err := d.JSON()
	if err != nil {
		panic(err)
	}
	return s
}
