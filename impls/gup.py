"""get_user_pages pins (mm/memory.c, 2.6.17) and the device's accesses through them.

`pin` is get_user_pages(tsk, mm, addr, 1, write, force=0, &page, NULL) as O_DIRECT and
vmsplice call it: under mmap_sem for read, find_extend_vma, the vma's flags checked against the
access (VM_WRITE for a write pin, VM_READ for a read pin, no force), then follow_page with
FOLL_GET, faulting the page in through handle_mm_fault until follow_page finds it. A read pin
also passes FOLL_ANON (an anonymous vma, not VM_LOCKED): where no page table covers the
address, follow_page hands out the ZERO_PAGE without faulting. The page reference the pin
keeps is what a migration's reference count check sees. The device's reads and writes
(`pinread`, `pinwrite`) go to the page itself, with no lock and no page table; `unpin` is the
caller's release after the I/O: set_page_dirty_lock for a write pin, then page_cache_release.
"""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.core.program import Pin, Pinread, Pinwrite, Result, Unpin
from ptediff.impls.core import KernelCore
from ptediff.impls.memory import VM_FAULT_OOM
from ptediff.impls.pte import PresentPte
from ptediff.impls.sched import READ, Acquire, KGen
from ptediff.impls.structs import VM_LOCKED, VM_READ, VM_WRITE, Mm, Page, Vma, pmd_index


class Gup(KernelCore):
    """Pins and the device accesses through them."""

    @property
    def pins(self) -> dict[int, tuple[Page, bool] | None]:
        """Pin number -> (page held, write pin), or None for a pin that failed or was dropped."""
        return self.__dict__.setdefault("_pins", {})

    def sys_pin(self, mm: Mm, op: Pin) -> KGen[Result]:
        """The caller of get_user_pages (direct_io_worker, vmsplice_to_user): mmap_sem for read
        around the call."""
        self.pins[op.id] = None
        yield Acquire("get_user_pages", mm.mmap_sem, READ)
        found = yield from self.get_user_pages(mm, op.addr, op.write)
        self.unlock(mm.mmap_sem, READ)
        if isinstance(found, int):
            return found
        self.pins[op.id] = (found, op.write)
        return 0

    def get_user_pages(self, mm: Mm, addr: int, write: bool) -> KGen[Page | int]:
        """get_user_pages() in mm/memory.c for one page, without force: -EFAULT unless the vma
        allows the access; follow_page, faulting the page in until it is there."""
        vma = mm.vma_at(addr)  # find_extend_vma: no stack vmas to extend here
        if vma is None or not vma.flags & (VM_WRITE if write else VM_READ):
            return -ERRNO["EFAULT"]
        anon = not write and not vma.flags & VM_LOCKED  # FOLL_ANON
        while True:
            page = yield from self.follow_page(vma, addr, write, anon)
            if page is not None:
                return page
            # Not modelled: VM_FAULT_WRITE, with which the kernel stops asking for a writable
            # pte once do_wp_page broke COW; here a write pin faults until the pte is writable
            # (the same page unless another thread write-protects it in between).
            rc = yield from self.handle_mm_fault(mm, vma, addr, write)  # type: ignore[attr-defined]
            if rc == VM_FAULT_OOM:
                return -ERRNO["ENOMEM"]  # the first page failed: no page pinned

    def follow_page(self, vma: Vma, addr: int, write: bool, anon: bool) -> KGen[Page | None]:
        """follow_page() in mm/memory.c with FOLL_GET (and FOLL_WRITE, FOLL_ANON as given)."""
        mm = vma.mm
        if pmd_index(addr) not in mm.page_tables:  # no_page_table
            if anon:
                self.get_page(self.zero_page)
                return self.zero_page
            return None
        mapped = yield from self.pte_offset_map_lock(mm, addr, "follow_page")
        assert mapped is not None
        ptep, ptl = mapped
        pte = ptep.get()
        page = None
        if isinstance(pte, PresentPte) and (pte.write or not write):
            page = self.vm_normal_page(pte)
            if page is not None:
                self.get_page(page)
                if write:
                    page.dirty = True  # FOLL_TOUCH on a write: set_page_dirty
        self.pte_unmap_unlock(ptep, ptl)
        return page

    def pin_release(self, op: Unpin) -> KGen[Result]:
        """The I/O's end: set_page_dirty_lock() for a write pin, then page_cache_release()."""
        held = self.pins.get(op.pin)
        if held is None:
            return -ERRNO["EINVAL"]
        page, write = held
        if write:
            page.dirty = True
        self.pins[op.pin] = None
        self.put_page(page)
        return 0
        yield  # a generator like every operation

    def pin_access(self, op: Pinread | Pinwrite) -> KGen[Result]:
        """The device's DMA to or from the pinned page: no lock, no page table."""
        held = self.pins.get(op.pin)
        if held is None:
            return -ERRNO["EINVAL"]
        page, _write = held
        if isinstance(op, Pinread):
            return page.data
        page.data = op.value
        return 0
        yield  # a generator like every operation
