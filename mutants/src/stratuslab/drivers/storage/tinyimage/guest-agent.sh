#!/bin/sh
# Test agent on the virtio-serial port named agent.0.  One request per line, one answer per line:
#   host -> guest:  <id> <base64 of a shell command>\n
#   guest -> host:  <id> <exit code> <base64 of the combined stdout and stderr>\n
# <id> is [A-Za-z0-9]+; lines with another shape are ignored.
port=""
i=0
while [ -z "$port" ] && [ "$i" -lt 50 ]; do
    for n in /sys/class/virtio-ports/*/name; do
        [ -r "$n" ] || continue
        if [ "$(cat "$n")" = "agent.0" ]; then
            port=/dev/$(basename "${n%/name}")
        fi
    done
    [ -n "$port" ] && [ -c "$port" ] && break
    port=""
    i=$((i + 1))
    sleep 0.2
done
[ -n "$port" ] || exit 0
mkdir -p /run/agent
exec 3<>"$port"
while :; do
    if ! read -r id payload <&3; then
        sleep 0.2
        continue
    fi
    case "$id" in
        ''|*[!A-Za-z0-9]*) continue ;;
    esac
    if printf '%s' "$payload" | base64 -d > /run/agent/cmd 2>/dev/null; then
        sh /run/agent/cmd < /dev/null > /run/agent/out 2>&1
        rc=$?
    else
        echo "agent: request is not base64" > /run/agent/out
        rc=127
    fi
    printf '%s %s %s\n' "$id" "$rc" "$(base64 -w 0 /run/agent/out)" >&3
done
