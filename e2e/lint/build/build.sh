#!/usr/bin/env bash
# Builds kube-score, pinned in kube-score/go.mod, into
# ~/.cache/slipway/lint-bin/<key>/ and prints that folder (see e2e/lib/build-go-tool.sh).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../lib/build-go-tool.sh" kube-score lint-bin "$here/kube-score" \
	github.com/zegl/kube-score/cmd/kube-score kube-score
