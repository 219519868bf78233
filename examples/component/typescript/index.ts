// The whole platform from TypeScript: one component, the same arguments as the Go program's configuration.
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "@example/eks-gitops";

const config = new pulumi.Config();
const platform = new Platform("platform", {
    githubRepository: "acme/shop",
    githubOwnerId: "61000001",
    githubRepositoryId: "62000002",
    appRepoUrl: "https://github.com/acme/shop.git",
    apiKey: config.requireSecret("apiKey"),
    serviceIamStatements: [{ effect: "Allow", action: ["s3:GetObject"], resource: ["arn:aws:s3:::acme-assets/*"] }],
});

export const clusterName = platform.clusterName;
export const ecrRepositoryUrl = platform.ecrRepositoryUrl;
export const kubeconfig = platform.kubeconfig; // secret
