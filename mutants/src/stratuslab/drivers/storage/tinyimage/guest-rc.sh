#!/bin/sh
# StratusLab tiny guest, stage 2 (busybox init sysinit): contextualization, then one ready line.
# Context values are data: they are parsed by awk into files and only ever used as quoted
# arguments; nothing from a context medium is evaluated or sourced.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
set -f  # word splitting of context values must never expand file names
PARSE=/etc/stratuslab/parse.awk
RUN=/run/stratuslab

mounted() { grep -q " $1 " /proc/mounts 2>/dev/null; }
say() { printf '%s\n' "$*"; }
mask_to_prefix() {
    case "$1" in
        *.*.*.*) ;;
        '') say 24; return ;;
        *) say "$1"; return ;;
    esac
    bits=0
    old_ifs=$IFS
    IFS=.
    for octet in $1; do
        case "$octet" in
            255) bits=$((bits + 8)) ;; 254) bits=$((bits + 7)) ;; 252) bits=$((bits + 6)) ;;
            248) bits=$((bits + 5)) ;; 240) bits=$((bits + 4)) ;; 224) bits=$((bits + 3)) ;;
            192) bits=$((bits + 2)) ;; 128) bits=$((bits + 1)) ;;
        esac
    done
    IFS=$old_ifs
    say "$bits"
}
mounted /proc || mount -t proc proc /proc
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp
mounted /dev/pts || mount -t devpts devpts /dev/pts
mounted /run || mount -t tmpfs -o mode=0755 tmpfs /run
mounted /tmp || mount -t tmpfs tmpfs /tmp
mkdir -p "$RUN/media" "$RUN/ctx"
ip link set lo up
# the ACPI power button works from the start, so a powerdown during contextualization counts
acpid -c /etc/acpi -l /run/acpid.log

# --- find the context media by ISO9660 volume label (devices appear asynchronously) -----------
iso_label() {
    dd if="$1" bs=8 skip=4101 count=4 2>/dev/null | tr -d '\000' | sed 's/ *$//'
}
find_media() {
    for name in $(ls /sys/class/block); do
        dev=/dev/$name
        [ -b "$dev" ] || continue
        label=$(iso_label "$dev" | tr 'a-z' 'A-Z')
        case "$label" in
            CIDATA|CONTEXT)
                [ -d "$RUN/media/$label" ] && continue
                mkdir -p "$RUN/media/$label" "$RUN/mnt"
                if mount -t iso9660 -o ro "$dev" "$RUN/mnt" 2>/dev/null; then
                    cp -r "$RUN/mnt/." "$RUN/media/$label/"
                    umount "$RUN/mnt"
                else
                    rmdir "$RUN/media/$label"
                fi
                ;;
        esac
    done
}
i=0
while [ "$i" -lt 30 ]; do
    find_media
    [ -n "$(ls "$RUN/media")" ] && break
    sleep 0.1
    i=$((i + 1))
done
[ -n "$(ls "$RUN/media")" ] && { sleep 0.3; find_media; }

# --- gather: hostname, ssh keys, network plan ("<id> <field> <value>" records) -----------------
HOSTNAME_WANTED=""
: > "$RUN/keys"
: > "$RUN/netplan"
ctx_value() { cat "$RUN/ctx/$1" 2>/dev/null; }
if [ -f "$RUN/media/CONTEXT/context.sh" ]; then
    awk -v mode=shellvars -v out="$RUN/ctx" -f "$PARSE" "$RUN/media/CONTEXT/context.sh"
    HOSTNAME_WANTED=$(ctx_value SET_HOSTNAME)
    [ -n "$HOSTNAME_WANTED" ] || HOSTNAME_WANTED=$(ctx_value HOSTNAME)
    ctx_value SSH_PUBLIC_KEY > "$RUN/keys"
    n=0
    while [ "$n" -lt 8 ]; do
        e=ETH$n
        mac=$(ctx_value "${e}_MAC")
        ip4=$(ctx_value "${e}_IP")
        ip6=$(ctx_value "${e}_IP6")
        gw4=$(ctx_value "${e}_GATEWAY")
        gw6=$(ctx_value "${e}_GATEWAY6")
        [ -n "$mac" ] && say "$e mac $mac"
        [ -n "$ip4" ] && say "$e addr $ip4/$(mask_to_prefix "$(ctx_value "${e}_MASK")")"
        [ -n "$ip6" ] && say "$e addr $ip6/$(ctx_value "${e}_IP6_PREFIX_LENGTH" || say 64)"
        [ -n "$gw4" ] && say "$e gw4 $gw4"
        [ -n "$gw6" ] && say "$e gw6 $gw6"
        for d in $(ctx_value "${e}_DNS"); do say "$e dns $d"; done
        n=$((n + 1))
    done > "$RUN/netplan"
