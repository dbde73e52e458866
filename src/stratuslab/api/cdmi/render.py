"""CDMI JSON documents: containers, data objects, capabilities.

Imports only the standard library, `core` and this package.
"""

from __future__ import annotations

import base64
from typing import Any

from stratuslab.api.cdmi import wire
from stratuslab.core.objects import StoredObject

CAPS_ID = {  # fixed, valid CDMI object IDs of the capability objects
    "": "000000000018A22600000000000000000000000000000000",
    "container/": "00000000001862E700000000000000000000000000000001",
    "dataobject/": "00000000001863A700000000000000000000000000000002",
}
COMMON_CAPS = {
    "cdmi_read_metadata": "true", "cdmi_modify_metadata": "true", "cdmi_size": "true",
    "cdmi_ctime": "true", "cdmi_mtime": "true", "cdmi_acount": "false",
    "cdmi_delete_container": "true", "cdmi_object_access_by_ID": "true",
}
ROOT_CAPS = {
    "cdmi_domains": "false", "cdmi_export_nfs": "false", "cdmi_queues": "false",
    "cdmi_notification": "false", "cdmi_query": "false", "cdmi_snapshots": "false",
    "cdmi_dataobjects": "true", "cdmi_security_access_control": "false",
    "cdmi_serialization_json": "false", "cdmi_object_copy_from_local": "false",
    "cdmi_object_move_from_local": "false", "cdmi_post_dataobject_by_ID": "false",
}
CONTAINER_CAPS = {
    **COMMON_CAPS, "cdmi_list_children": "true", "cdmi_list_children_range": "true",
    "cdmi_create_dataobject": "true", "cdmi_post_dataobject": "true",
    "cdmi_create_container": "true",
}
DATA_CAPS = {
    **COMMON_CAPS, "cdmi_read_value": "true", "cdmi_read_value_range": "true",
    "cdmi_modify_value": "true", "cdmi_modify_value_range": "false",
    "cdmi_delete_dataobject": "true",
}


def system_metadata(obj: StoredObject) -> dict[str, Any]:
    meta: dict[str, Any] = dict(obj.metadata)
    meta.update(cdmi_owner=obj.owner,
                cdmi_ctime=obj.created_at.isoformat() if obj.created_at else "",
                cdmi_mtime=obj.updated_at.isoformat() if obj.updated_at else "")
    if obj.kind == "object":
        meta["cdmi_size"] = str(obj.size)
    return meta


def base_document(obj: StoredObject, *, prefix: str, path: str, parent_id: str) -> dict[str, Any]:
    container = obj.kind == "container"
    parent_path = path.rstrip("/").rsplit("/", 1)[0] + "/" if path else ""
    doc: dict[str, Any] = {
        "objectType": wire.CONTAINER if container else wire.OBJECT,
        "objectID": obj.object_id,
        "objectName": (obj.name + ("/" if container else "")) if obj.name else obj.object_id,
        "parentURI": prefix + parent_path if path else f"{prefix}/cdmi_objectid/{obj.parent}/",
        "parentID": parent_id,
        "domainURI": f"{prefix}/cdmi_domains/",
        "capabilitiesURI": f"{prefix}/cdmi_capabilities/{'container' if container else 'dataobject'}/",
        "completionStatus": "Complete",
        "metadata": system_metadata(obj),
    }
    if not container:
        doc["mimetype"] = obj.mimetype
    return doc


def value_fields(data: bytes, mimetype: str, start: int) -> dict[str, Any]:
    """value, valuerange and valuetransferencoding of (a range of) a data object."""
    text: str | None = None
    if mimetype.startswith("text/") or mimetype in ("application/json", "application/xml"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    encoding = "utf-8" if text is not None else "base64"
    value = text if text is not None else base64.b64encode(data).decode()
    end = start + len(data) - 1
    return {"valuetransferencoding": encoding, "valuerange": f"{start}-{max(end, start - 1)}",
            "value": value}


def capability(which: str, *, prefix: str, used: int, quota: int) -> dict[str, Any]:
    caps = {"": ROOT_CAPS, "container/": CONTAINER_CAPS, "dataobject/": DATA_CAPS}[which]
    doc: dict[str, Any] = {
        "objectType": wire.CAPABILITY,
        "objectID": CAPS_ID[which],
        "objectName": which or "cdmi_capabilities/",
        "parentURI": f"{prefix}/cdmi_capabilities/" if which else f"{prefix}/",
        "parentID": CAPS_ID[""] if which else "",
        "capabilities": dict(caps),
        "childrenrange": "0-1" if not which else "",
        "children": ["container/", "dataobject/"] if not which else [],
    }
    if not which:  # the caller's own quota, as StratusLab reports it
        doc["capabilities"]["cdmi_assignedsize"] = "true"
        doc["metadata"] = {"cdmi_assignedsize": str(quota) if quota else "unlimited",
                           "stratuslab_used_bytes": str(used)}
    return doc


def select(doc: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k in names} if names else doc
