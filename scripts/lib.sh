#!/usr/bin/env bash
# Shell helpers shared by scripts/demo.sh and scripts/test.sh. Source it; it defines functions only.

# start_api_server DIR [server options...]: start tools/sendgrid_api_server.py on a free loopback port,
# wait until it listens, and set API_SERVER_URL and API_SERVER_PID. Its output goes to DIR/server.log.
start_api_server() {
    local dir="$1" waited=0
    shift
    rm -f "$dir/server.url"
    python tools/sendgrid_api_server.py --host 127.0.0.1 --port 0 --ready-file "$dir/server.url" "$@" \
        >"$dir/server.log" 2>&1 &
    API_SERVER_PID=$!
    until [[ -s "$dir/server.url" ]]; do
        if ! kill -0 "$API_SERVER_PID" 2>/dev/null || ((waited >= 100)); then
            echo "the local API server did not start:" >&2
            cat "$dir/server.log" >&2
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    API_SERVER_URL="$(cat "$dir/server.url")"
    export API_SERVER_URL API_SERVER_PID
}

# stop_api_server: stop the server started by start_api_server, if any.
stop_api_server() {
    if [[ -n "${API_SERVER_PID:-}" ]]; then
        kill "$API_SERVER_PID" 2>/dev/null || true
        wait "$API_SERVER_PID" 2>/dev/null || true
        API_SERVER_PID=""
    fi
}

# link_collection DIR: make this checkout the collection mailops.sendgrid in DIR/collections,
# and point ANSIBLE_COLLECTIONS_PATH there (ansible-playbook follows the link; ansible-test does not).
link_collection() {
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    mkdir -p "$1/collections/ansible_collections/mailops"
    ln -sfn "$root" "$1/collections/ansible_collections/mailops/sendgrid"
    export ANSIBLE_COLLECTIONS_PATH="$1/collections"
}
