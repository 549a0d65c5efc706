# stage: what differs per environment. `*_version` pins are promoted; identity never moves.
locals {
  environment        = "stage"
  aws_account_id     = "222222222222"
  kubernetes_version = "1.30" # EKS control plane
}
