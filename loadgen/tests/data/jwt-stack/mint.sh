#!/bin/sh
# Prints an RS256 JWT for issuer $1, audience app-client, valid $2 seconds, signed with the
# local stack's test key (kid k1): what an identity provider's token endpoint would hand out.
set -eu
key="$(dirname "$0")/../../../../local-stack/tests/data/jwt/test-key.pk8"
b64() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
head=$(printf '{"alg":"RS256","kid":"k1","typ":"JWT"}' | b64)
body=$(printf '{"iss":"%s","aud":"app-client","sub":"load","exp":%d,"iat":%d}' "$1" $((now + $2)) "$now" | b64)
sig=$(printf '%s.%s' "$head" "$body" | openssl dgst -sha256 -sign "$key" -keyform DER | b64)
printf '%s.%s.%s\n' "$head" "$body" "$sig"
