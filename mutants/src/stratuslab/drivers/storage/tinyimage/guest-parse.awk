# Parsers for the contextualization media of the StratusLab tiny guest (busybox awk).
# Values are written to files or printed as records; nothing here is ever evaluated by a shell.
#
#   mode=shellvars  out=DIR : context.sh (KEY='value' / KEY="value" / KEY=word) -> DIR/KEY files
#   mode=scalar     want=K  : print the value of the top-level YAML key K (meta-data, user-data)
#   mode=list       want=K  : print the items of the top-level YAML list K, one per line
#   mode=netcfg             : network-config v2 -> "<id> <field> <value>" records where field is
#                             mac | addr | gw4 | gw6 | dns | dhcp4
function trim(v) { sub(/^[ \t]+/, "", v); sub(/[ \t\r]+$/, "", v); return v }
function unq(v,    out, i, n, c) {
    v = trim(v)
    if (v ~ /^'.*'$/) { v = substr(v, 2, length(v) - 2); gsub(/''/, "'", v); return v }
    if (v !~ /^".*"$/) return v
    v = substr(v, 2, length(v) - 2); out = ""; n = length(v)
    for (i = 1; i <= n; i++) {
        c = substr(v, i, 1)
        if (c == "\\" && i < n) {
            i++; c = substr(v, i, 1)
            if (c == "n") c = "\n"; else if (c == "t") c = "\t"
        }
        out = out c
    }
    return out
}
{ text = text $0 "\n" }
END {
    if (mode == "shellvars") shellvars(text)
    else yaml(text)
}

function shellvars(s,    n, c, name, val, q, i) {
    n = length(s); i = 1
    while (i <= n) {
        c = substr(s, i, 1)
        if (c == " " || c == "\t" || c == "\n" || c == ";") { i++; continue }
        if (c == "#") { while (i <= n && substr(s, i, 1) != "\n") i++; continue }
        name = ""
        while (i <= n && substr(s, i, 1) ~ /[A-Za-z0-9_]/) { name = name substr(s, i, 1); i++ }
        if (name == "" || substr(s, i, 1) != "=" || name !~ /^[A-Za-z_]/) {
            while (i <= n && substr(s, i, 1) != "\n") i++   # not an assignment: skip the line
            continue
        }
        i++; val = ""
        while (i <= n) {
            c = substr(s, i, 1)
            if (c == "'") {
                i++
                while (i <= n && substr(s, i, 1) != "'") { val = val substr(s, i, 1); i++ }
                i++
            } else if (c == "\"") {
                i++
                while (i <= n && (c = substr(s, i, 1)) != "\"") {
                    if (c == "\\" && substr(s, i + 1, 1) ~ /["\\$`]/) { i++; c = substr(s, i, 1) }
                    val = val c; i++
                }
                i++
            } else if (c == "\\") {
                val = val substr(s, i + 1, 1); i += 2
            } else if (c == " " || c == "\t" || c == "\n" || c == ";") {
                break
            } else {
                val = val c; i++
            }
        }
        printf "%s", val > (out "/" name)
        close(out "/" name)
    }
}

function yaml(s,    lines, nl, li, line, ind, body, key, val, d, inds, keys, base, rel, j, eth, item) {
    nl = split(s, lines, "\n"); d = 0
    for (li = 1; li <= nl; li++) {
        line = lines[li]; sub(/\r$/, "", line)
        if (line ~ /^[ \t]*(#|$)/) continue
        match(line, /^ */); ind = RLENGTH; body = substr(line, ind + 1)
        item = 0
        if (body ~ /^-([ \t]|$)/) {
            while (d > 0 && inds[d] > ind) d--
            body = trim(substr(body, 2)); item = 1
            if (body !~ /^[A-Za-z0-9_.-]+:([ \t]|$)/) { record(keys, d, "", body); continue }
            ind = ind + 2   # "- key: value": a mapping inside the list item
        }
        if (body !~ /^["']?[A-Za-z0-9_.\/-]+["']?:([ \t]|$)/) continue
        key = unq(substr(body, 1, index(body, ":") - 1))
        val = trim(substr(body, index(body, ":") + 1))
        if (val !~ /^["']/) sub(/[ \t]+#.*$/, "", val)
        while (d > 0 && inds[d] >= ind) d--
        d++; inds[d] = ind; keys[d] = key
        if (val != "") record(keys, d, key, val)
    }
}

function record(keys, d, key, val,    n, parts, i, k) {
    if (val ~ /^\{.*\}$/) {
        n = split(substr(val, 2, length(val) - 2), parts, ",")
        for (i = 1; i <= n; i++) {
            if (index(parts[i], ":") == 0) continue
            k = unq(substr(parts[i], 1, index(parts[i], ":") - 1))
            keys[d + 1] = k
            emit(keys, d + 1, unq(substr(parts[i], index(parts[i], ":") + 1)))
        }
        return
    }
    if (val ~ /^\[.*\]$/) {
        n = split(substr(val, 2, length(val) - 2), parts, ",")
        for (i = 1; i <= n; i++) if (unq(parts[i]) != "") emit(keys, d, unq(parts[i]))
        return
    }
    emit(keys, d, unq(val))
}

function emit(keys, d, val,    base, rel, j, eth, f) {
    if (mode == "scalar") { if (d == 1 && keys[1] == want) print val; return }
    if (mode == "list") { if (d == 1 && keys[1] == want) print val; return }
    base = (keys[1] == "network") ? 2 : 1
    if (keys[base] != "ethernets" || d < base + 2) return
    eth = keys[base + 1]; rel = keys[base + 2]
    for (j = base + 3; j <= d; j++) rel = rel "/" keys[j]
    f = ""
    if (rel == "match/macaddress" || rel == "macaddress") f = "mac"
    else if (rel == "addresses") f = "addr"
    else if (rel == "gateway4") f = "gw4"
    else if (rel == "gateway6") f = "gw6"
    else if (rel == "nameservers/addresses") f = "dns"
    else if (rel == "dhcp4") f = "dhcp4"
    else if (rel == "routes/via") f = (val ~ /:/) ? "gw6" : "gw4"
    if (f != "") print eth, f, val
}
