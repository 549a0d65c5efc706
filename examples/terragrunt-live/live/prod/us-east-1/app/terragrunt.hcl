include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  // the app module, pinned by tag
  source = "git::git@github.com:acme/modules.git//app?ref=v0.3.0" # promoted
}

inputs = {
  replicas = 3
  banner   = <<-EOT
    prod app
  EOT
}
