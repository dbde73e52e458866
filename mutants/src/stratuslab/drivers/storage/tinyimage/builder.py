"""`TinyImageBuilder`: a bootable guest made only of Debian packages, cached by its inputs.

The cache key covers the recipe, the package versions APT would fetch and the guest scripts, so a
second build with the same inputs returns the cached files at once, and a new kernel in the
archive makes a new image.  Builds of one cache directory are serialised with a file lock
(several processes may share it).  Implements `stratuslab.core.imagebuild.ImageBuilderPort`.
Imports core, `_process` and this package only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator

from stratuslab.core.errors import DriverError
from stratuslab.core.imagebuild import BuiltImage, ProgressFn
from stratuslab.drivers import _process
from stratuslab.drivers.storage.tinyimage import cpio, debian, kernel, modules, rootfs
from stratuslab.drivers.storage.tinyimage.recipes import Recipe, get_recipe

BUILDER_VERSION = "2"
_EPOCH = 1_000_000_000  # the one mtime of every file in the image (2001-09-09)
_IMAGE_JSON = "image.json"
_VERSIONS_TTL = 600.0  # seconds a resolved set of package versions is reused


def _noop(_step: str, _fraction: float) -> None:
    return None


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def sha1_of(path: str) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class _Inputs:
    recipe: Recipe
    kernel_package: str
    kernel_version: str
    busybox_version: str

    def key(self) -> str:
        doc = {
            "builder": BUILDER_VERSION,
            "recipe": dataclasses.asdict(self.recipe),
            "kernel": [self.kernel_package, self.kernel_version],
            "busybox": [self.recipe.busybox_package, self.busybox_version],
            "guest": {k: hashlib.sha256(v).hexdigest() for k, v in rootfs.guest_file_bytes().items()},
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _prune_debs(debs: str, keep: tuple[str, ...]) -> None:
    """Drop older downloads of the packages just used (a kernel .deb is about 70 MB)."""
    names = {os.path.basename(k).split("_", 1)[0] for k in keep}
    stems = {"linux-image" if n.startswith("linux-image-") else n for n in names}
    for entry in os.listdir(debs):
        path = os.path.join(debs, entry)
        stem = entry.split("_", 1)[0]
        stem = "linux-image" if stem.startswith("linux-image-") else stem
        if entry.endswith(".deb") and stem in stems and path not in keep:
            os.unlink(path)


def _pin_inode_times(tree: str, raw: str, script: str) -> None:
    """Give every inode of the new file system the one build time.

    ``mkfs.ext4 -d`` copies each file's change time, which no one can set; ``debugfs`` can.
    """
    paths = ["/", "/lost+found"]
    for dirpath, dirnames, filenames in os.walk(tree):
        rel = os.path.relpath(dirpath, tree)
        paths += ["/" + os.path.normpath(os.path.join(rel, n)) for n in dirnames + filenames]
    with open(script, "w") as f:
        for path in paths:
            if any(c.isspace() or c == '"' for c in path):
                raise DriverError(f"guest file name {path!r} holds a blank or a quote")
            for field in ("atime", "ctime", "mtime", "crtime"):
                f.write(f"set_inode_field {path} {field} {_EPOCH}\n")
    _process.run(["debugfs", "-w", "-f", script, raw], timeout=300,
                 env={"E2FSPROGS_FAKE_TIME": str(_EPOCH)})


class TinyImageBuilder:
    """Builds recipe images into `cache_dir/<recipe>-<key>/` (kernel, initrd.img, root.qcow2)."""

    def __init__(self, cache_dir: str) -> None:
        self._cache_dir = os.path.abspath(cache_dir)
        self._resolved: dict[str, tuple[float, _Inputs]] = {}

    def build(self, recipe: str, *, progress: ProgressFn | None = None) -> BuiltImage:
        report = progress or _noop
        spec = get_recipe(recipe)
        report("resolving package versions", 0.0)
        inputs = self._inputs(spec)
        os.makedirs(self._cache_dir, exist_ok=True)
        out_dir = os.path.join(self._cache_dir, f"{spec.name}-{inputs.key()}")
        cached = self._load(out_dir)
        if cached is not None:
            report("cached", 1.0)
            return cached
        with _locked(os.path.join(self._cache_dir, f".{spec.name}.lock")):
            cached = self._load(out_dir)  # another process may have built it meanwhile
            if cached is None:
                cached = self._build(inputs, out_dir, report)
        report("done", 1.0)
        return cached

    def latest_cached(self, recipe: str) -> BuiltImage | None:
        """The most recent complete build of `recipe` in the cache, whatever its inputs.

        For callers that must work offline (APT unreachable) and accept an older image.
        """
        spec = get_recipe(recipe)
        if not os.path.isdir(self._cache_dir):
            return None
        dirs = [os.path.join(self._cache_dir, d) for d in os.listdir(self._cache_dir)
                if d.startswith(f"{spec.name}-")]
        for path in sorted(dirs, key=os.path.getmtime, reverse=True):
            image = self._load(path)
            if image is not None:
                return image
        return None

    def _inputs(self, spec: Recipe) -> _Inputs:
        """Package versions from APT, remembered for a few minutes (each query costs seconds)."""
        now = time.monotonic()
        known = self._resolved.get(spec.name)
        if known is not None and now - known[0] < _VERSIONS_TTL:
            return known[1]
        v = debian.resolve(spec.kernel_meta_package, (spec.busybox_package,))
        inputs = _Inputs(spec, v["kernel-package"], v["kernel"], v[spec.busybox_package])
        self._resolved[spec.name] = (now, inputs)
        return inputs

    def _load(self, out_dir: str) -> BuiltImage | None:
        try:
            with open(os.path.join(out_dir, _IMAGE_JSON)) as f:
                image = BuiltImage(**json.load(f))
        except (OSError, ValueError, TypeError):
            return None
        files = [image.path, image.kernel, image.initrd]
        return image if all(p is None or os.path.isfile(p) for p in files) else None

    def _build(self, inputs: _Inputs, out_dir: str, report: ProgressFn) -> BuiltImage:
        spec = inputs.recipe
        debs = os.path.join(self._cache_dir, "debs")
        with tempfile.TemporaryDirectory(dir=self._cache_dir, prefix=".build-") as work:
            report(f"downloading {inputs.kernel_package} {inputs.kernel_version}", 0.05)
            kdeb = debian.download(inputs.kernel_package, inputs.kernel_version, debs)
            bdeb = debian.download(spec.busybox_package, inputs.busybox_version, debs)
            report("unpacking packages", 0.3)
            pkgroot = os.path.join(work, "pkg")
            debian.unpack(kdeb, pkgroot)
            debian.unpack(bdeb, pkgroot)
            release = debian.kernel_release(inputs.kernel_package)
            report("resolving kernel modules", 0.45)
            tree = os.path.join(work, "root")
            self._assemble(tree, pkgroot, release, spec)
            stage = os.path.join(work, "out")
            os.makedirs(stage)
            report("packing the initramfs", 0.55)
            cpio.write_initramfs(tree, os.path.join(stage, "initrd.img"), mtime=_EPOCH)
            report("preparing the kernel", 0.7)
            kernel_name = self._kernel(pkgroot, release, spec, stage)
            report("making the root disk", 0.8)
            self._root_disk(tree, spec, inputs.key(), stage)
            image = self._describe(out_dir, stage, kernel_name, spec)
            with open(os.path.join(stage, _IMAGE_JSON), "w") as f:
                json.dump(dataclasses.asdict(image), f, indent=2, sort_keys=True)
            shutil.rmtree(out_dir, ignore_errors=True)
            os.rename(stage, out_dir)
        _prune_debs(debs, keep=(kdeb, bdeb))
        return image

    def _assemble(self, tree: str, pkgroot: str, release: str, spec: Recipe) -> None:
        moddir = os.path.join(pkgroot, "lib/modules", release)
        if not os.path.isdir(moddir):
            raise DriverError(f"kernel package {release} ships no /lib/modules/{release}")
        if not os.path.exists(os.path.join(moddir, "modules.dep")):
            _process.run(["depmod", "-b", pkgroot, release], timeout=120)

        def text(name: str) -> str:
            try:
                with open(os.path.join(moddir, name)) as f:
                    return f.read()
            except FileNotFoundError:
                return ""

        index = modules.ModuleIndex.parse(
            text("modules.dep"), text("modules.alias"), text("modules.softdep"),
            text("modules.builtin"),
        )
        files = modules.resolve(index, spec.modules)
        rootfs.install_guest_files(tree)
        rootfs.install_busybox(tree, os.path.join(pkgroot, "bin/busybox"))
        rootfs.install_modules(tree, moddir, release, files)
        rootfs.fix_times(tree, _EPOCH)

    def _kernel(self, pkgroot: str, release: str, spec: Recipe, stage: str) -> str:
        vmlinuz = os.path.join(pkgroot, "boot", f"vmlinuz-{release}")
        with open(vmlinuz, "rb") as f:
            data = f.read()
        if spec.kernel_format == "vmlinux":
            data = kernel.extract_vmlinux(data, name=vmlinuz)
        name = spec.kernel_format
        with open(os.path.join(stage, name), "wb") as f:
            f.write(data)
        return name

    def _root_disk(self, tree: str, spec: Recipe, key: str, stage: str) -> None:
        raw = os.path.join(stage, "root.raw")
        uuid = f"{key[:8]}-{key[8:12]}-4{key[13:16]}-8{key[1:4]}-{key[4:16]}"
        _process.run(
            ["mkfs.ext4", "-q", "-F", "-L", spec.root_label, "-U", uuid,
             "-E", f"root_owner=0:0,hash_seed={uuid}", "-d", tree, raw, f"{spec.root_size_mib}M"],
            timeout=120,
            env={"E2FSPROGS_FAKE_TIME": str(_EPOCH)},
        )
        _pin_inode_times(tree, raw, os.path.join(stage, "debugfs.cmds"))
        _process.run(
            ["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw,
             os.path.join(stage, "root.qcow2")],
            timeout=120,
        )
        os.unlink(raw)
        os.unlink(os.path.join(stage, "debugfs.cmds"))

    def _describe(self, out_dir: str, stage: str, kernel_name: str, spec: Recipe) -> BuiltImage:
        staged_disk = os.path.join(stage, "root.qcow2")
        return BuiltImage(
            path=os.path.join(out_dir, "root.qcow2"),
            format="qcow2",
            size_bytes=os.path.getsize(staged_disk),
            sha1=sha1_of(staged_disk),
            kernel=os.path.join(out_dir, kernel_name),
            initrd=os.path.join(out_dir, "initrd.img"),
            cmdline=f"{spec.cmdline} root=LABEL={spec.root_label} rw",
        )
