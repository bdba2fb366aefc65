"""Struct member offsets from the kernel's BTF (/sys/kernel/btf/vmlinux), for the BPF reader.

Only what the page-table reader needs: `task_struct.mm` and `mm_struct.pgd` (the latter sits in
an anonymous struct inside mm_struct on current kernels, so anonymous members are searched).
"""

from __future__ import annotations

import struct
from pathlib import Path

VMLINUX = Path("/sys/kernel/btf/vmlinux")
MAGIC = 0xEB9F
STRUCT, UNION = 4, 5
# Bytes that follow a type record, by kind: a fixed part plus vlen times an item size.
_FIXED = {1: 4, 3: 12, 14: 4, 17: 4}
_PER_ITEM = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}


Member = tuple[int, int, int]  # name offset, type id, bit offset
TypeRecord = tuple[int, int, int, int, list[Member]]  # name offset, kind, size/type, flag, members


def _types(data: bytes) -> tuple[list[TypeRecord], bytes]:
    magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
        "<HBBIIIII", data, 0)
    if magic != MAGIC:
        raise ValueError("not a little-endian BTF blob")
    strings = data[hdr_len + str_off: hdr_len + str_off + str_len]
    pos, end = hdr_len + type_off, hdr_len + type_off + type_len
    types: list[TypeRecord] = [(0, 0, 0, 0, [])]
    while pos < end:
        name_off, info, size_or_type = struct.unpack_from("<III", data, pos)
        pos += 12
        kind, vlen, kind_flag = (info >> 24) & 0x1F, info & 0xFFFF, info >> 31
        members: list[Member] = []
        if kind in (STRUCT, UNION):
            for _ in range(vlen):
                m_name, m_type, m_off = struct.unpack_from("<III", data, pos)
                members.append((m_name, m_type, m_off & 0xFFFFFF if kind_flag else m_off))
                pos += 12
        else:
            pos += _FIXED.get(kind, 0) + _PER_ITEM.get(kind, 0) * vlen
        types.append((name_off, kind, size_or_type, kind_flag, members))
    return types, strings


def _name(strings: bytes, offset: int) -> str:
    return strings[offset: strings.index(b"\0", offset)].decode()


def member_offsets(wanted: dict[str, str], path: Path = VMLINUX) -> dict[str, int]:
    """Byte offsets of `struct.member` for each {struct: member}; raises KeyError if missing."""
    types, strings = _types(path.read_bytes())

    def find(type_id: int, member: str) -> int | None:
        for m_name, m_type, bit_off in types[type_id][4]:
            if m_name and _name(strings, m_name) == member:
                return bit_off // 8
            if not m_name and types[m_type][1] in (STRUCT, UNION):
                inner = find(m_type, member)
                if inner is not None:
                    return bit_off // 8 + inner
        return None

    found: dict[str, int] = {}
    for type_id, (name_off, kind, _size, _flag, members) in enumerate(types):
        if kind != STRUCT or not members or not name_off:
            continue
        name = _name(strings, name_off)
        if name in wanted and name not in found:
            offset = find(type_id, wanted[name])
            if offset is not None:
                found[name] = offset
    missing = [f"{s}.{m}" for s, m in wanted.items() if s not in found]
    if missing:
        raise KeyError(", ".join(missing))
    return found


def pte_reader_offsets() -> tuple[int, int]:
    """(offsetof(task_struct, mm), offsetof(mm_struct, pgd)), or (0, 0) when BTF is missing."""
    try:
        found = member_offsets({"task_struct": "mm", "mm_struct": "pgd"})
    except (OSError, ValueError, KeyError):
        return 0, 0
    return found["task_struct"], found["mm_struct"]
