#!/bin/sh
# udhcpc event script: apply the lease to the interface (values come from the DHCP server and
# are only ever passed as arguments, never evaluated).
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        for r in $router; do
            ip route replace default via "$r" dev "$interface"
            break
        done
        if [ -n "$dns" ]; then
            : > /etc/resolv.conf
            for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
        fi
        ;;
esac
exit 0
