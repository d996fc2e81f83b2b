#!/usr/bin/env bash
# Builds Dex, pinned in build/dex/go.mod (the commit of its tag v2.45.1), into
# ~/.cache/slipway/dex-bin/<key>/ and prints that folder (see e2e/lib/build-go-tool.sh).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../lib/build-go-tool.sh" dex dex-bin "$here/build/dex" \
	github.com/dexidp/dex/cmd/dex "Dex (tag v2.45.1)"
