// validate.mjs ONTOLOGY.ttl DATA.jsonld
//
// Validates a JSON-LD document against the CASE/UCO ontology and its SHACL
// shapes (including sh:sparql constraints) with shacl-engine, the way CASE's
// own validator does: owl:imports dropped (the monolithic build contains
// them), the ontology mixed into the data graph (so sh:class sees
// rdfs:subClassOf), and the TBox-review shapes (those targeting OWL, RDFS,
// SHACL or collection constructs, i.e. the ontology itself) deactivated.
// Prints every result; exits 0 when there is none, 1 when there is any
// (Info included: CASE reports IRIs not ending in a UUID as Info), 2 on a
// usage or parse error.
import { readFileSync } from 'node:fs'
import rdf from 'rdf-ext'
import { Parser } from 'n3'
import jsonld from 'jsonld'
import { Validator } from 'shacl-engine'
import { validations as sparqlValidations } from 'shacl-engine/sparql.js'

const [ontologyPath, dataPath] = process.argv.slice(2)
if (!ontologyPath || !dataPath) {
  console.error('usage: node validate.mjs ONTOLOGY.ttl DATA.jsonld')
  process.exit(2)
}

const ns = {
  owl: 'http://www.w3.org/2002/07/owl#',
  rdf: 'http://www.w3.org/1999/02/22-rdf-syntax-ns#',
  rdfs: 'http://www.w3.org/2000/01/rdf-schema#',
  sh: 'http://www.w3.org/ns/shacl#',
  xsd: 'http://www.w3.org/2001/XMLSchema#'
}
const tboxPrefixes = [ns.owl, ns.rdf, ns.rdfs, ns.sh, 'http://purl.org/co/',
  'https://ontology.unifiedcyberontology.org/owl/', 'https://ontology.unifiedcyberontology.org/co/']
const targetPredicates = ['targetClass', 'targetSubjectsOf', 'targetObjectsOf', 'targetNode'].map(p => ns.sh + p)

function parse (text, format) {
  return rdf.dataset(new Parser({ format, factory: rdf }).parse(text))
}

async function main () {
  const ontology = parse(readFileSync(ontologyPath, 'utf8'), 'text/turtle')
  for (const q of [...ontology.match(null, rdf.namedNode(ns.owl + 'imports'))]) ontology.delete(q)
  // Deactivate the TBox-review shapes.
  const deactivated = rdf.namedNode(ns.sh + 'deactivated')
  const yes = rdf.literal('true', rdf.namedNode(ns.xsd + 'boolean'))
  for (const q of [...ontology]) {
    if (targetPredicates.includes(q.predicate.value) && tboxPrefixes.some(p => q.object.value.startsWith(p))) {
      ontology.add(rdf.quad(q.subject, deactivated, yes))
    }
    if (q.predicate.value === ns.rdf + 'type' && q.object.value.startsWith(ns.sh) &&
        tboxPrefixes.some(p => q.subject.termType === 'NamedNode' && q.subject.value.startsWith(p))) {
      ontology.add(rdf.quad(q.subject, deactivated, yes))
    }
  }

  const doc = JSON.parse(readFileSync(dataPath, 'utf8'))
  const nquads = await jsonld.toRDF(doc, { format: 'application/n-quads', safe: true })
  const data = parse(nquads, 'N-Quads')
  let blank = 0
  for (const q of data) if (q.subject.termType === 'BlankNode') blank++
  const dataGraph = rdf.dataset([...data, ...ontology])

  const validator = new Validator(ontology, { factory: rdf, validations: sparqlValidations })
  const report = await validator.validate({ dataset: dataGraph })
  const results = report.results
  for (const r of results) {
    const msg = (r.message || []).map(m => m.value).join('; ')
    console.log(`${r.severity?.value?.replace(ns.sh, 'sh:')} focus=${r.focusNode?.term?.value ?? r.focusNode?.value} ` +
      `path=${r.path?.map?.(p => p.predicates?.map(x => x.value).join('|')).join('/') ?? ''} ` +
      `constraint=${r.constraintComponent?.value?.replace(ns.sh, 'sh:')} ${msg}`)
  }
  console.log(`triples=${data.size} blank-node-subjects=${blank} results=${results.length} conforms=${results.length === 0}`)
  process.exit(results.length === 0 ? 0 : 1)
}

main().catch(err => { console.error(err); process.exit(2) })
