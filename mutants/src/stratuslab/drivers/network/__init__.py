"""Network drivers: `bridge` (Linux bridges, VXLAN/802.1Q, dnsmasq, nftables) and `simulated`."""
