#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100.3) from the npm registry into DEST, for the
# end-to-end test. Nothing else is fetched from the network, which needs three detours:
#   - @vscode/ripgrep's postinstall downloads a ripgrep binary unless its cache already
#     holds the archive, so the cache is seeded with Debian's rg (the same 13.0.0 release);
#   - code-server's postinstall refuses to run as root unless unsafe_perm is set;
#   - node-pty's postinstall runs `npx node-gyp`, which needs npm's `yes` where the user's
#     npm config says no.
# Needs Debian's build-essential, python3, libkrb5-dev and ripgrep.
set -euo pipefail
dest=${1:?usage: install-code-server.sh DEST}
spec=code-server@4.100.3
command -v rg >/dev/null || { echo "ripgrep (rg) is needed: apt-get install ripgrep" >&2; exit 1; }
mkdir -p "$dest"
cd "$dest"
export TMPDIR="$dest/tmp"
cache="$TMPDIR/vscode-ripgrep-cache-1.15.11"
mkdir -p "$cache"
stage=$(mktemp -d)
cp "$(command -v rg)" "$stage/rg"
tar czf "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$stage" rg
rm -rf "$stage"
[ -f package.json ] || echo '{"name":"pairprog-code-server","private":true}' > package.json
npm_config_unsafe_perm=true npm_config_yes=true npm install --no-audit --no-fund "$spec"
test -x node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg
# --config keeps code-server from writing ~/.config/code-server/config.yaml.
XDG_CONFIG_HOME="$dest/xdg" node_modules/.bin/code-server --version
