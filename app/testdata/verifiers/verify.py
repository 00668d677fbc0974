"""Verifies miniauth access tokens the way a Python service would, with
PyJWT's PyJWKClient (see docs/verifying-tokens.md). Input, in the
environment: JWKS_URL, ALG, ISSUER, AUDIENCE and TOKENS (a JSON array).
Output: one JSON array on stdout, per token {ok, kid, sub, roles} or
{ok: false, error}."""
import json
import os
import sys

import jwt

client = jwt.PyJWKClient(os.environ["JWKS_URL"])
results = []
for token in json.loads(os.environ["TOKENS"]):
    try:
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[os.environ["ALG"]],
            issuer=os.environ["ISSUER"],
            audience=os.environ["AUDIENCE"],
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        results.append({"ok": True, "kid": jwt.get_unverified_header(token)["kid"],
                        "sub": claims["sub"], "roles": claims.get("roles")})
    except Exception as err:  # every refusal is a result, not a crash
        results.append({"ok": False, "error": f"{type(err).__name__}: {err}"})
sys.stdout.write(json.dumps(results))
