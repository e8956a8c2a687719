#!/usr/bin/env bash
# Makes sure an nginx that can run the cluster's routing (tools/cluster/nginx.mjs, the routing
# tests) is installed, and prints its version. Idempotent: does nothing when nginx is there.
#
# On Debian/Ubuntu it installs the `nginx` package (NGINX_PACKAGE overrides). In bookworm that
# package is the core binary, which has the upstream hash module (`hash ... consistent`) built in;
# `nginx-light` there is only `nginx` plus the echo module. `apt-get update` runs before an
# install (a fresh machine's package lists may be stale or empty). Needs root (or password-less sudo); never starts the nginx service.
set -euo pipefail

package="${NGINX_PACKAGE:-nginx}"

find_nginx() {
  if [ -n "${NGINX_BIN:-}" ] && [ -x "${NGINX_BIN}" ]; then
    echo "${NGINX_BIN}"
    return 0
  fi
  local candidate
  candidate="$(command -v nginx 2>/dev/null || true)"
  if [ -n "$candidate" ]; then
    echo "$candidate"
    return 0
  fi
  for candidate in /usr/sbin/nginx /usr/local/sbin/nginx /usr/local/nginx/sbin/nginx; do
    if [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# supports_consistent_hash BIN: true when BIN accepts the directives the routing needs.
supports_consistent_hash() {
  local bin="$1" dir status
  dir="$(mktemp -d)"
  cat >"$dir/nginx.conf" <<EOF
events {}
http {
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  map \$arg_site \$chat_site { "" \$remote_addr; default \$arg_site; }
  upstream chat_slaves {
    zone chat_slaves 64k;
    hash \$chat_site consistent;
    server 127.0.0.1:9 max_fails=1 fail_timeout=2s;
    keepalive 8;
  }
}
EOF
  status=0
  "$bin" -t -q -p "$dir" -c "$dir/nginx.conf" -e stderr -g "pid $dir/nginx.pid;" || status=$?
  rm -rf "$dir"
  return "$status"
}

report() {
  local bin="$1"
  echo "nginx: $bin ($("$bin" -v 2>&1 | sed 's/^nginx version: //'))"
}

if bin="$(find_nginx)"; then
  if supports_consistent_hash "$bin"; then
    report "$bin"
    exit 0
  fi
  echo "ERROR: $bin does not accept 'hash \$key consistent' (upstream hash module missing)." >&2
  echo "       Install a build with ngx_http_upstream_hash_module or set NGINX_BIN." >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ERROR: nginx is not installed and this is not a Debian-like system (no apt-get)." >&2
  echo "       Install nginx (with the upstream hash module) and put it on PATH or set NGINX_BIN." >&2
  exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "ERROR: nginx is not installed and installing it needs root:" >&2
    echo "       sudo apt-get install -y --no-install-recommends $package" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Debian's maintainer scripts start the service right after installing it; we only want the
# binary. A policy-rc.d that exits 101 forbids that (the usual trick of container images). An
# existing policy is left alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  "${sudo[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 0755 $policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi

install() {
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold "$package"
}

echo "installing $package with apt-get (package lists refreshed first)"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
install

if ! bin="$(find_nginx)"; then
  echo "ERROR: $package was installed but no nginx binary was found." >&2
  exit 1
fi
if ! supports_consistent_hash "$bin"; then
  echo "ERROR: the installed $bin does not accept 'hash \$key consistent'." >&2
  exit 1
fi
report "$bin"
