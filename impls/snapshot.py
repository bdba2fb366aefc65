"""The abstract final state of a run: one PteState per (process, page address)."""

from __future__ import annotations

from ptediff.core.outcome import NONE_PTE, Key, PteState
from ptediff.impls.core import KernelCore
from ptediff.impls.pte import PresentPte, Pte, SwapPte

# Swap slots get frame ids far above any pfn, so a slot never looks like a page.
SWAP_FRAME_BASE = 1 << 48


def pte_state(kernel: KernelCore, pte: Pte) -> PteState:
    """How one pte looks from outside: a migration entry is whatever has a migration type,
    so an entry of an area past swap_info[]'s end shows up as one, as the kernel sees it."""
    if pte is None:
        return NONE_PTE
    if isinstance(pte, PresentPte):
        page = kernel.pfn_to_page(pte.pfn)
        return PteState("present", pte.write, frame_of(page.alloc_id, pte.alloc), page.node,
                        page.data)
    assert isinstance(pte, SwapPte)
    enc = kernel.enc
    type_, offset = enc.swp_type(pte.val), enc.swp_offset(pte.val)
    if enc.is_migration_entry(pte.val):
        page = kernel.pfn_to_page(offset)
        # A never-allocated frame has no allocation: name it by its pfn, apart from the rest.
        frame = frame_of(page.alloc_id, pte.alloc) or -(offset + 1)
        return PteState("migration", enc.is_write_migration_entry(pte.val), frame)
    return PteState(
        "swap",
        False,
        SWAP_FRAME_BASE | type_ << 32 | offset,
        None,
        swap_data(kernel, pte.val),
        type_,
    )


def frame_of(current: int, made_for: int) -> int:
    """A page frame as the differ sees it: the allocation the pte (or migration entry) was
    made for, not the bare pfn, so that with frames reused an orphan entry and the frame's new
    owner are two frames, as they are two pages (0, unknown: the frame's current allocation)."""
    return made_for or current


def swap_data(kernel: KernelCore, entry: int) -> int | None:
    """What a fault on the swap pte would read: the swap-cache page if there is one (it may
    be newer than the slot), else the slot's contents."""
    cached = kernel.swap.cache.get(entry)
    if cached is not None:
        return cached.data
    info = kernel.swap_info_at(kernel.enc.swp_type(entry))
    if info is None:
        return None
    return info.data.get(kernel.enc.swp_offset(entry))


def snapshot(kernel: KernelCore) -> tuple[dict[Key, PteState], dict[Key, str]]:
    """(state, vma_prot) over live processes: every page of every vma, plus any non-none pte
    left outside a vma."""
    state: dict[Key, PteState] = {}
    prot: dict[Key, str] = {}
    for name, mm in kernel.procs.items():
        for vma in mm.vmas:
            for addr in vma.pages():
                state[(name, addr)] = pte_state(kernel, mm.pte(addr))
                prot[(name, addr)] = vma.prot_name()
        stray = sorted(
            addr
            for table in mm.page_tables.values()
            for addr, pte in table.ptes.items()
            if pte is not None and (name, addr) not in state
        )
        for addr in stray:
            state[(name, addr)] = pte_state(kernel, mm.pte(addr))
    return state, prot
