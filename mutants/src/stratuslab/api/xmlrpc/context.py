"""OpenNebula CONTEXT=[...] -> what RunInstance takes: context variables, SSH keys, hostname.

StratusLab writes some context variables itself (the hostname from the VM's name, the SSH key,
INSTANCE_ID, ETH<n>_* from the leases), so a template's values for those are translated instead
of passed on: HOSTNAME / SET_HOSTNAME name the VM (hence the guest), SSH_PUBLIC_KEY (and the
PUBLIC_KEY / SSH_KEY spellings) become SSH keys, and OpenNebula variable references such as
"$NAME", "$NIC[IP]" or "$USER[SSH_PUBLIC_KEY]" in those keys are dropped because the cloud
fills them in.  TARGET and NETWORK steer OpenNebula's context disk and are dropped (the cloud
always provides the disk and the network variables).  A literal INSTANCE_ID or ETH<n>_* value
is refused.  Imports core only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stratuslab.core.errors import InvalidInput

SSH_KEYS = frozenset({"SSH_PUBLIC_KEY", "PUBLIC_KEY", "SSH_KEY"})
HOSTNAMES = frozenset({"HOSTNAME", "SET_HOSTNAME"})
#: attributes of OpenNebula's CONTEXT vector that steer the context disk, not guest variables
DIRECTIVES = frozenset({"TARGET", "NETWORK"})


@dataclass(frozen=True, slots=True)
class OneContext:
    variables: dict[str, str]
    ssh_keys: tuple[str, ...]
    hostname: str | None


def translate(context: Mapping[str, str]) -> OneContext:
    variables: dict[str, str] = {}
    keys: list[str] = []
    hostname = None
    for key, value in context.items():
        upper = key.strip().upper()
        variable = value.strip().startswith("$")
        if upper in DIRECTIVES:
            continue  # the context disk's device and the ETH<n>_* variables: always ours
        if upper in SSH_KEYS:
            if value.strip() and not variable:
                keys.append(value.strip())
        elif upper in HOSTNAMES:
            if value.strip() and not variable:
                hostname = value.strip()
        elif upper == "INSTANCE_ID" or upper.startswith("ETH"):
            if value.strip() and not variable:
                raise InvalidInput(
                    f"CONTEXT {upper}={value!r}: StratusLab sets {upper} itself",
                    hint=f"drop {upper} from CONTEXT (or use another variable name)",
                )
        else:
            variables[key] = value
    return OneContext(variables, tuple(keys), hostname)
