include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "tfr:///terraform-aws-modules/vpc/aws?version=5.2.0"
}

inputs = {
  name = "dev"
  cidr = "10.10.0.0/16"
}
