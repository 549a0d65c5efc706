#!/usr/bin/env bash
# Try an example whose environments live on branches (env-branches, test-prod-per-app):
# copies it into a throwaway git repository, makes one branch per environment with older
# versions in the later ones, and shows what `promote plan` would do for each promotion.
#
#   examples/try.sh env-branches
#   examples/try.sh test-prod-per-app
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: examples/try.sh env-branches|test-prod-per-app}
src="$here/$name"
[ -d "$src" ] || { echo "no example $name under $here" >&2; exit 2; }
promote=${PROMOTE:-"cargo run --quiet --locked --manifest-path $here/../Cargo.toml --"}
repo=$(mktemp -d)
trap 'rm -rf "$repo"' EXIT
g() { git -C "$repo" -c user.name=try -c user.email=try@example.invalid -c commit.gpgsign=false "$@"; }
cp -R "$src/." "$repo/"
case "$name" in
  env-branches)
    g init -q -b dev && g add -A && g commit -qm "dev"
    # stage runs what dev ran before the last release; prod is one further behind.
    g checkout -q -b stage
    sed -i 's/newTag: "1.4.0"/newTag: "1.3.2"/; s/newTag: "2.0.3"/newTag: "2.0.1"/' \
      "$repo/apps/example-app/kustomization.yaml" "$repo/apps/billing/kustomization.yaml"
    g commit -qam "stage"
    g checkout -q -b prod
    sed -i 's/newTag: "1.3.2"/newTag: "1.3.0"/' "$repo/apps/example-app/kustomization.yaml"
    g commit -qam "prod"
    g checkout -q dev
    pairs="dev:stage stage:prod"
    ;;
  test-prod-per-app)
    g init -q -b main && g add -A && g commit -qm "main"
    g checkout -q -b env/test
    sed -i 's/tag: "v1.5.0"/tag: "v1.4.2"/' "$repo/apps/homepage/values.yaml"
    g commit -qam "test"
    g checkout -q -b env/prod
    sed -i 's/tag: "v1.4.2"/tag: "v1.4.0"/' "$repo/apps/homepage/values.yaml"
    g commit -qam "prod"
    g checkout -q main
    pairs="main:test test:prod"
    ;;
  *) echo "$name keeps its environments in folders: run \`promote plan -C examples/$name\`" >&2; exit 2 ;;
esac
for pair in $pairs; do
  echo "\$ promote plan --from ${pair%%:*} --to ${pair##*:}"
  $promote plan -C "$repo" --from "${pair%%:*}" --to "${pair##*:}"
  echo
done
