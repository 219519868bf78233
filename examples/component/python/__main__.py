"""The whole platform from Python: one component, the same arguments as the Go program's configuration."""

import pulumi
from example_eks_gitops import Platform, StatementArgs

config = pulumi.Config()
platform = Platform(
    "platform",
    github_repository="acme/shop",
    github_owner_id="61000001",
    github_repository_id="62000002",
    app_repo_url="https://github.com/acme/shop.git",
    api_key=config.require_secret("apiKey"),
    service_iam_statements=[
        StatementArgs(effect="Allow", action=["s3:GetObject"], resource=["arn:aws:s3:::acme-assets/*"]),
    ],
)

pulumi.export("clusterName", platform.cluster_name)
pulumi.export("ecrRepositoryUrl", platform.ecr_repository_url)
pulumi.export("kubeconfig", platform.kubeconfig)  # secret
