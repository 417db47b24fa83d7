#!/usr/bin/env bash
# Apache Iceberg's own REST catalog server (org.apache.iceberg.rest.RESTCatalogServer,
# iceberg-open-api 1.10.0 test fixtures) for catalog/rest_test.go and for trying
# a `type: rest` catalog by hand. Needs Java 17 and mvn; only Maven Central.
#
#   eval "$(scripts/rest-catalog.sh)"      resolve the classpath (cached), export
#                                          FDAG_REST_CATALOG_CLASSPATH
#   scripts/rest-catalog.sh serve PORT DIR run a server in the foreground on PORT
#                                          with the warehouse file://DIR and its
#                                          JDBC (H2) catalog in DIR/.rest-catalog
#
# The jars (about 32 MB, plus about 13 MB of Maven's own plugins on a first
# run) go to a Maven repository under $FDAG_CACHE (default ~/.cache/fdag)/rest-catalog;
# the resolved classpath is kept there per pom, so later runs do not call mvn.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/scripts/rest-catalog/pom.xml"
CACHE="${FDAG_CACHE:-$HOME/.cache/fdag}/rest-catalog"
MAIN=org.apache.iceberg.rest.RESTCatalogServer

log() { printf 'rest-catalog: %s\n' "$*" >&2; }

for tool in java mvn; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		log "$tool not found (needs Java 17+ and Maven)"
		exit 1
	fi
done

key="$(sha256sum "$POM" | cut -c1-16)"
cpfile="$CACHE/classpath-$key.txt"
cached=0
if [[ -s "$cpfile" ]]; then
	cached=1
	IFS=: read -r -a jars <"$cpfile" || true # no newline at the end
	for j in "${jars[@]}"; do
		[[ -f "$j" ]] || cached=0
	done
fi
if [[ "$cached" == 0 ]]; then
	mkdir -p "$CACHE"
	log "resolving the server's classpath from Maven Central into $CACHE/m2"
	start=$SECONDS
	if ! mvn -B -q -f "$POM" -Dmaven.repo.local="$CACHE/m2" \
		dependency:build-classpath -Dmdep.outputFile="$cpfile.tmp" >"$CACHE/mvn.log" 2>&1; then
		cat "$CACHE/mvn.log" >&2
		log "mvn failed (log: $CACHE/mvn.log)"
		exit 1
	fi
	mv "$cpfile.tmp" "$cpfile"
	log "resolved in $((SECONDS - start)) s ($(du -sh "$CACHE/m2" | cut -f1) in $CACHE/m2)"
fi
CLASSPATH_VALUE="$(cat "$cpfile")"

case "${1:-}" in
"")
	printf 'export FDAG_REST_CATALOG_CLASSPATH=%q\n' "$CLASSPATH_VALUE"
	printf '# run: CATALOG_REST_PORT=8181 CATALOG_WAREHOUSE=file:///abs/warehouse CATALOG_URI=jdbc:h2:/abs/catalog java -cp "$FDAG_REST_CATALOG_CLASSPATH" %s\n' "$MAIN"
	;;
serve)
	port="${2:?usage: rest-catalog.sh serve PORT DIR}"
	dir="$(mkdir -p "${3:?usage: rest-catalog.sh serve PORT DIR}" && cd "$3" && pwd)"
	mkdir -p "$dir/.rest-catalog"
	log "serving http://127.0.0.1:$port, warehouse file://$dir"
	CATALOG_REST_PORT="$port" CATALOG_WAREHOUSE="file://$dir" CATALOG_URI="jdbc:h2:$dir/.rest-catalog/catalog" \
		exec java -cp "$CLASSPATH_VALUE" "$MAIN"
	;;
*)
	log "unknown command $1 (want none or serve)"
	exit 2
	;;
esac
