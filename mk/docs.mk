# mk/docs.mk -- checks of the manual (README.md, HACKING.md, doc/*.md).
#
#   make test-docs   every relative link resolves to a file, and a #heading to a
#                    heading of it (tools/check_doc_links.sh)
.PHONY: test-docs

test-docs:
	@bash tools/check_doc_links.sh README.md HACKING.md $(wildcard doc/*.md)
