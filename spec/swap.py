"""Swap devices: which device a new slot comes from.

The observable part of swap placement is the *device* of a swap pte, so the spec keeps the
kernel's policy for choosing it exactly, and nothing else of the swap machinery:

* a device's number is its swap type: a swapon takes the lowest number no device holds (0, 1,
  2... in the order swapons succeed, until a swapoff frees a number, which the next swapon
  reuses); a swapon without a priority gets -1, -2, ... (a failed swapon does not use up a
  priority, a swapoff does not give one back);
* devices are kept in priority order, highest first; a new device goes in front of the devices
  of equal priority;
* a slot comes from the highest-priority device with a free slot; devices of equal priority
  take turns (round-robin), starting from the newest;
* freeing a slot on a device of higher priority than the one next in turn makes it next in turn;
* a swapoff takes its device out of the priority order; when it was next in turn, the first
  device of the order (the highest priority) is next.

A slot is `(device, index)`; index 0 is the area's header page, so usable slots are 1..NSLOTS.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, replace

Slot = tuple[int, int]  # (device, index)


@dataclass(frozen=True, slots=True)
class Device:
    nslots: int
    prio: int


@dataclass(frozen=True, slots=True)
class SwapTable:
    devices: tuple[Device | None, ...] = ()  # by number; None: a number swapoff freed
    order: tuple[int, ...] = ()  # devices by priority, highest first
    next_in_turn: int = -1  # the device the next allocation starts from
    least_priority: int = 0  # the last priority given to a swapon without one

    def total_slots(self) -> int:
        return sum(d.nslots for d in self.devices if d is not None)

    def active(self) -> int:
        """How many devices are on (swapon'd and not swapoff'd)."""
        return sum(1 for d in self.devices if d is not None)

    def is_active(self, device: int) -> bool:
        return 0 <= device < len(self.devices) and self.devices[device] is not None

    def device(self, number: int) -> Device:
        found = self.devices[number]
        assert found is not None, f"swap device {number} is off"
        return found

    def free_number(self) -> int:
        """The number a swapon gets: the lowest one no device holds (sys_swapon's scan)."""
        return next((i for i, d in enumerate(self.devices) if d is None), len(self.devices))

    def removed(self, device: int) -> SwapTable:
        """The table after a successful swapoff of `device` (its slots are gone already)."""
        devices = list(self.devices)
        devices[device] = None
        while devices and devices[-1] is None:  # a trailing free number is just unused
            devices.pop()
        order = tuple(d for d in self.order if d != device)
        next_in_turn = self.next_in_turn
        if next_in_turn == device:
            next_in_turn = order[0] if order else -1
        return SwapTable(tuple(devices), order, next_in_turn, self.least_priority)

    def added(self, nslots: int, prio: int | None) -> SwapTable:
        """The table after a successful swapon (the caller checked the limits)."""
        least = self.least_priority
        if prio is None:
            least -= 1
            prio = least
        device = self.free_number()
        # In front of the first device whose priority is not higher than the new one's.
        position = next(
            (i for i, d in enumerate(self.order) if prio >= self.device(d).prio), len(self.order)
        )
        order = (*self.order[:position], device, *self.order[position:])
        next_in_turn = device if position == 0 else self.next_in_turn
        devices = list(self.devices)
        if device == len(devices):
            devices.append(None)
        devices[device] = Device(nslots, prio)
        return SwapTable(tuple(devices), order, next_in_turn, least)

    def allocate(self, used: Set[Slot]) -> tuple[SwapTable, Slot | None]:
        """Take a free slot: `(new table, slot)`, or `(self, None)` when swap is full.

        Walks the priority list from the device next in turn to the end of its priority
        group, then once more from the head through every device (the kernel's get_swap_page).
        """
        if self.next_in_turn < 0 or len(used) >= self.total_slots():
            return self, None
        device, wrapped = self.next_in_turn, 0
        while device >= 0 and wrapped < 2:
            following = self._following(device)
            if following < 0 or (
                not wrapped and self.device(device).prio != self.device(following).prio
            ):
                following = self.order[0]
                wrapped += 1
            index = self._free_index(device, used)
            if index is not None:
                return replace(self, next_in_turn=following), (device, index)
            device = following
        return self, None

    def freed(self, slot: Slot) -> SwapTable:
        device = slot[0]
        if self.next_in_turn < 0 or (
            self.device(device).prio > self.device(self.next_in_turn).prio
        ):
            return replace(self, next_in_turn=device)
        return self

    def _following(self, device: int) -> int:
        position = self.order.index(device)
        return self.order[position + 1] if position + 1 < len(self.order) else -1

    def _free_index(self, device: int, used: Set[Slot]) -> int | None:
        return next(
            (i for i in range(1, self.device(device).nslots + 1) if (device, i) not in used),
            None,
        )


def max_swapfiles(swap_bits: int) -> int:
    """Real swap devices possible: every type but the two reserved for migration entries."""
    return 2**swap_bits - 2
