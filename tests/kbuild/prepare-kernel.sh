#!/usr/bin/env bash
# Prepare Debian's linux-source-6.12 for out-of-tree (M=) builds of the generated kernel files.
#
# Extracts /usr/src/linux-source-6.12.tar.xz into a cache directory keyed by the package's
# version, configures defconfig + CONFIG_INTEL_TDX_HOST (CONFIG_WERROR=y stays) and runs
# `make prepare modules_prepare`.  A tree whose stamp matches this recipe is reused as is; the
# stamp is written last, so an interrupted run is redone from scratch.  Prints the tree's path.
#
#   TDX_CODEGEN_KERNEL_CACHE   cache directory (default /var/cache/tdx-codegen)
#   TDX_CODEGEN_KERNEL_TARBALL the source tarball (default /usr/src/linux-source-6.12.tar.xz)
set -euo pipefail

package=linux-source-6.12
tarball=${TDX_CODEGEN_KERNEL_TARBALL:-/usr/src/$package.tar.xz}
cache=${TDX_CODEGEN_KERNEL_CACHE:-/var/cache/tdx-codegen}

fail() { echo "prepare-kernel: $*" >&2; exit 1; }

version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null) ||
    fail "$package is not installed (apt-get install $package)"
[[ -f $tarball ]] || fail "$tarball is missing (reinstall $package)"
tree=$cache/linux-6.12-${version//[~:]/_}
stamp=$tree/.tdx-codegen-prepared
# Everything that shapes the tree; a change here prepares it afresh.
config=(-e KVM -e KVM_INTEL -e X86_X2APIC -e CMA -e INTEL_TDX_HOST -d KEXEC -d CRASH_DUMP)
recipe="$package $version: defconfig; scripts/config ${config[*]}; olddefconfig; prepare modules_prepare"

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9                      # one preparation at a time; the others then reuse it

if [[ -f $stamp && $(<"$stamp") == "$recipe" ]]; then
    echo "$tree"
    exit 0
fi

echo "prepare-kernel: preparing $tree ($recipe)" >&2
rm -rf "$tree"
mkdir -p "$tree"
tar -xf "$tarball" -C "$tree" --strip-components=1
make -s -C "$tree" defconfig >&2
"$tree/scripts/config" --file "$tree/.config" "${config[@]}"
make -s -C "$tree" olddefconfig >&2
for option in CONFIG_INTEL_TDX_HOST=y CONFIG_WERROR=y CONFIG_MODULES=y; do
    grep -qx "$option" "$tree/.config" || fail "$tree/.config lacks $option after olddefconfig"
done
make -s -C "$tree" -j"$(nproc)" prepare modules_prepare >&2
echo "$recipe" >"$stamp"
echo "$tree"
