#!/usr/bin/env bash
# scripts/release-action.sh vX.Y.Z: tags a release of the GitHub Action whose tree carries the
# prebuilt bundle (dist/action-bundle, `npm run build:action`), so a workflow that uses
# `<owner>/codex-pr-bot@vX` installs no dependencies and builds nothing (docs/releasing.md).
#
# The tag points at a commit made on top of HEAD with the bundle added; the branch, the index and
# the working tree are left as they are (the bundle stays out of main: dist/ is ignored). The major
# tag (vX) is moved to the same commit. Nothing is pushed: the script prints the push command.
set -euo pipefail

tag=${1:-}
if [[ ! $tag =~ ^v([0-9]+)\.[0-9]+\.[0-9]+$ ]]; then
  echo "usage: scripts/release-action.sh vX.Y.Z" >&2
  exit 2
fi
major="v${BASH_REMATCH[1]}"
cd "$(git rev-parse --show-toplevel)"

version=$(node -p 'require("./package.json").version')
if [ "v$version" != "$tag" ]; then
  echo "package.json says version $version; set it to ${tag#v} and commit first (the reports and the User-Agent carry it)" >&2
  exit 1
fi
if ! git diff --quiet HEAD -- src package.json package-lock.json action.yml scripts; then
  echo "uncommitted changes in src/, package*.json, action.yml or scripts/: the bundle would not match the tagged source" >&2
  exit 1
fi
if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
  echo "tag $tag exists already" >&2
  exit 1
fi

npm run --silent build:action

# HEAD's tree plus the bundle, through an index of our own.
export GIT_INDEX_FILE
GIT_INDEX_FILE="$(git rev-parse --git-dir)/release-action.index"
trap 'rm -f "$GIT_INDEX_FILE"' EXIT
git read-tree HEAD
git add --force dist/action-bundle
tree=$(git write-tree)
commit=$(git commit-tree "$tree" -p HEAD -m "Release $tag: the Action's prebuilt bundle (scripts/release-action.sh)")

git tag -a "$tag" -m "codex-pr-bot $tag" "$commit"
git tag -f -a "$major" -m "codex-pr-bot $tag" "$commit" >/dev/null
echo "tagged $tag and $major at $(git rev-parse --short "$commit") (HEAD $(git rev-parse --short HEAD) + dist/action-bundle)"
echo "publish with: git push origin $tag && git push --force origin $major"
