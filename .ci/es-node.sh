#!/usr/bin/env bash
# Build the embedded Elasticsearch 8.14.3 test node (tests/es-node) from Maven Central.
# Idempotent and quiet: a no-op (~3 s) when target/ is up to date. Output used by tests/esnode.py:
#   tests/es-node/target/es-node-1.0.jar and tests/es-node/target/classpath.txt
set -euo pipefail
cd "$(dirname "$0")/.."
pom=tests/es-node/pom.xml
target=tests/es-node/target

# Skip Maven entirely when the jar, the classpath and every jar it lists are newer than the sources.
if [[ -f $target/es-node-1.0.jar && -f $target/classpath.txt ]] \
  && [[ -z $(find "$pom" tests/es-node/src -newer "$target/classpath.txt" -print -quit) ]]; then
  missing=0
  IFS=: read -r -a jars < "$target/classpath.txt" || true  # no trailing newline
  for jar in "${jars[@]}"; do [[ -f $jar ]] || { missing=1; break; }; done
  [[ $missing == 0 ]] && exit 0
fi

command -v mvn > /dev/null || { echo "es-node.sh: mvn not found (needs Maven 3.8+ and JDK 17+)" >&2; exit 1; }
# Maven 3.8 prints bare ANSI resets even with -B; strip them so a successful build prints nothing.
mvn -B -q -Dstyle.color=never -f "$pom" package dependency:build-classpath \
  -Dmdep.outputFile=target/classpath.txt 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d'
