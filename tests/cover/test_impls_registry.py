"""The registry, load(), and the shape of the model classes."""

from __future__ import annotations

import inspect
import re

import pytest
from ptediff import impls
from ptediff.core.errors import ImplLoadError
from ptediff.core.program import Program
from ptediff.impls import REGISTRY, Kernel, load
from ptediff.impls.variants import AnonVmaHead, CowForkWrite, PreFix, PteUnmapArg, SwaponRange

NAMES = [
    "postfix",
    "prefix",
    "prefix-anon-vma-head",
    "prefix-pte-unmap-arg",
    "prefix-cow-fork-write",
    "prefix-swapon-range",
]


def test_registry_names_and_reverts() -> None:
    assert sorted(REGISTRY) == sorted(NAMES)
    assert REGISTRY["postfix"] is Kernel and Kernel.REVERTS == ""
    for name, cls in REGISTRY.items():
        assert name == cls.NAME
        assert issubclass(cls, Kernel)
        if cls is not Kernel:
            assert cls.REVERTS and "\n" not in cls.REVERTS


def test_load_by_name_and_by_path() -> None:
    assert load("prefix") is PreFix
    assert load("ptediff.impls.variants:CowForkWrite") is CowForkWrite
    assert load("impls:Kernel") is Kernel


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("nosuch", "unknown implementation 'nosuch'"),
        ("no_such_module_xyz:Kernel", "cannot import module 'no_such_module_xyz'"),
        ("ptediff.impls.variants:Missing", "has no attribute 'Missing'"),
        ("ptediff.impls.variants:is_cow_mapping", "is not a subclass of ptediff.Kernel"),
        ("os:path", "is not a subclass of ptediff.Kernel"),
        (":Kernel", "expected package.module:ClassName"),
    ],
)
def test_load_errors_are_clear(path: str, message: str) -> None:
    with pytest.raises(ImplLoadError) as err:
        load(path)
    assert message in str(err.value)


def test_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(ImplLoadError) as err:
        impls.run("postfx", Program(()))
    for name in NAMES:
        assert name in str(err.value)


REQUIRED = [
    *["handle_pte_fault", "do_anonymous_page", "do_wp_page", "do_swap_page", "can_share_swap_page"],
    *["dup_mmap", "copy_page_range", "copy_pte_range", "copy_one_pte", "do_fork"],
    *["sys_mprotect", "mprotect_fixup", "change_pte_range"],
    *["anon_vma_prepare", "anon_vma_link", "_anon_vma_link", "page_add_anon_rmap"],
    *["page_add_new_anon_rmap", "page_dup_rmap", "page_remove_rmap"],
    *["try_to_unmap", "try_to_unmap_anon", "try_to_unmap_one"],
    *["migrate_pages", "unmap_and_move", "move_to_new_page", "migrate_page"],
    *["migrate_page_move_mapping", "migrate_page_copy", "remove_migration_pte"],
    *["remove_anon_migration_ptes", "migration_entry_wait", "make_migration_entry"],
    *["migration_entry_to_page", "sys_swapon", "get_swap_page", "swap_duplicate", "swap_free"],
    *["free_swap_and_cache", "zap_pte_range", "pte_offset_map", "pte_unmap"],
    *["do_mmap", "do_munmap", "exit_mmap", "sys_move_pages", "sys_madvise_pageout"],
    *["shrink_page_list", "add_to_swap"],
    *["isolate_lru_page", "putback_lru_pages", "move_to_lru", "anon_vma_unlink"],
    *["anon_vma_free", "anon_vma_alloc", "free_hot_cold_page", "rcu_read_lock"],
    *["rcu_read_unlock", "page_lock_anon_vma", "alloc_page", "put_page"],
]
SOURCE = re.compile(r"^_*(\w+)\(\) in [\w/.-]+\.[ch]\b")


def test_every_required_function_is_modelled() -> None:
    missing = [name for name in REQUIRED if not callable(getattr(Kernel, name, None))]
    assert missing == []


def kernel_functions() -> list[str]:
    """Methods of Kernel whose docstring names a kernel function: `name() ...`."""
    names = []
    for name, member in inspect.getmembers(Kernel, callable):
        doc = (inspect.getdoc(member) or "").split("\n")[0]
        if re.match(r"^_*\w+\(", doc) and not name.startswith("__"):
            names.append(name)
    return names


@pytest.mark.parametrize("name", sorted(set(REQUIRED) | set(kernel_functions())))
def test_each_kernel_function_cites_its_file(name: str) -> None:
    doc = inspect.getdoc(getattr(Kernel, name)) or ""
    assert SOURCE.match(doc), doc.split("\n")[0]


@pytest.mark.parametrize(
    ("cls", "overrides"),
    [
        (AnonVmaHead, {"anon_vma_list_add"}),
        (PteUnmapArg, {"remove_migration_pte_unlock"}),
        (CowForkWrite, {"copy_migration_entry"}),
        (SwaponRange, {"swap_type_out_of_range"}),
        (PreFix, set()),
    ],
)
def test_variants_override_only_what_their_fix_changed(cls: type, overrides: set[str]) -> None:
    own = {k for k, v in vars(cls).items() if callable(v) and not k.startswith("__")}
    assert own == overrides
    for name in overrides:
        assert inspect.getdoc(getattr(cls, name))
    assert cls.__doc__


def test_prefix_combines_all_four() -> None:
    for single in (AnonVmaHead, PteUnmapArg, CowForkWrite, SwaponRange):
        assert issubclass(PreFix, single)
        for name in [k for k in vars(single) if callable(vars(single)[k])]:
            assert getattr(PreFix, name) is getattr(single, name)
