// SPDX-License-Identifier: Apache-2.0
//
// Validates a STIX 2.1 bundle file against the official OASIS JSON schemas (draft 2020-12),
// offline:
//
//   KW_NPM_DIR=<dir with node_modules/ajv and ajv-formats> \
//     node stix_validate.mjs [--self-contained] <stix2.1-schemas folder> <bundle.json>
//
// Every schema under <folder>/schemas is registered with addSchema, so the $ref URLs
// (http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/...)
// resolve to the local files through their $id. The bundle is checked against the bundle
// schema, then each object against the schema for its type; marking-definition objects
// that carry the TLP 2.0 extension are also checked against
// <folder>/extensions/tlp-2.0/extension-definition--60a3c5c5-....json.
// A few rules the schemas cannot express are checked too (modified >= created,
// valid_until > valid_from). With --self-contained, every created_by_ref and
// object_marking_refs must also name an object of the bundle: kawan's export promises that,
// while STIX in general allows references to objects held elsewhere (e.g. the predefined
// TLP 1.0 markings).
//
// Prints one line per error and exits 1 if there was any (2 for usage or setup problems).

import { createRequire } from 'node:module';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const TLP2_EXT = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d';
const BASE = 'http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/';

function die(msg) {
    console.error(`stix_validate: ${msg}`);
    process.exit(2);
}

const args = process.argv.slice(2);
const selfContained = args[0] === '--self-contained';
if (selfContained) {
    args.shift();
}
if (args.length !== 2) {
    die('usage: node stix_validate.mjs [--self-contained] <stix2.1-schemas folder> <bundle.json>');
}
const schemaRoot = resolve(args[0]);
const bundlePath = args[1];
const npmDir = process.env.KW_NPM_DIR;
if (!npmDir) {
    die('KW_NPM_DIR is not set (the folder holding node_modules/ajv and ajv-formats)');
}

// ajv is CommonJS; load it from the npm cache folder rather than from next to this script.
const require = createRequire(join(resolve(npmDir), 'package.json'));
let Ajv2020, addFormats;
try {
    const ajvMod = require('ajv/dist/2020');
    Ajv2020 = ajvMod.default ?? ajvMod;
    const fmtMod = require('ajv-formats');
    addFormats = fmtMod.default ?? fmtMod;
} catch (e) {
    die(`cannot load ajv/ajv-formats from ${npmDir}: ${e.message}`);
}

// unicodeRegExp: false because the schemas' patterns use escapes such as "\-" that the
// JavaScript 'u' flag rejects.
const ajv = new Ajv2020({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
// ajv-formats has no idn-hostname (domain-name objects use it): accept one token without
// whitespace or slashes, at most 253 characters.
ajv.addFormat('idn-hostname', (s) => /^[^\s/]{1,253}$/.test(s));

function walk(dir) {
    const out = [];
    for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) {
            out.push(...walk(p));
        } else if (name.endsWith('.json')) {
            out.push(p);
        }
    }
    return out;
}

const schemaDir = join(schemaRoot, 'schemas');
const registered = new Set();
let count = 0;
for (const file of walk(schemaDir)) {
    const schema = JSON.parse(readFileSync(file, 'utf8'));
    if (!schema.$id) {
        die(`${file} has no $id`);
    }
    ajv.addSchema(schema);
    registered.add(schema.$id);
    count++;
}
if (count === 0) {
    die(`no schemas found under ${schemaDir}`);
}
const tlpFile = join(schemaRoot, 'extensions', 'tlp-2.0', `${TLP2_EXT}.json`);
const tlpSchema = JSON.parse(readFileSync(tlpFile, 'utf8'));
ajv.addSchema(tlpSchema);

// Object type -> schema $id, from the folders that hold one schema per type.
const byType = new Map();
for (const sub of ['sdos', 'sros', 'observables']) {
    for (const name of readdirSync(join(schemaDir, sub))) {
        if (name.endsWith('.json')) {
            byType.set(name.slice(0, -5), `${BASE}${sub}/${name}`);
        }
    }
}
byType.set('marking-definition', `${BASE}common/marking-definition.json`);
byType.set('language-content', `${BASE}common/language-content.json`);
byType.set('extension-definition', `${BASE}common/extension-definition.json`);

let errors = 0;
function report(where, msg) {
    errors++;
    console.log(`${bundlePath}: ${where}: ${msg}`);
}

function check(schemaId, data, where, label) {
    const validate = ajv.getSchema(schemaId);
    if (!validate) {
        report(where, `schema ${schemaId} is not loaded`);
        return;
    }
    if (!validate(data)) {
        for (const e of validate.errors) {
            const params = e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : '';
            report(where, `${label}: ${e.instancePath || '/'} ${e.message}${params}`);
        }
    }
}

let bundle;
try {
    bundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
} catch (e) {
    report('file', `not readable JSON: ${e.message}`);
    process.exit(1);
}

check(`${BASE}common/bundle.json`, bundle, 'bundle', 'bundle.json');

const objects = Array.isArray(bundle.objects) ? bundle.objects : [];
const ids = new Set(objects.map((o) => o && o.id));
objects.forEach((o, i) => {
    const where = `objects[${i}] ${o && o.id ? o.id : ''}`.trim();
    if (!o || typeof o !== 'object') {
        report(where, 'not an object');
        return;
    }
    const schemaId = byType.get(o.type);
    if (!schemaId) {
        report(where, `no schema for type '${o.type}'`);
    } else {
        check(schemaId, o, where, `${o.type}.json`);
    }
    if (o.type === 'marking-definition' && o.extensions && o.extensions[TLP2_EXT]) {
        check(tlpSchema.$id, o, where, 'tlp-2.0 extension');
    }
    // What the schemas leave to the specification text.
    if (o.created && o.modified && Date.parse(o.modified) < Date.parse(o.created)) {
        report(where, 'modified is earlier than created');
    }
    if (o.type === 'indicator' && o.valid_until && Date.parse(o.valid_until) <= Date.parse(o.valid_from)) {
        report(where, 'valid_until is not later than valid_from');
    }
    if (selfContained && o.created_by_ref && !ids.has(o.created_by_ref)) {
        report(where, `created_by_ref ${o.created_by_ref} is not in the bundle`);
    }
    for (const ref of selfContained ? o.object_marking_refs || [] : []) {
        if (!ids.has(ref)) {
            report(where, `object_marking_refs ${ref} is not in the bundle`);
        }
    }
});
// Several versions of one object may share a bundle, but not the same version twice.
const versions = new Set(objects.map((o) => o && `${o.id} ${o.modified ?? ''}`));
if (versions.size !== objects.length) {
    report('bundle', 'an object appears twice with the same id and modified');
}

if (errors > 0) {
    console.log(`${bundlePath}: ${errors} error(s) in ${objects.length} objects`);
    process.exit(1);
}
console.log(`${bundlePath}: ${objects.length} objects valid (${count} schemas + tlp-2.0)`);
