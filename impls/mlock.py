"""mm/mlock.c and make_pages_present/get_user_pages of mm/memory.c, as in 2.6.17 (mlock.c is
not in the index at 0697212a; the 2.6.17 file is what 0697212a's tree had).

sys_mlock and sys_munlock take mmap_sem for write around do_mlock, which walks the vmas of the
range (it must start in a vma; a hole is -ENOMEM, keeping what was done before) and hands each
piece to mlock_fixup: a piece whose flags do not change is left alone; otherwise the vma is
split at the piece's ends (no vma_merge: only mremap's copy_vma merges in these models), its
vm_flags set, and a newly locked piece made present with get_user_pages (write faults in a
writable vma, read faults otherwise, FOLL_ANON off because VM_LOCKED is already set), still
under mmap_sem for write. The caller is taken to have CAP_IPC_LOCK: RLIMIT_MEMLOCK is not
checked and locked_vm not kept. What VM_LOCKED does elsewhere is in the callers: try_to_unmap_one
(SWAP_FAIL for reclaim and migration alike), madvise_dontneed (-EINVAL), dup_mmap (the child's
vmas lose it).
"""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.impls.core import KernelCore
from ptediff.impls.memory import VM_FAULT_OOM
from ptediff.impls.pte import PAGE_SIZE, PresentPte
from ptediff.impls.sched import WRITE, Acquire, KGen
from ptediff.impls.structs import VM_LOCKED, VM_READ, VM_WRITE, Mm, Vma, pmd_index

EPERM_MINUS_ONE = -1  # make_pages_present's bare -1 for a short get_user_pages: -EPERM


class Mlock(KernelCore):
    """mlock(2) and munlock(2)."""

    def sys_mlock(self, mm: Mm, start: int, npages: int) -> KGen[int]:
        """sys_mlock() in mm/mlock.c: do_mlock(on) under mmap_sem for write."""
        yield Acquire("sys_mlock", mm.mmap_sem, WRITE)
        error = yield from self.do_mlock(mm, start, npages, True)
        self.unlock(mm.mmap_sem, WRITE)
        return error

    def sys_munlock(self, mm: Mm, start: int, npages: int) -> KGen[int]:
        """sys_munlock() in mm/mlock.c: do_mlock(off) under mmap_sem for write."""
        yield Acquire("sys_munlock", mm.mmap_sem, WRITE)
        error = yield from self.do_mlock(mm, start, npages, False)
        self.unlock(mm.mmap_sem, WRITE)
        return error

    def do_mlock(self, mm: Mm, start: int, npages: int, on: bool) -> KGen[int]:
        """do_mlock() in mm/mlock.c: the vmas of the range, with no hole, one piece each."""
        if npages < 1:
            return 0
        end = start + npages * PAGE_SIZE
        vma = mm.find_vma(start)
        if vma is None or vma.start > start:
            return -ERRNO["ENOMEM"]
        nstart = start
        while True:
            newflags = vma.flags | VM_LOCKED if on else vma.flags & ~VM_LOCKED
            tmp = min(vma.end, end)
            error, prev = yield from self.mlock_fixup(vma, nstart, tmp, newflags)
            if error:
                return error
            nstart = max(tmp, prev.end)
            if nstart >= end:
                return 0
            vma = mm.find_vma(nstart)  # prev->vm_next
            if vma is None or vma.start != nstart:
                return -ERRNO["ENOMEM"]

    def mlock_fixup(self, vma: Vma, start: int, end: int, newflags: int) -> KGen[tuple[int, Vma]]:
        """mlock_fixup() in mm/mlock.c: split, set vm_flags, fault a newly locked piece in;
        -ENOMEM from the faults is -EAGAIN. Returns the error and the piece (*prev)."""
        if newflags == vma.flags:
            return 0, vma
        mm = vma.mm
        if start != vma.start:
            yield from self.split_vma(mm, vma, start, new_below=True)  # type: ignore[attr-defined]
        if end != vma.end:
            yield from self.split_vma(mm, vma, end, new_below=False)  # type: ignore[attr-defined]
        # Under mmap_sem for write; a reclaim that unmaps a page right after this is undone by
        # the faults below.
        vma.flags = newflags
        ret = 0
        if newflags & VM_LOCKED:
            ret = yield from self.make_pages_present(mm, start, end)
        if ret == -ERRNO["ENOMEM"]:
            ret = -ERRNO["EAGAIN"]
        return ret, vma

    def make_pages_present(self, mm: Mm, addr: int, end: int) -> KGen[int]:
        """make_pages_present() in mm/memory.c (2.6.17): get_user_pages over the range, write
        access if the vma is writable; an errno as is, a short count as -1 (-EPERM)."""
        vma = mm.find_vma(addr)
        if vma is None:
            return EPERM_MINUS_ONE
        write = bool(vma.flags & VM_WRITE)
        npages = (end - addr) // PAGE_SIZE
        ret = yield from self.get_user_pages_range(mm, addr, npages, write)
        if ret < 0:
            return ret
        return 0 if ret == npages else EPERM_MINUS_ONE

    def get_user_pages_range(self, mm: Mm, start: int, npages: int, write: bool) -> KGen[int]:
        """get_user_pages() in mm/memory.c with no page array and no force: the pages done, or
        -EFAULT/-ENOMEM when the first one fails (a vma not allowing the access, an OOM)."""
        done = 0
        addr = start
        while done < npages:
            vma = mm.vma_at(addr)  # find_extend_vma: no stack vmas to extend here
            if vma is None or not vma.flags & (VM_WRITE if write else VM_READ):
                return done or -ERRNO["EFAULT"]
            while done < npages and addr < vma.end:
                while not (yield from self.follow_page_touch(vma, addr, write)):
                    rc = yield from self.handle_mm_fault(mm, vma, addr, write)  # type: ignore[attr-defined]
                    if rc == VM_FAULT_OOM:
                        return done or -ERRNO["ENOMEM"]
                done += 1
                addr += PAGE_SIZE
        return done

    def follow_page_touch(self, vma: Vma, addr: int, write: bool) -> KGen[bool]:
        """follow_page() in mm/memory.c with FOLL_TOUCH (and FOLL_WRITE for a write), no
        FOLL_GET: whether a pte allowing the access maps a page; a write dirties the page."""
        mm = vma.mm
        if pmd_index(addr) not in mm.page_tables:
            return False  # no FOLL_ANON: VM_LOCKED is set
        mapped = yield from self.pte_offset_map_lock(mm, addr, "follow_page")
        assert mapped is not None
        ptep, ptl = mapped
        pte = ptep.get()
        found = False
        if isinstance(pte, PresentPte) and (pte.write or not write):
            page = self.vm_normal_page(pte, "follow_page")
            if page is not None:
                found = True
                if write and not pte.dirty:
                    page.dirty = True  # set_page_dirty
        self.pte_unmap_unlock(ptep, ptl)
        return found
