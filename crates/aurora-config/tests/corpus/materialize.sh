#!/usr/bin/env bash
# Copies the corpus's input files (listed in sources.tsv: repository, commit, path) out of local git
# checkouts into OUT/OWNER+NAME/PATH, keeping each repository's folder layout so that include()s
# resolve. The files are other people's: they are read from your checkouts, never kept in this repo.
#
#   materialize.sh CHECKOUTS OUT
#
# CHECKOUTS holds one git repository per source, as OWNER+NAME (the layout the search tool's fetch
# leaves: OWNER+NAME/repo/.git, or a bare OWNER+NAME/repo) or OWNER/NAME (a plain clone). The commit
# must be present in it (`git fetch origin COMMIT` if not).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 CHECKOUTS OUT" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
checkouts="$1"; out="$2"
missing=0
while IFS=$'\t' read -r repo commit path _binds; do
  case "$repo" in ''|'#'*) continue ;; esac
  flat="${repo/\//+}"
  gitdir=""
  for d in "$checkouts/$flat/repo/.git" "$checkouts/$flat/repo" "$checkouts/$repo/.git" "$checkouts/$flat/.git"; do
    if [ -e "$d/HEAD" ]; then gitdir="$d"; break; fi
  done
  if [ -z "$gitdir" ]; then
    echo "no checkout of $repo under $checkouts" >&2; missing=1; continue
  fi
  dest="$out/$flat/$path"
  mkdir -p "$(dirname "$dest")"
  if ! git --git-dir="$gitdir" show "$commit:$path" > "$dest" 2>/dev/null; then
    echo "$repo: $path not found at $commit" >&2; rm -f "$dest"; missing=1
  fi
done < "$here/sources.tsv"
exit $missing
