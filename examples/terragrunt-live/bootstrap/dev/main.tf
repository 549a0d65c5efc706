# The dev account's bootstrap, applied with plain Terraform before any unit.
module "state" {
  source  = "terraform-aws-modules/s3-bucket/aws"
  version = "4.2.0"

  bucket = "acme-tfstate-dev"
}
