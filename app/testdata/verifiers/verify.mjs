// Verifies miniauth access tokens the way a Node.js service would, with
// jose's remote JWKS (see docs/verifying-tokens.md). Input, in the
// environment: JWKS_URL, ALG, ISSUER, AUDIENCE and TOKENS (a JSON array).
// Output: one JSON array on stdout, per token {ok, kid, sub, roles} or
// {ok: false, error}.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const jwks = createRemoteJWKSet(new URL(process.env.JWKS_URL));
const results = [];
for (const token of JSON.parse(process.env.TOKENS)) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      algorithms: [process.env.ALG],
      issuer: process.env.ISSUER,
      audience: process.env.AUDIENCE,
      requiredClaims: ['exp', 'sub'],
    });
    results.push({ ok: true, kid: protectedHeader.kid, sub: payload.sub, roles: payload.roles });
  } catch (err) {
    results.push({ ok: false, error: `${err.code || err.name}: ${err.message}` });
  }
}
process.stdout.write(JSON.stringify(results));
