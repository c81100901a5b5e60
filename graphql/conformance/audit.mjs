// GraphQL-over-HTTP conformance audit (npm graphql-http) against a live `kb serve`:
//   npm install --prefix graphql/conformance graphql@16 graphql-http@1
//   node graphql/conformance/audit.mjs http://127.0.0.1:8000/graphql
// Exits 1 when any audit is in error; prints warnings.
import { auditServer } from 'graphql-http';
const url = process.argv[2];
const results = await auditServer({ url });
let errors = 0, warnings = 0;
for (const r of results) {
  if (r.status === 'error') { errors++; console.log('ERROR', r.id, r.name, r.reason); }
  else if (r.status === 'warn') { warnings++; console.log('WARN ', r.id, r.name, r.reason); }
}
console.log(`${results.length} audits: ${errors} errors, ${warnings} warnings`);
process.exit(errors ? 1 : 0);
