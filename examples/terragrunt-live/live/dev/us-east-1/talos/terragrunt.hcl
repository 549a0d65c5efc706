include "root" {
  path = find_in_parent_folders("root.hcl")
}

locals {
  infra_module_version = "v1.4.0" /* one pin for the talos unit */
  cluster_name         = "dev-talos"
}

terraform {
  source = "git::https://github.com/acme/infra-modules.git//units/talos?depth=1&ref=${local.infra_module_version}"
}

inputs = {
  cluster_name = local.cluster_name
}
