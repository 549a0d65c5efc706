#!/usr/bin/env bash
# The seed 002 peer: `cp` the integration files over live, then `sed` the stack's versions block
# in from integration. Usage: sed_promote.sh REPO
set -euo pipefail
repo=$1
cp "$repo/clusters/integration/helm-charts.yaml" "$repo/clusters/live/helm-charts.yaml"
cp "$repo/overlays/integration/kustomization.yaml" "$repo/overlays/live/kustomization.yaml"
# Replace live's `versions = { ... }` block with integration's.
block=$(mktemp)
trap 'rm -f "$block"' EXIT
sed -n '/^  versions = {/,/^  }/p' "$repo/stacks/integration/terragrunt.stack.hcl" > "$block"
awk -v blockfile="$block" '
  /^  versions = \{/ { while ((getline line < blockfile) > 0) print line; skip = 1; next }
  skip && /^  \}/ { skip = 0; next }
  !skip { print }
' "$repo/stacks/live/terragrunt.stack.hcl" > "$repo/stacks/live/terragrunt.stack.hcl.new"
mv "$repo/stacks/live/terragrunt.stack.hcl.new" "$repo/stacks/live/terragrunt.stack.hcl"
