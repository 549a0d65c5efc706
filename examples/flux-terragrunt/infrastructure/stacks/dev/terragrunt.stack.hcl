// Stack for the `dev` cluster. Versions live here, per stack (no shared versions.hcl).
locals {
  name                 = "dev"
  features             = ["gateway-api", "longhorn", "prometheus", "spegel"]
  storage_provisioning = "minimal"

  # Infrastructure versions (Renovate updates dev + integration; live is promoted)
  versions = {
    # renovate: datasource=github-releases depName=siderolabs/talos
    talos = "v1.12.1"
    # renovate: datasource=github-releases depName=kubernetes/kubernetes
    kubernetes = "1.35.0"
    # renovate: datasource=helm depName=cilium registryUrl=https://helm.cilium.io
    cilium = "1.18.6" // CNI
    # renovate: datasource=github-releases depName=kubernetes-sigs/gateway-api
    gateway_api = "v1.4.1"
    /* renovate: datasource=github-releases depName=fluxcd/flux2 */
    flux = "v2.7.5"
    # renovate: datasource=helm depName=prometheus-operator-crds registryUrl=https://prometheus-community.github.io/helm-charts
    prometheus = "20.0.0"
  }
}

unit "config" {
  source = "../../units/config"
  path   = "config"

  values = {
    name                 = local.name
    features             = local.features
    storage_provisioning = local.storage_provisioning
    versions             = local.versions # Pass versions to units
  }
}

unit "talos" {
  source = "../../units/talos"
  path   = "talos"

  values = {
    talos_version      = local.versions.talos
    kubernetes_version = local.versions.kubernetes
  }
}
