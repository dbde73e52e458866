#!/bin/sh
# StratusLab tiny guest, stage 1 (/init of the initramfs): mount the kernel file systems, load
# the modules the image ships, then switch to the root disk named by root= (a /dev path,
# LABEL= or UUID=) or stay in RAM.
# Busybox init (PID 1 afterwards) runs /etc/stratuslab/rc.sh for contextualization.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
set -f
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 4 > /proc/sys/kernel/printk
while read -r mod; do
    [ -n "$mod" ] && insmod "/lib/modules/$mod" 2>/dev/null
done < /lib/modules/load.list

root=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        root=*) root=${arg#root=} ;;
    esac
done

dev=""
i=0
while [ -n "$root" ] && [ "$i" -lt 50 ]; do
    case "$root" in
        LABEL=*|UUID=*) dev=$(findfs "$root" 2>/dev/null) ;;
        /dev/*) [ -b "$root" ] && dev=$root ;;
    esac
    [ -n "$dev" ] && break
    sleep 0.1
    i=$((i + 1))
done
if [ -n "$dev" ] && mount -t ext4 -o rw "$dev" /newroot 2>/dev/null; then
    if [ -x /newroot/sbin/init ]; then
        mount --move /dev /newroot/dev
        mount --move /sys /newroot/sys
        mount --move /proc /newroot/proc
        exec switch_root /newroot /sbin/init
    fi
    umount /newroot
fi
[ -n "$root" ] && echo "stratuslab: root $root is missing or holds no system; staying in RAM"
exec /sbin/init
