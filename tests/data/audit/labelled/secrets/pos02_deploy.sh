#!/bin/sh
set -eu
export GITHUB_TOKEN=@@github-token@@
gh release create "v$VERSION" dist/*
