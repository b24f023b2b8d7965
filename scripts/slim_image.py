"""Make the image's Python lean (run by the Dockerfile; docs/BENCHMARKS.md has the sizes).

`venv VENV LOCALES`: in the build stage, on the virtualenv the final stage copies:
- the installers go (pip, setuptools, wheel, pkg_resources): nothing installs at run time;
- Babel's locale data is kept for English, `root` and each language with a catalogue in
  LOCALES (commands/locales): adding a language's .po file and rebuilding keeps working;
- pycountry's translations go (the bot reads country codes only), and test suites that
  wheels ship (pycryptodome's SelfTest, every package's own `tests`/`test` directory:
  icalendar, jsonschema, regex, aiosqlite, ...), Cython and C sources, stubs;
- extension modules lose their debugging symbols (`strip`, when present).

`system`: in the final stage, the base image's own pip and setuptools go too.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
from pathlib import Path

INSTALLERS = ("pip", "setuptools", "wheel", "pkg_resources", "_distutils_hack")
SHIPPED_TESTS = ("Crypto/SelfTest", "pycountry/locales")
# A package's own test suite, one level down (`jsonschema/tests`): never imported at run time.
PACKAGE_TESTS = ("*/tests", "*/test")
# Sources of compiled extensions and type stubs: never read at run time.
BUILD_ONLY = ("*.pyx", "*.pxd", "*.pxi", "*.c", "*.h", "*.pyi")


def remove(path: Path) -> int:
    """Remove a file or tree; its size in bytes."""
    if path.is_dir() and not path.is_symlink():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path)
        return size
    if path.exists() or path.is_symlink():
        size = path.stat().st_size if path.is_file() else 0
        path.unlink()
        return size
    return 0


def drop_installers(site_packages: Path, bin_dir: Path | None) -> int:
    freed = 0
    for name in INSTALLERS:
        freed += remove(site_packages / name)
        for meta in site_packages.glob(f"{name}-*.dist-info"):
            freed += remove(meta)
    freed += remove(site_packages / "distutils-precedence.pth")
    if bin_dir is not None:
        for script in bin_dir.glob("pip*"):
            freed += remove(script)
        for script in bin_dir.glob("wheel*"):
            freed += remove(script)
    return freed


def keep_babel_locales(site_packages: Path, locales: Path) -> int:
    data = site_packages / "babel" / "locale-data"
    if not data.is_dir():
        return 0
    languages = {"en"} | {p.name.split("_")[0] for p in locales.iterdir() if p.is_dir()}
    freed = 0
    for dat in data.glob("*.dat"):
        stem = dat.stem
        if stem == "root" or stem.split("_")[0] in languages:
            continue
        freed += remove(dat)
    return freed


def strip_extensions(root: Path) -> int:
    strip = shutil.which("strip")
    if strip is None:
        return 0
    freed = 0
    for lib in [*root.rglob("*.so"), *root.rglob("*.so.*")]:
        if lib.is_symlink() or not lib.is_file():
            continue
        before = lib.stat().st_size
        done = subprocess.run([strip, "--strip-unneeded", str(lib)], capture_output=True)  # noqa: S603
        if done.returncode == 0:
            freed += before - lib.stat().st_size
    return freed


def slim_venv(venv: Path, locales: Path) -> int:
    [site_packages] = venv.glob("lib/python3*/site-packages")
    freed = drop_installers(site_packages, venv / "bin")
    freed += keep_babel_locales(site_packages, locales)
    for rel in SHIPPED_TESTS:
        freed += remove(site_packages / rel)
    for pattern in PACKAGE_TESTS:
        for path in site_packages.glob(pattern):
            if path.is_dir():
                freed += remove(path)
    for pattern in BUILD_ONLY:
        for path in site_packages.rglob(pattern):
            freed += remove(path)
    freed += strip_extensions(site_packages)
    return freed


def slim_system() -> int:
    freed = 0
    for directory in {*site.getsitepackages(), "/usr/lib/python3/dist-packages"}:
        path = Path(directory)
        if path.is_dir():
            freed += drop_installers(path, None)
    for bin_dir in (Path("/usr/local/bin"), Path("/usr/bin")):
        for script in [*bin_dir.glob("pip"), *bin_dir.glob("pip3*")]:
            freed += remove(script)
    bundled = Path(sys.prefix) / "lib" / f"python3.{sys.version_info.minor}" / "ensurepip"
    freed += remove(bundled / "_bundled")  # wheels ensurepip would reinstall pip from
    freed += remove(Path("/usr/share/python-wheels"))  # Debian's python3-venv keeps them here
    return freed


def main(argv: list[str]) -> int:
    if argv[:1] == ["venv"] and len(argv) == 3:
        freed = slim_venv(Path(argv[1]), Path(argv[2]))
    elif argv == ["system"]:
        freed = slim_system()
    else:
        print("usage: slim_image.py venv VENV LOCALES | system", file=sys.stderr)
        return 2
    print(f"slim_image: {freed / 2**20:.1f} MiB removed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
