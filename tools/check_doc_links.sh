#!/usr/bin/env bash
# check_doc_links.sh -- every relative link in the manual resolves: the file
# exists and, for `file#anchor`, the anchor is a heading of that file (as
# GitHub spells heading anchors) or an explicit <a id="...">.
#   usage: tools/check_doc_links.sh FILE.md...     (make test-docs)
set -u
status=0

# The anchors of a Markdown file, one per line.
anchors() {
  awk '/^ {0,3}```/ { fence = !fence; next } !fence && /^#+ / { sub(/^#+ +/, ""); print }' "$1" |
    tr 'A-Z' 'a-z' | sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
  grep -o '<a id="[^"]*"' "$1" | sed 's/<a id="\(.*\)"/\1/'
}

for doc in "$@"; do
  dir=$(dirname "$doc")
  # Links outside code: [text](target), skipping fenced blocks and inline code.
  # A link's [ follows no letter or digit: customs[k](outcome) in a generated
  # table row is an expression, not a link.
  links=$(awk '/^ {0,3}```/ { fence = !fence; next } !fence' "$doc" | sed 's/`[^`]*`//g' |
          grep -o '\(^\|[^A-Za-z0-9]\)\[[^]]*\](\([^)]*\))' | sed 's/^.*](\(.*\))$/\1/')
  for target in $links; do
    case "$target" in http://*|https://*|mailto:*) continue ;; esac
    file=${target%%#*}
    anchor=
    [ "$file" != "$target" ] && anchor=${target#*#}
    if [ -z "$file" ]; then path=$doc; else path=$dir/$file; fi
    if [ ! -e "$path" ]; then
      echo "$doc: broken link '$target' ($path does not exist)"; status=1; continue
    fi
    if [ -n "$anchor" ]; then
      case "$path" in
        *.md) anchors "$path" | grep -Fqx -- "$anchor" ||
                { echo "$doc: broken link '$target' (no heading #$anchor in $path)"; status=1; } ;;
        *) echo "$doc: link '$target' has an anchor into a file that is not Markdown"; status=1 ;;
      esac
    fi
  done
done
[ $status = 0 ] && echo "docs: every relative link in $# files resolves"
exit $status
