"""Views of a spec state: the shared `PteState` picture, and a fingerprint for deduplication."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from ptediff.core.outcome import NONE_PTE, Key, PteState
from ptediff.spec.state import ZERO_PAGE, Present, SpecState, Swapped
from ptediff.spec.swap import Slot


def slot_frame(slot: Slot) -> int:
    """A slot as an opaque frame id (only sharing matters to the differ)."""
    return slot[0] << 32 | slot[1]


def pte_states(s: SpecState) -> dict[Key, PteState]:
    """One `PteState` per page of every vma of every live process."""
    states: dict[Key, PteState] = {}
    for proc in sorted(s.vmas):
        for vma in s.vmas[proc]:
            for addr in vma.addresses():
                states[(proc, addr)] = pte_state(s, s.ptes.get((proc, addr)))
    return states


def pte_state(s: SpecState, pte: Present | Swapped | None) -> PteState:
    if pte is None:
        return NONE_PTE
    if isinstance(pte, Present):
        page = s.pages[pte.page]
        return PteState("present", pte.writable, pte.page, page.node, page.data)
    return PteState("swap", False, slot_frame(pte.slot), None, s.swap_data(pte.slot), pte.slot[0])


def vma_prots(s: SpecState) -> dict[Key, str]:
    return {
        (proc, addr): vma.prot.value
        for proc in sorted(s.vmas)
        for vma in s.vmas[proc]
        for addr in vma.addresses()
    }


def fingerprint(s: SpecState, held: Sequence[int | None] = ()) -> Hashable:
    """Everything that decides the future of a state, with pages and slots renamed by first
    appearance, so states reached along different linearizations compare equal.

    Unreachable pages (in the swap cache, no pte left) still count: they hold a slot. `held`
    are pages operations in flight hold; their names (None: freed) are part of the result.
    """
    page_names: dict[int, int] = {ZERO_PAGE: -1}
    slot_names: dict[Slot, tuple[int, int]] = {}

    def page_name(page: int) -> int:
        return page_names.setdefault(page, len(page_names) - 1)

    def slot_name(slot: Slot) -> tuple[int, int]:
        # The device is kept: it is observable. The index within it is not.
        return slot_names.setdefault(slot, (slot[0], len(slot_names)))

    ptes = []
    for key in sorted(s.ptes):
        pte = s.ptes[key]
        if isinstance(pte, Present):
            ptes.append((key, "P", page_name(pte.page), pte.writable))
        else:
            ptes.append((key, "S", slot_name(pte.slot)))
    pins = tuple(
        (pin, None if page is None else page_name(page)) for pin, page in sorted(s.pins.items())
    )
    unmapped = sorted(
        (pid for pid in s.pages if pid not in page_names),
        key=lambda pid: (s.pages[pid].swap_copy or (-1, -1), s.pages[pid].node, s.pages[pid].data),
    )
    for pid in unmapped:
        page_name(pid)
    pages = []
    for pid, name in sorted(page_names.items(), key=lambda item: item[1]):
        page = s.pages[pid]
        copy = slot_name(page.swap_copy) if page.swap_copy is not None else None
        pages.append((name, page.data, page.node, copy))
    slots = tuple(sorted((slot_name(slot), data) for slot, data in s.slots.items()))
    return (
        tuple(sorted(s.vmas.items())),
        tuple(ptes),
        pins,
        tuple(sorted(s.tables)),
        tuple(pages),
        slots,
        s.swap.devices,
        s.swap.order,
        s.swap.next_in_turn,
        s.swap.least_priority,
        tuple(sorted((d, sum(1 for slot in s.slots if slot[0] == d))
                     for d in range(len(s.swap.devices)))),
        tuple(page_names.get(page) if page in s.pages else None for page in held),
    )
