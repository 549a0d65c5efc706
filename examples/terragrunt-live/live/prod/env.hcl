# prod: what differs per environment. `*_version` pins are promoted; identity never moves.
locals {
  environment        = "prod"
  aws_account_id     = "333333333333"
  kubernetes_version = "1.30" # EKS control plane
}
