# The stage account's bootstrap, applied with plain Terraform before any unit.
module "state" {
  source  = "terraform-aws-modules/s3-bucket/aws"
  version = "4.1.2"

  bucket = "acme-tfstate-stage"
}
