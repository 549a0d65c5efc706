// Stack for the `live` cluster. Versions live here, per stack (no shared versions.hcl).
locals {
  name                 = "live"
  features             = ["gateway-api", "longhorn", "prometheus"]
  storage_provisioning = "full"

  # Infrastructure versions (Renovate updates dev + integration; live is promoted)
  versions = {
    # renovate: datasource=github-releases depName=siderolabs/talos
    talos = "v1.12.0"
    # renovate: datasource=github-releases depName=kubernetes/kubernetes
    kubernetes = "1.34.3"
    # renovate: datasource=helm depName=cilium registryUrl=https://helm.cilium.io
    cilium = "1.18.5" // CNI
    # renovate: datasource=github-releases depName=kubernetes-sigs/gateway-api
    gateway_api = "v1.4.1"
    /* renovate: datasource=github-releases depName=fluxcd/flux2 */
    flux = "v2.7.3"
    # renovate: datasource=helm depName=prometheus-operator-crds registryUrl=https://prometheus-community.github.io/helm-charts
    prometheus = "19.3.0"
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
