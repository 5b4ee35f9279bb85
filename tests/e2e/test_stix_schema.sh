#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Validates kawan's STIX 2.1 export against the official OASIS JSON schemas: stix-sample writes
# one indicator of every type at every TLP level, tests/e2e/stix_validate.mjs (ajv, draft
# 2020-12, offline) checks it. ajv and ajv-formats are installed once with npm into
# $KW_BIN_DIR/npm. Missing tools are a failure, never a silent pass.
#
# Environment (set by ctest): KW_BIN_DIR=<build>/tests, KW_CORPORA, KW_SOURCE_DIR.
set -euo pipefail

fail() {
    echo "test_stix_schema: FAIL: $*" >&2
    exit 1
}

: "${KW_BIN_DIR:?KW_BIN_DIR is not set}"
: "${KW_CORPORA:?KW_CORPORA is not set}"
: "${KW_SOURCE_DIR:?KW_SOURCE_DIR is not set}"

command -v node >/dev/null 2>&1 || fail "node is not installed (needed for the schema check)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (needed to install ajv)"

schemas="$KW_CORPORA/stix2.1-schemas"
[ -d "$schemas/schemas" ] || fail "no schemas in $schemas"
sample_bin="$KW_BIN_DIR/stix-sample"
[ -x "$sample_bin" ] || fail "$sample_bin is not built"
validator="$KW_SOURCE_DIR/tests/e2e/stix_validate.mjs"
[ -f "$validator" ] || fail "$validator is missing"

npm_dir="$KW_BIN_DIR/npm"
if [ ! -f "$npm_dir/node_modules/ajv/dist/2020.js" ] || [ ! -d "$npm_dir/node_modules/ajv-formats" ]; then
    mkdir -p "$npm_dir"
    [ -f "$npm_dir/package.json" ] || echo '{"name":"kw-stix-validate","private":true}' > "$npm_dir/package.json"
    echo "test_stix_schema: installing ajv and ajv-formats into $npm_dir"
    npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error ajv@8 ajv-formats@3 \
        || fail "npm install of ajv/ajv-formats failed"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$sample_bin" "$work/sample.json" || fail "stix-sample failed"
KW_NPM_DIR="$npm_dir" node "$validator" --self-contained "$schemas" "$work/sample.json" \
    || fail "the export does not validate"

# The validator must also catch errors, or a pass means nothing: break one field.
node -e '
const fs = require("fs");
const b = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const i = b.objects.find((o) => o.type === "indicator");
i.created = "yesterday";
fs.writeFileSync(process.argv[2], JSON.stringify(b));
' "$work/sample.json" "$work/broken.json"
if KW_NPM_DIR="$npm_dir" node "$validator" --self-contained "$schemas" "$work/broken.json" > "$work/broken.out"; then
    fail "the validator accepted a broken bundle"
fi
grep -q "created" "$work/broken.out" || fail "the validator did not name the broken field"

echo "test_stix_schema: PASS"
