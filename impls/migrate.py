"""mm/migrate.c in its completed swapless form (kernel-notes §2.5), plus the migration-entry
helpers of include/linux/swapops.h.
"""

from __future__ import annotations

from ptediff.core.outcome import ERRNO
from ptediff.impls.core import KernelCore, PteHandle
from ptediff.impls.memory import mk_pte
from ptediff.impls.pte import Pte, SwapPte, is_swap_pte
from ptediff.impls.rmap import SWAP_FAIL
from ptediff.impls.sched import READ, Acquire, KGen, Mutex, WaitUnlocked
from ptediff.impls.structs import Mm, Page, Vma

MIGRATE_PASSES = 10
FORCE_LOCK_PASS = 3  # from this pass on, migrate_pages sleeps for the page lock


class Migrate(KernelCore):
    """Page migration with migration entries."""

    # -- swapops.h ---------------------------------------------------------------------------

    def make_migration_entry(self, page: Page, write: int | bool) -> int:
        """make_migration_entry() in include/linux/swapops.h: `write` is a C truth value."""
        self.bug_on(not page.locked, "make_migration_entry", f"page pfn {page.pfn} is not locked")
        type_ = self.enc.migration_write if write else self.enc.migration_read
        return self.enc.swp_entry(type_, page.pfn)

    def migration_entry_to_page(self, entry: int, alloc: int = 0,
                                function: str = "migration_entry_to_page") -> Page:
        """migration_entry_to_page() in include/linux/swapops.h: the page must be locked.

        `alloc`: the allocation the entry was made for (ptediff's shadow); an entry naming a
        frame that was reallocated since, and that its new owner happens to hold locked,
        passes the BUG_ON and is reported as a use-after-free instead.
        """
        page = self.pfn_to_page(self.enc.swp_offset(entry))
        if not page.freed:
            self.check_frame(page, alloc, function, "a migration entry")
        self.bug_on(
            not page.locked,
            "migration_entry_to_page",
            f"migration entry to pfn {page.pfn} whose page is not locked",
        )
        return page

    def migration_entry_wait(self, mm: Mm, addr: int) -> KGen[None]:
        """migration_entry_wait() in mm/migrate.c: sleep until the page is unlocked."""
        mapped = yield from self.pte_offset_map_lock(mm, addr, "migration_entry_wait")
        assert mapped is not None
        ptep, ptl = mapped
        pte = ptep.get()
        if not isinstance(pte, SwapPte) or not self.enc.is_migration_entry(pte.val):
            self.pte_unmap_unlock(ptep, ptl)
            return
        page = self.migration_entry_to_page(pte.val, pte.alloc, "migration_entry_wait")
        self.get_page(page, "migration_entry_wait")
        self.pte_unmap_unlock(ptep, ptl)
        yield WaitUnlocked("migration_entry_wait", page.lock)
        self.put_page(page, "migration_entry_wait")

    # -- move_pages entry --------------------------------------------------------------------

    def sys_move_pages(self, mm: Mm, addr: int, node: int, unlocked: bool) -> KGen[int]:
        """sys_move_pages() in mm/migrate.c (do_move_pages) with MPOL_MF_MOVE_ALL; added in 2.6.18,
        after 0697212a (whose only callers were sys_migrate_pages and mbind).

        `unlocked` stands for kernel-initiated migration: the page is found through mm's page
        table but no mmap_sem is held. No 2006 kernel had such a caller (memory hot-remove
        came in 2.6.24, compaction in 2.6.35); it is how a later caller uses this code.
        """
        if not 0 <= node < self.config.nodes:
            return -ERRNO["ENODEV"]
        if not unlocked:
            yield Acquire("do_move_pages", mm.mmap_sem, READ)
        found = yield from self.follow_page_for_migration(mm, addr, node)
        if isinstance(found, int):
            status = found
        else:
            status = yield from self.migrate_pages([found], node)
        if not unlocked:
            self.unlock(mm.mmap_sem, READ)
        return status

    def follow_page_for_migration(self, mm: Mm, addr: int, node: int) -> KGen[Page | int]:
        """The lookup of do_move_pages() in mm/migrate.c (2.6.18): find_vma — which gives the
        vma *above* a hole, so only an address above every vma is -EFAULT — then
        follow_page(FOLL_GET), which checks no protection (a PROT_NONE pte is present) and
        finds nothing in a hole (-ENOENT); the ZERO_PAGE is -ENOENT, a page already on `node`
        is that node, and isolate_lru_page() takes the page off the LRU or says -EBUSY."""
        vma = mm.find_vma(addr)
        if vma is None:
            return -ERRNO["EFAULT"]
        mapped = yield from self.pte_offset_map_lock(mm, addr, "follow_page")
        if mapped is None:
            return -ERRNO["ENOENT"]
        ptep, ptl = mapped
        page = self.vm_normal_page(ptep.get(), "follow_page")
        if page is None:
            self.pte_unmap_unlock(ptep, ptl)
            return -ERRNO["ENOENT"]
        self.get_page(page, "follow_page")
        self.pte_unmap_unlock(ptep, ptl)
        if page.reserved:
            self.put_page(page, "do_move_pages")
            return -ERRNO["ENOENT"]
        if page.node == node:
            self.put_page(page, "do_move_pages")
            return node
        rc = self.isolate_lru_page(page)
        self.put_page(page, "do_move_pages")
        return page if rc == 0 else rc

    def isolate_lru_page(self, page: Page) -> int:
        """isolate_lru_page() in mm/migrate.c: one isolator at a time takes the page off the
        LRU, with a reference of its own; anyone else gets -EBUSY."""
        if not page.lru:
            return -ERRNO["EBUSY"]
        page.lru = False
        self.get_page(page, "isolate_lru_page")
        return 0

    def move_to_lru(self, page: Page) -> None:
        """move_to_lru() in mm/migrate.c: back on the LRU, the isolation reference dropped
        (a page nobody else holds is freed by it)."""
        page.lru = True
        self.put_page(page, "move_to_lru")

    def putback_lru_pages(self, pages: list[Page]) -> None:
        """putback_lru_pages() in mm/migrate.c."""
        for page in pages:
            self.move_to_lru(page)

    # -- the migration core ------------------------------------------------------------------

    def migrate_pages(self, pages: list[Page], node: int) -> KGen[int]:
        """migrate_pages() in mm/migrate.c: up to 10 passes while some page says -EAGAIN.

        Returns the last page's status: its new node, or the error that stopped it.
        """
        status = -ERRNO["EAGAIN"]
        todo = list(pages)
        for pass_ in range(MIGRATE_PASSES):
            if not todo:
                break
            for page in list(todo):
                rc = yield from self.unmap_and_move(page, node, pass_ >= FORCE_LOCK_PASS)
                if rc != -ERRNO["EAGAIN"]:
                    todo.remove(page)
                    status = node if rc == 0 else rc
        if todo:
            self.putback_lru_pages(todo)
            status = -ERRNO["EAGAIN"]
        return status

    def unmap_and_move(self, page: Page, node: int, force: bool) -> KGen[int]:
        """unmap_and_move() in mm/migrate.c as 6c5240ae made it (at 0697212a its body sat in
        migrate_pages): a try_to_unmap that fails (SWAP_FAIL: an mlocked vma) is a permanent
        -EPERM, after the entries already made are restored."""
        newpage = self.alloc_page(node)
        rc = 0
        if page.refcount == 1:  # freed from under us: nothing left to migrate
            self.move_to_lru(page)
            self.move_to_lru(newpage)
            return rc
        rc = -ERRNO["EAGAIN"]
        got = yield from self.trylock_page(page, "unmap_and_move")
        if not got:
            if not force:
                self.move_to_lru(newpage)
                return rc
            yield from self.lock_page(page, "unmap_and_move")
        if (yield from self.try_to_unmap(page, True)) == SWAP_FAIL:
            rc = -ERRNO["EPERM"]
        elif page.mapcount == 0:
            rc = yield from self.move_to_new_page(newpage, page)
        if rc:
            yield from self.remove_migration_ptes(page, page)
        self.unlock_page(page)
        if rc != -ERRNO["EAGAIN"]:
            self.move_to_lru(page)  # a migrated page is freed here
        self.move_to_lru(newpage)  # frees it if migration failed
        return rc

    def move_to_new_page(self, newpage: Page, page: Page) -> KGen[int]:
        """move_to_new_page() in mm/migrate.c (2.6.18; not yet a function at 0697212a)."""
        got = yield from self.trylock_page(newpage, "move_to_new_page")
        self.bug_on(not got, "move_to_new_page", f"new page pfn {newpage.pfn} already locked")
        newpage.index = page.index
        newpage.anon_vma = page.anon_vma
        rc = self.migrate_page(newpage, page)
        if rc == 0:
            yield from self.remove_migration_ptes(page, newpage)
        else:
            newpage.anon_vma = None
        self.unlock_page(newpage)
        return rc

    def migrate_page(self, newpage: Page, page: Page) -> int:
        """migrate_page() in mm/migrate.c (also swapper_space's migratepage)."""
        rc = self.migrate_page_move_mapping(newpage, page)
        if rc:
            return rc
        self.migrate_page_copy(newpage, page)
        return 0

    def migrate_page_move_mapping(self, newpage: Page, page: Page) -> int:
        """migrate_page_move_mapping() in mm/migrate.c: only our isolation reference (and the
        swap cache's) may remain; a sleeper in migration_entry_wait makes it -EAGAIN."""
        if not page.swapcache:
            return 0 if page.refcount == 1 else -ERRNO["EAGAIN"]
        entry = page.private
        if page.refcount != 2 or self.swap.cache.get(entry) is not page:
            return -ERRNO["EAGAIN"]
        self.get_page(newpage)
        newpage.swapcache = True
        newpage.private = entry
        self.swap.cache[entry] = newpage
        self.put_page(page)
        return 0

    def migrate_page_copy(self, newpage: Page, page: Page) -> None:
        """migrate_page_copy() in mm/migrate.c."""
        newpage.data = page.data
        newpage.dirty = page.dirty
        page.dirty = False
        page.swapcache = False
        page.private = 0
        page.anon_vma = None

    # -- restoring the ptes ------------------------------------------------------------------

    def remove_migration_ptes(self, old: Page, new: Page) -> KGen[None]:
        """remove_migration_ptes() in mm/migrate.c."""
        if new.anon:
            yield from self.remove_anon_migration_ptes(old, new)

    def remove_anon_migration_ptes(self, old: Page, new: Page) -> KGen[None]:
        """remove_anon_migration_ptes() in mm/migrate.c (named so by 04e62a29; the body of
        remove_migration_ptes at 0697212a): the anon_vma lock is held throughout, in list order.

        page->mapping is used with no RCU read-side section and no page_mapped() check: the
        caller's mmap_sem is what keeps the anon_vma alive. A migration holding none (the
        `unlocked` mode) may find it freed: a use-after-free the kernel closed only when
        hot-remove became a caller (anon_vma held by an RCU read lock in unmap_and_move, 2.6.23+).
        """
        anon_vma = new.anon_vma
        assert anon_vma is not None
        self.check_anon_vma(anon_vma, "remove_anon_migration_ptes")
        yield Acquire("remove_anon_migration_ptes", anon_vma.lock)
        self.check_anon_vma(anon_vma, "remove_anon_migration_ptes")
        for vma in list(anon_vma.vmas):
            yield from self.remove_migration_pte(vma, old, new)
        self.unlock(anon_vma.lock)

    def remove_migration_pte(self, vma: Vma, old: Page, new: Page) -> KGen[None]:
        """remove_migration_pte() in mm/migrate.c."""
        addr = self.page_address_in_vma(new, vma)
        if addr is None:
            return
        mm = vma.mm
        ptep = self.pte_offset_map(mm, addr, "remove_migration_pte")
        if ptep is None:
            return
        pte: Pte = ptep.get()
        if not is_swap_pte(pte):
            self.pte_unmap(ptep)
            return
        ptl = ptep.table.ptl
        yield Acquire("remove_migration_pte", ptl)
        pte = ptep.get()
        if (
            isinstance(pte, SwapPte)
            and self.enc.is_migration_entry(pte.val)
            and self.migration_entry_to_page(pte.val, pte.alloc, "remove_migration_pte") is old
        ):
            # 442c9137: no anon_rss++ here, as try_to_unmap_one made no anon_rss--.
            self.get_page(new, "remove_migration_pte")
            write = self.enc.is_write_migration_entry(pte.val)
            pte = mk_pte(new, vma).mkold()
            if write:
                pte = pte.mkwrite()
            ptep.set(pte)
            self.page_add_anon_rmap(new, vma, addr)
        self.remove_migration_pte_unlock(ptep, pte, ptl)

    def remove_migration_pte_unlock(self, ptep: PteHandle, pte: Pte, ptl: Mutex) -> None:
        """The last line of remove_migration_pte() in mm/migrate.c (fix 2): unlock and unmap
        the mapped pte *pointer*."""
        self.pte_unmap_unlock(ptep, ptl)
