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
    It runs once per state the spec meets, and each result is hashed, so it is written for
    speed: plain loops, no closures, the swap part only when there is swap, and flat tuples
    of a fixed width per pte and per page (one tuple to hash, not one per entry).
    """
    page_names: dict[int, int] = {ZERO_PAGE: -1}
    slot_names: dict[Slot, tuple[int, int]] = {}
    pages = s.pages
    ptes: list[Hashable] = []
    for (proc, addr), pte in sorted(s.ptes.items()):
        if type(pte) is Present:
            name = page_names.get(pte.page)
            if name is None:
                name = page_names[pte.page] = len(page_names) - 1
            ptes += (proc, addr, name, pte.writable)  # four fields: a present pte
        else:
            slot = pte.slot  # type: ignore[union-attr]
            renamed = slot_names.get(slot)
            if renamed is None:
                # The device is kept: it is observable. The index within it is not.
                renamed = slot_names[slot] = (slot[0], len(slot_names))
            ptes += (proc, addr, "swap", renamed)  # four fields: a swap pte (a str, not a page)
    pins: list[Hashable] = []
    for pin, page in sorted(s.pins.items()):  # pinned pages are named after the mapped ones
        if page is not None and page not in page_names:
            page_names[page] = len(page_names) - 1
        pins.append((pin, None if page is None else page_names[page]))
    if len(page_names) < len(pages):  # pages no pte maps (held by the swap cache)
        unmapped = sorted(
            (pid for pid in pages if pid not in page_names),
            key=lambda pid: (pages[pid].swap_copy or (-1, -1), pages[pid].node, pages[pid].data),
        )
        for pid in unmapped:
            page_names[pid] = len(page_names) - 1
    described: list[Hashable] = []
    for pid in page_names:  # in naming order: dicts keep insertion order
        page = pages[pid]
        copy = page.swap_copy
        if copy is not None:
            renamed = slot_names.get(copy)
            if renamed is None:
                renamed = slot_names[copy] = (copy[0], len(slot_names))
            described += (page.data, page.node, renamed)
        else:
            described += (page.data, page.node, None)
    held_names = tuple(page_names.get(page) if page in pages else None for page in held)
    vmas = tuple(sorted(s.vmas.items()))
    if s.pins or s.tables:
        # the frozenset itself: clones share it, and it keeps its hash once computed
        vmas = (vmas, tuple(pins), s.tables)  # type: ignore[assignment]
    if not s.swap.devices:
        return (vmas, tuple(ptes), tuple(described), held_names)
    for slot in s.slots:  # slots nothing refers to (the spec frees them: for safety)
        if slot not in slot_names:
            slot_names[slot] = (slot[0], len(slot_names))
    slots = tuple(sorted((slot_names[slot], data) for slot, data in s.slots.items()))
    per_device = [0] * len(s.swap.devices)
    for slot in s.slots:
        per_device[slot[0]] += 1
    swap = s.swap
    return (vmas, tuple(ptes), tuple(described), held_names, slots, swap.devices, swap.order,
            swap.next_in_turn, swap.least_priority, tuple(per_device))
