// One platform, two services: each a tenant of the cluster with its own namespace, quota, network isolation,
// ECR repository, push role, Argo CD project and Application, and API key.
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "@example/eks-gitops";

const config = new pulumi.Config();
const platform = new Platform("platform", {
    services: [
        {
            name: "shop",
            githubRepository: "acme/shop",
            githubOwnerId: "61000001",
            githubRepositoryId: "62000002",
            appRepoUrl: "https://github.com/acme/shop.git",
            apiKey: config.requireSecret("shopApiKey"),
            iamStatements: [{ effect: "Allow", action: ["s3:GetObject"], resource: ["arn:aws:s3:::acme-assets/*"] }],
        },
        {
            name: "billing",
            githubRepository: "acme/billing",
            githubOwnerId: "61000001",
            githubRepositoryId: "62000003",
            appRepoUrl: "https://github.com/acme/billing.git",
            apiKey: config.requireSecret("billingApiKey"),
            quota: { cpu: "1", memory: "2Gi", pods: 10 },
            ingressFrom: ["shop"], // shop's pods may call billing's
        },
    ],
});

export const clusterName = platform.clusterName;
// Per service: namespace, ecrRepositoryUrl, githubActionsRoleArn, serviceRoleArn.
export const services = platform.services;
