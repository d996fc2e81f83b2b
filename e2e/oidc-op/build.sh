#!/usr/bin/env bash
# Builds the second OpenID Connect provider of the tests (zitadel/oidc's
# example OP, pinned in build/op/go.mod, wrapped by build/op/main.go) into
# ~/.cache/slipway/oidc-op-bin/<key>/ and prints that folder (see e2e/lib/build-go-tool.sh).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../lib/build-go-tool.sh" oidc-op oidc-op-bin "$here/build/op" \
	. "zitadel/oidc's example OP (v3.52.0)"
