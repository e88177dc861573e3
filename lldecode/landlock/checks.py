"""The kernel's Landlock access checks, replayed over lexical paths.

This follows the algorithms of security/landlock/ (fs.c, net.c, task.c,
ruleset.c, audit.c of Linux 6.15+, ABI 7), re-implemented from their
documented behaviour, over a :class:`Domain` built from policy layers:

- filesystem requests walk from the object up to ``/``; each layer must find,
  on the object or one of its parent directories, a rule allowing every
  requested right it handles (rules of one layer add up along the walk);
- ``fs.refer`` is handled by every layer of a domain that handles any
  filesystem right, even a layer that does not list it (or handles only
  network rights or scopes): reparenting is then denied by that layer;
- a rename or link to another directory also checks that the moved file
  would not gain rights (``no_more_access``), which yields EXDEV;
- when a file is opened, the rights truncate and ioctl_dev are looked up
  too and remembered with the youngest layer denying each (deny masks);
- TCP ports match exactly; scopes and ptrace compare domain hierarchies.

Layers are 0-based here, as in the kernel.  Paths are compared as strings:
a rule applies to a path when its path is the path itself or a parent
directory, lexically.  What this cannot see: rules follow inodes, so bind
mounts, hard links and symbolic links can make the kernel find rules the
path text does not show; pseudo filesystems (pipes, sockets, nsfs) are
always allowed by the kernel.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from lldecode.landlock.access import MAX_MODELLED_ABI, fs_mask, rights_of
from lldecode.landlock.layers import (
    IOCTL_DEV,
    TRUNCATE,
    LayerMasks,
    bits_of,
    get_denied_layer,
    get_deny_masks,
)
from lldecode.landlock.policy import Layer

# The fs rights the model knows (those of the ABI it models), their bits.
FS_BITS = tuple(r.bit for r in rights_of("fs", MAX_MODELLED_ABI))
ALL_FS = sum(1 << bit for bit in FS_BITS)
REFER = fs_mask("refer")
# Rights that make sense on a file (the others only on directories).
ACCESS_FILE = fs_mask("execute", "write_file", "read_file") | TRUNCATE | IOCTL_DEV

# File kinds, and the right needed to create one (get_mode_access).
MAKE_RIGHT = {
    "file": fs_mask("make_reg"), "dir": fs_mask("make_dir"), "symlink": fs_mask("make_sym"),
    "fifo": fs_mask("make_fifo"), "socket": fs_mask("make_sock"), "char": fs_mask("make_char"),
    "block": fs_mask("make_block"),
}
# The kinds of file MAKE_RIGHT knows.
FILE_KINDS = tuple(MAKE_RIGHT)

# Layer -> allowed rights, for the rules found on one path or port.
Rule = Dict[int, int]


@dataclass(frozen=True)
class LayerDenial:
    """A denial the kernel logs: the youngest denying layer and its missing rights."""

    layer: int
    missing: int


def ancestors(path: str) -> Iterator[str]:
    """``path``, then each parent directory up to ``/``."""
    while True:
        yield path
        if path == "/":
            return
        path = posixpath.dirname(path)


def remove_right(kind: Optional[str]) -> int:
    """The right needed to remove an entry of ``kind`` (None: nothing there)."""
    if kind is None:
        return 0
    return fs_mask("remove_dir") if kind == "dir" else fs_mask("remove_file")


class Domain:
    """The layers a process enforced, oldest first, with their rules indexed."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        self.layers = tuple(layers)
        self.num_layers = len(self.layers)
        self.path_rules: Dict[str, Rule] = {}
        self.port_rules: Dict[int, Rule] = {}
        for level, layer in enumerate(self.layers):
            for path, allowed in layer.path_rules.items():
                self.path_rules.setdefault(path, {})[level] = allowed
            for port, allowed in layer.port_rules.items():
                self.port_rules.setdefault(port, {})[level] = allowed

    # -- handled rights ----------------------------------------------------

    def stored_fs(self, level: int) -> int:
        """The fs rights a layer records as handled (refer added if it handles any)."""
        handled = self.layers[level].handled_fs
        return handled | REFER if handled else 0

    def checked_fs(self, level: int) -> int:
        """The fs rights a layer checks: refer is always among them."""
        return self.layers[level].handled_fs | REFER

    def applies_to_fs(self, access: int) -> bool:
        """Does any layer handle one of these fs rights (else the kernel checks nothing)?"""
        return any(self.stored_fs(level) & access for level in range(self.num_layers))

    def union_fs(self) -> int:
        """Every fs right some layer handles."""
        union = 0
        for level in range(self.num_layers):
            union |= self.stored_fs(level)
        return union

    def init_fs_masks(self, access: int) -> Tuple[int, LayerMasks]:
        """(requested rights some layer checks, the layers checking each right)."""
        masks: LayerMasks = {}
        handled = 0
        for bit in bits_of(access):
            layers = 0
            for level in range(self.num_layers):
                if self.checked_fs(level) >> bit & 1:
                    layers |= 1 << level
            if layers:
                masks[bit] = layers
                handled |= 1 << bit
        return handled, masks

    # -- filesystem walks --------------------------------------------------

    def fs_rule(self, path: str) -> Optional[Rule]:
        """The rules of every layer on ``path`` itself (None: no rule)."""
        return self.path_rules.get(path)

    @staticmethod
    def unmask(rule: Optional[Rule], access: int, masks: Optional[LayerMasks]) -> bool:
        """Clear the layers ``rule`` satisfies; True when nothing requested is denied."""
        if not access or masks is None:
            return True
        if rule is None:
            return False
        for level, allowed in sorted(rule.items()):
            empty = True
            for bit in bits_of(access):
                if allowed >> bit & 1:
                    masks[bit] = masks.get(bit, 0) & ~(1 << level)
                empty = empty and not masks.get(bit, 0)
            if empty:
                return True
        return False

    def walk(self, path: str, access1: int, masks1: LayerMasks,
             child1: Optional[Tuple[str, bool]] = None, access2: int = 0,
             masks2: Optional[LayerMasks] = None,
             child2: Optional[Tuple[str, bool]] = None,
             ) -> Tuple[bool, Optional[Tuple[int, LayerMasks]], Optional[Tuple[int, LayerMasks]]]:
        """is_access_to_paths_allowed: (allowed, what to log for 1, for 2).

        ``child1``/``child2`` are (path, is a directory) of the moved entries
        of a rename or link; with them, the walk first requires the
        destination to be at least as restricted as the source.
        """
        if not access1 and not access2:
            return True, None, None
        allowed1 = not any(masks1.values())
        allowed2 = False
        masks_child1: Optional[LayerMasks] = None
        masks_child2: Optional[LayerMasks] = None
        child1_is_dir = child2_is_dir = True
        if masks2 is not None:
            allowed2 = not any(masks2.values())
            masked1 = masked2 = self.union_fs()
            dom_check = True
        else:
            masked1, masked2 = access1, access2
            dom_check = False
        if child1 is not None:
            handled, masks_child1 = self.init_fs_masks(ALL_FS)
            self.unmask(self.fs_rule(child1[0]), handled, masks_child1)
            child1_is_dir = child1[1]
        if child2 is not None:
            handled, masks_child2 = self.init_fs_masks(ALL_FS)
            self.unmask(self.fs_rule(child2[0]), handled, masks_child2)
            child2_is_dir = child2[1]
        for directory in ancestors(path):
            if dom_check and masks2 is not None and no_more_access(
                    masks1, masks_child1, child1_is_dir, masks2, masks_child2, child2_is_dir):
                dom_check = False
                masked1, masked2 = access1, access2
                allowed1 = allowed1 or scope_to_request(masked1, masks1)
                allowed2 = allowed2 or scope_to_request(masked2, masks2)
                if allowed1 and allowed2:
                    break
            rule = self.fs_rule(directory)
            allowed1 = allowed1 or self.unmask(rule, masked1, masks1)
            allowed2 = allowed2 or self.unmask(rule, masked2, masks2)
            if allowed1 and allowed2:
                break
        log1 = None if allowed1 else (masked1, masks1)
        log2 = None if allowed2 or masks2 is None else (masked2, masks2)
        return allowed1 and allowed2, log1, log2

    def denied(self, log: Tuple[int, LayerMasks]) -> LayerDenial:
        """The denial the kernel logs for a request (access, layer masks) a walk denied."""
        access, masks = log
        layer, missing = get_denied_layer(access, masks, self.num_layers)
        return LayerDenial(layer, missing)

    def check_path(self, path: str, access: int) -> Optional[LayerDenial]:
        """current_check_access_path: make_*, remove_*, truncate(2), ..."""
        if not self.applies_to_fs(access):
            return None
        handled, masks = self.init_fs_masks(access)
        _, log, _ = self.walk(path, handled, masks)  # a walk denies what it logs
        return None if log is None else self.denied(log)

    def open_file(self, path: str, open_access: int,
                  is_device: bool) -> Tuple[int, int, Optional[LayerDenial]]:
        """hook_file_open: (rights kept by the open file, deny masks, denial)."""
        if not self.applies_to_fs(ALL_FS):
            return ALL_FS, 0, None
        optional = TRUNCATE | (IOCTL_DEV if is_device else 0)
        full = open_access | optional
        handled, masks = self.init_fs_masks(full)
        allowed, _, _ = self.walk(path, handled, masks)
        if allowed:
            kept = full
        else:
            kept = sum(1 << bit for bit in bits_of(full) if not masks.get(bit, 0))
        deny_masks = get_deny_masks(optional, masks)
        if open_access & kept == open_access:
            return kept, deny_masks, None
        layer, missing = get_denied_layer(open_access, masks, self.num_layers)
        return kept, deny_masks, LayerDenial(layer, missing)

    def collect(self, mount_root: str, directory: str) -> Tuple[bool, LayerMasks]:
        """collect_domain_accesses: walk from ``directory`` up to the mount root."""
        handled, masks = self.init_fs_masks(ALL_FS)
        for current in ancestors(directory):
            if self.unmask(self.fs_rule(current), handled, masks):
                return True, masks
            if current == mount_root:
                break
        return False, masks

    def check_refer(self, old: str, old_kind: str, new: str, new_kind: Optional[str],
                    removable: bool, exchange: bool, mount_root: str = "/",
                    ) -> Tuple[Optional[str], List[Tuple[str, LayerDenial]]]:
        """current_check_refer_path for link (removable False) and rename.

        ``new_kind`` is the kind of an existing destination (None: absent).
        Returns (errno name or None, [(logged directory, denial)]).
        """
        if not self.applies_to_fs(ALL_FS):
            return None, []
        new_dir = posixpath.dirname(new)
        access1 = MAKE_RIGHT[new_kind] if exchange and new_kind else 0
        access2 = MAKE_RIGHT[old_kind]
        if removable:
            access1 |= remove_right(old_kind)
            access2 |= remove_right(new_kind)
        if posixpath.dirname(old) == new_dir:
            handled, masks = self.init_fs_masks(access1 | access2)
            _, log, _ = self.walk(new_dir, handled, masks)  # a walk denies what it logs
            return (None, []) if log is None else ("EACCES", [(new_dir, self.denied(log))])
        access1 |= REFER
        access2 |= REFER
        old_parent = old if old == mount_root else posixpath.dirname(old)
        allowed1, masks1 = self.collect(mount_root, old_parent)
        allowed2, masks2 = self.collect(mount_root, new_dir)
        if allowed1 and allowed2:
            return None, []
        child2 = (new, new_kind == "dir") if exchange else None
        allowed, log1, log2 = self.walk(mount_root, access1, masks1, (old, old_kind == "dir"),
                                        access2, masks2, child2)
        if allowed:
            return None, []
        denials = []
        if log1 is not None:
            denials.append((old_parent, self.denied(log1)))
        if log2 is not None:
            denials.append((new_dir, self.denied(log2)))
        eacces = is_eacces(masks1, access1) or is_eacces(masks2, access2)
        return ("EACCES" if eacces else "EXDEV"), denials

    # -- network -----------------------------------------------------------

    def check_port(self, port: int, access: int) -> Optional[LayerDenial]:
        """TCP bind or connect to ``port``."""
        if not any(layer.handled_net for layer in self.layers):
            return None
        masks: LayerMasks = {}
        handled = 0
        for bit in bits_of(access):
            layers = sum(1 << level for level, layer in enumerate(self.layers)
                         if layer.handled_net >> bit & 1)
            if layers:
                masks[bit] = layers
                handled |= 1 << bit
        if self.unmask(self.port_rules.get(port), handled, masks):
            return None
        return self.denied((handled, masks))

    # -- scopes and ptrace -------------------------------------------------

    def scope_denial(self, scope: int, target_shares: int, target_own: int = 0) -> Optional[int]:
        """The layer charged for an IPC to a target sharing the first
        ``target_shares`` layers (then ``target_own`` layers of its own), or None."""
        handle_layer = next((level for level in reversed(range(self.num_layers))
                             if self.layers[level].scoped & scope), None)
        if handle_layer is None:
            return None
        return handle_layer if self.is_scoped(scope, target_shares, target_own) else None

    def is_scoped(self, scope: int, target_shares: int, target_own: int) -> bool:
        """domain_is_scoped, with hierarchies given by how many layers are shared."""
        client_layer = self.num_layers - 1
        server_layer = target_shares + target_own - 1
        while client_layer > server_layer:
            if self.layers[client_layer].scoped & scope:
                return True
            client_layer -= 1
        while client_layer >= 0:
            if self.layers[client_layer].scoped & scope:
                return client_layer >= target_shares
            client_layer -= 1
        return False

    def ptrace_denial(self, target_shares: int) -> Optional[int]:
        """The tracer's youngest layer when the target is outside its domain."""
        if self.num_layers and target_shares < self.num_layers:
            return self.num_layers - 1
        return None