elif [ -d "$RUN/media/CIDATA" ]; then
    M="$RUN/media/CIDATA"
    if head -n 1 "$M/user-data" 2>/dev/null | grep -q '^#cloud-config'; then
        HOSTNAME_WANTED=$(awk -v mode=scalar -v want=hostname -f "$PARSE" "$M/user-data")
        awk -v mode=list -v want=ssh_authorized_keys -f "$PARSE" "$M/user-data" > "$RUN/keys"
    fi
    [ -n "$HOSTNAME_WANTED" ] || HOSTNAME_WANTED=$(awk -v mode=scalar -v want=local-hostname \
        -f "$PARSE" "$M/meta-data" 2>/dev/null)
    awk -v mode=list -v want=public-keys -f "$PARSE" "$M/meta-data" >> "$RUN/keys" 2>/dev/null
    [ -f "$M/network-config" ] && awk -v mode=netcfg -f "$PARSE" "$M/network-config" > "$RUN/netplan"
fi

# --- hostname ----------------------------------------------------------------------------------
name=$(printf '%s' "$HOSTNAME_WANTED" | tr '_' '-' | tr -cd 'A-Za-z0-9.-' | cut -c1-64)
[ -n "$name" ] || name=stratuslab
hostname "$name"
say "$name" > /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 localhost\n' "$name" > /etc/hosts

# --- SSH keys ----------------------------------------------------------------------------------
if [ -s "$RUN/keys" ]; then
    mkdir -p /root/.ssh
    chmod 700 /root/.ssh
    awk 'NF && !seen[$0]++' "$RUN/keys" > /root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
fi

# --- network: static addresses matched by MAC (or interface name), else DHCP; IPv6 by RA ---------
plan_ids() { # the plan entries that designate interface $1 with MAC $2
    awk -v mac="$2" 'tolower($2) == "mac" && tolower($3) == tolower(mac) { print $1 }' "$RUN/netplan"
    awk -v ifc="$1" '$1 == ifc { named = 1 } $1 == ifc && $2 == "mac" { matched = 1 }
        END { if (named && !matched) print ifc }' "$RUN/netplan"
}
plan_field() { # values of field $2 in plan entry $1
    awk -v id="$1" -v f="$2" '$1 == id && $2 == f { print $3 }' "$RUN/netplan"
}
: > "$RUN/resolv"
dhcp_pids=""
wait_v6=0
for ifc in $(ls /sys/class/net); do
    [ "$ifc" = lo ] && continue
    mac=$(cat "/sys/class/net/$ifc/address")
    echo 0 > "/proc/sys/net/ipv6/conf/$ifc/dad_transmits" 2>/dev/null
    ip link set "$ifc" up
    has_v4=0
    has_v6=0
    for id in $(plan_ids "$ifc" "$mac"); do
        for a in $(plan_field "$id" addr); do
            case "$a" in
                *:*) ip -6 addr add "$a" dev "$ifc" && has_v6=1 ;;
                *) ip addr add "$a" dev "$ifc" && has_v4=1 ;;
            esac
        done
        for g in $(plan_field "$id" gw4); do ip route replace default via "$g" dev "$ifc"; done
        for g in $(plan_field "$id" gw6); do ip -6 route replace default via "$g" dev "$ifc"; done
        plan_field "$id" dns >> "$RUN/resolv"
    done
    if [ "$has_v4" = 0 ]; then
        udhcpc -i "$ifc" -s /etc/stratuslab/udhcpc.sh -t 4 -T 1 -A 2 -n \
            -p "/run/udhcpc.$ifc.pid" > /dev/null 2>&1 &
        dhcp_pids="$dhcp_pids $!"
    fi
    [ "$has_v6" = 0 ] && wait_v6=1
done
for pid in $dhcp_pids; do wait "$pid"; done
if [ -s "$RUN/resolv" ]; then
    while read -r d; do say "nameserver $d"; done < "$RUN/resolv" > /etc/resolv.conf
fi
i=0
while [ "$wait_v6" = 1 ] && [ "$i" -lt 30 ] \
    && [ -z "$(ip -6 -o addr show scope global 2>/dev/null)" ]; do
    sleep 0.1
    i=$((i + 1))
done

# --- test agent, ready line ---------------------------------------------------
setsid /etc/stratuslab/agent.sh < /dev/null > /dev/null 2>&1 &

addresses() { # $1 = 4 | 6: the global addresses configured, comma separated
    ip "-$1" -o addr show scope global 2>/dev/null \
        | awk '{ split($4, a, "/"); printf "%s%s", sep, a[1]; sep = "," }'
}
line="stratuslab-ready hostname=$(hostname) ipv4=$(addresses 4) ipv6=$(addresses 6)"
say "$line" > "$RUN/ready"
printf '\n%s\n' "$line" > /dev/console
