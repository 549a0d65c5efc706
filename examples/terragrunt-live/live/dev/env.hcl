# dev: what differs per environment. `*_version` pins are promoted; identity never moves.
locals {
  environment        = "dev"
  aws_account_id     = "111111111111"
  kubernetes_version = "1.31" # EKS control plane
}
