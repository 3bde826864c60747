#!/usr/bin/env bash
# Builds the Java packages with jsii-pacmak into dist-packages/java/ (a Maven repository) and
# compiles examples/java/ against them, with cdk8s and constructs from Maven Central; the class
# path test/examples/examples.test.ts runs them with goes to examples/java/target/classpath.txt.
# cdk8s-plus-27 is packaged here from its npm package as well: the Maven mirror this project's CI
# reaches answers 404 for org.cdk8s:cdk8s-plus-27. Needs a JDK (17 or later) and Maven.
set -euo pipefail
cd "$(dirname "$0")/.."

rm -rf dist-packages/java
npx jsii-pacmak . node_modules/cdk8s-plus-27 --target java --outdir dist-packages
# A Maven repository of the examples' own, outside the repository: the library's 0.1.0 is rebuilt
# on every run, and Maven would otherwise go on using the first jar it cached under that version.
m2="${TRUSTED_REGISTRY_M2:-${HOME}/.cache/cdk8s-trusted-registry/m2}"
rm -rf "$m2/io/github/cdk8s-trusted-registry" "$m2/org/cdk8s/cdk8s-plus-27"
mvn --quiet --batch-mode -f examples/java/pom.xml -Dmaven.repo.local="$m2" \
  clean compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