def no_more_access(masks_parent1: LayerMasks, masks_child1: Optional[LayerMasks],
                   child1_is_dir: bool, masks_parent2: LayerMasks,
                   masks_child2: Optional[LayerMasks], child2_is_dir: bool) -> bool:
    """Is the destination at least as restricted as the source (both ways for an exchange)?"""
    child1 = masks_child1 or {}
    for bit in FS_BITS:
        is_file_access = bool(ACCESS_FILE >> bit & 1)
        parent1 = masks_parent1.get(bit, 0)
        parent2 = masks_parent2.get(bit, 0)
        if child1_is_dir or is_file_access:
            if ((parent1 & child1.get(bit, 0)) | parent2) != parent2:
                return False
        if masks_child2 is None:
            continue
        if child2_is_dir or is_file_access:
            if ((parent2 & masks_child2.get(bit, 0)) | parent1) != parent1:
                return False
    return True


def scope_to_request(access: int, masks: Optional[LayerMasks]) -> bool:
    """Forget the rights not requested; True when nothing requested is denied."""
    if masks is None:
        return True
    for bit in list(masks):
        if not access >> bit & 1:
            masks[bit] = 0
    return not any(masks.values())


def is_eacces(masks: LayerMasks, access: int) -> bool:
    """Is a right other than refer denied (EACCES rather than EXDEV)?"""
    return any(masks.get(bit, 0) for bit in bits_of(access & ~REFER))
